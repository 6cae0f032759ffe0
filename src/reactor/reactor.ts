/**
 * A live reactor: the input cache of its sources, their dirty flags, the sequential queue, and
 * the loop that fires its graphs.
 *
 * - `latest`: a boundary overwrites its source's cache slot and sets its dirty flag. When the
 *   criterion holds (`when_any`: some flag set; `when_all`: every flag set) a firing takes a
 *   snapshot of the cache and clears the flags in the same synchronous step, so no update can
 *   fall between them. Boundaries that arrive during a firing collapse into one next firing.
 * - `sequential`: every boundary is queued (bounded and fair across sources, see
 *   `boundary-queue.ts`) and fires once, in arrival order, with the cache as it is after
 *   applying it. Under `when_all`, boundaries that arrive before every source has delivered
 *   once are applied without firing.
 * - Batches (`sequential`, one graph on the pool, measured light): when boundaries wait, up to
 *   a batch of them is sent to one worker in one message and fired there one after another,
 *   each as a whole traversal on its own snapshot, saving a round trip per firing. They stay at
 *   the head of the queue until each has fired; records, `consumed` watermarks and counters
 *   follow per firing, in order. A pause, a manual command or health turning bad stops the
 *   batch before its next firing; what did not fire stays queued and the cache goes back to the
 *   state after the last boundary that did.
 * - Firings never overlap. All graphs bound to the reactor run concurrently on one snapshot,
 *   each with its own fire record; the firing ends when all of them have.
 * - Manual commands (`forceFire`, `fireWith`) go before queued boundaries. While paused nothing
 *   fires: commands resolve without firing, boundaries keep arriving, and `resume()` fires at
 *   once if the criterion holds or the queue is not empty. Nothing fires before the reactor is
 *   `live` (or `degraded`); what arrives meanwhile is kept.
 *
 * The firing loop is a small state machine (`ReactorLoop`):
 *
 *     idle ──(latest boundary)──► collapsing ──(microtask)──► pumping
 *     idle ──(sequential boundary, command, resume, health)──► pumping
 *     pumping ──(a firing completed synchronously)──► pumping
 *     pumping ──(a firing waits on a node)──► firing ──(it completes)──► pumping
 *     pumping ──(a batch of boundaries goes to a worker)──► firing ──(it is answered)──► pumping
 *     pumping ──(256 firings in a row)──► yielding ──(setImmediate)──► pumping
 *     pumping ──(nothing to fire)──► idle
 *
 * `collapsing` lets a synchronous burst of pushes under `latest` fire once instead of once per
 * push; `yielding` keeps a long synchronous drain (inline graphs of synchronous nodes) from
 * starving I/O and timers. In every state but `idle` a new boundary or command is only
 * recorded: the loop picks it up.
 */
import { performance } from 'node:perf_hooks';
import type { FiringsListener } from '../exec/firing-batch.js';
import type { GraphResult, RunCallback, RunOptions } from '../exec/graph-run.js';
import { graphInternals, type ComputationGraph, type GraphInternals } from '../graph/computation-graph.js';
import type { PoolBinding } from '../exec/pool-binding.js';
import { StateError } from '../model/errors.js';
import { ReactorHealth } from '../model/health.js';
import { InputStrategy, ReactionMode, type ReactorDeclaration } from '../model/reactor-declaration.js';
import { setOwn } from '../model/own-properties.js';
import { BoundaryQueue, type QueuedBoundary } from './boundary-queue.js';

export type { QueuedBoundary } from './boundary-queue.js';

/** What one graph did in one firing (the payload of the runtime's `fire` event). */
export interface FireRecord {
  readonly reactor: string;
  readonly graph: string;
  readonly ok: boolean;
  /** The graph's outputs (terminal name to value), when it succeeded. */
  readonly outputs?: Record<string, unknown>;
  /** Why it failed (a `GraphExecutionError`), when it did. */
  readonly error?: unknown;
  /** True for `forceFire` and `fireWith`. */
  readonly manual: boolean;
  /** The cache snapshot the graph ran on. */
  readonly inputs: Record<string, unknown>;
  readonly durationMs: number;
  /** Epoch milliseconds when the firing started. */
  readonly firedAt: number;
}

/** What `reactor.getState()` returns. */
export interface ReactorState {
  /** Source name to its current value. */
  readonly cache: Record<string, unknown>;
  /** Source name to whether it delivered since the last firing. */
  readonly dirty: Record<string, boolean>;
  readonly paused: boolean;
  /** Boundaries waiting to fire (sequential). */
  readonly queued: number;
  readonly health: ReactorHealth;
}

/** What a checkpoint keeps of a reactor besides its queue. */
export interface ReactorSnapshot {
  readonly cache: Record<string, unknown>;
  readonly dirty: Record<string, boolean>;
  readonly paused: boolean;
}

/** The states of a reactor's firing loop (see the module comment). */
export const ReactorLoop = {
  Idle: 'idle',
  Collapsing: 'collapsing',
  Pumping: 'pumping',
  Firing: 'firing',
  Yielding: 'yielding',
} as const;
export type ReactorLoop = (typeof ReactorLoop)[keyof typeof ReactorLoop];

const kTransitions: Readonly<Record<ReactorLoop, readonly ReactorLoop[]>> = {
  idle: ['collapsing', 'pumping'],
  collapsing: ['pumping'],
  pumping: ['firing', 'yielding', 'idle'],
  firing: ['pumping'],
  yielding: ['pumping'],
};

/** What the runtime does around a reactor's firings. */
export interface ReactorHooks {
  /** Most boundaries a sequential queue holds. */
  readonly queueCapacity: number;
  /**
   * True when something reads every fire record (a `fire` listener, a feedback graph). Asked
   * once per firing (once per batch); when neither this nor {@link sampling} holds (and no
   * manual command waits), no record is built and no clock read.
   */
  observing(reactor: Reactor): boolean;
  /**
   * Whether this firing is timed for the metrics (a sample of the firings under load). Asked
   * once per firing, before {@link starting}; once per batch, whose first firing is then timed.
   */
  sampling(reactor: Reactor): boolean;
  /**
   * Each graph's record, as soon as that graph finishes: every one while `observing` or
   * `sampling`, and every failure (untimed when neither held: its end as `firedAt`, `durationMs`
   * NaN).
   */
  recorded(reactor: Reactor, record: FireRecord): void;
  /** A firing ended (every graph finished); `ok` when every graph succeeded. */
  fired(reactor: Reactor, ok: boolean): void;
  /** A sequential boundary was queued. */
  accepted(reactor: Reactor, boundary: QueuedBoundary): void;
  /** Sequential boundaries up to `seq` are done (fired, or applied without firing). */
  consumed(reactor: Reactor, seq: number): void;
  /** The cache, the dirty flags or the paused flag changed. */
  changed(reactor: Reactor): void;
  /** A batch of firings stopped before all of them fired: the loop moves on (to idle, often) without a firing. */
  stopped(reactor: Reactor): void;
  /** The queue, after refusing a boundary, has room again. */
  room(reactor: Reactor): void;
  /**
   * A graph's run is about to start for a firing (`seq` its sequential boundary, or -1): the
   * options to run it with (the runtime's metrics and tracing observer), or undefined.
   */
  starting(reactor: Reactor, graph: ComputationGraph, seq: number, manual: boolean): RunOptions | undefined;
  /**
   * Whether queued firings may run in batches in a worker. Not while firings are traced: a
   * batched firing runs as a whole in the worker, without a span per node.
   */
  batchable(reactor: Reactor): boolean;
  /** The node durations (ms, per plan node, NaN when it did not run) of a batch's first firing, when sampled. */
  timed(reactor: Reactor, graph: ComputationGraph, nodeDurations: Float64Array): void;
}

/** What a reactor knows of one of its sources. */
interface SourceState {
  dirty: boolean;
  delivered: boolean;
}

/** A firing waiting for its turn: from a boundary or a manual command. */
interface Firing {
  readonly snapshot: Record<string, unknown>;
  readonly manual: boolean;
  /** The sequential boundary it fires, or -1. */
  readonly seq: number;
  readonly resolve?: (record: FireRecord | undefined) => void;
}

/** Firings run back to back before the loop yields to the event loop. */
const kBatch = 256;

/**
 * Queued boundaries of a sequential reactor firing in one worker, one after another (see
 * `#startBatch`). They stay at the head of the queue until each has fired.
 */
interface FiringBatch {
  /** Its boundaries, in order (also still at the head of the queue until each has fired). */
  readonly boundaries: readonly QueuedBoundary[];
  /** The cache before the batch's first boundary: what it goes back to if none of them fires. */
  readonly before: Record<string, unknown>;
  /**
   * `before` with the first `applied` boundaries applied: a firing's snapshot is made from it
   * when its record is reported, so nothing per firing is kept while the batch is in the worker.
   */
  readonly cursor: Record<string, unknown>;
  applied: number;
  /** Firings that have ended. */
  done: number;
  /** `fireWith` replaced the cache meanwhile: the new cache stays, whatever ran. */
  replaced: boolean;
  /** Every firing's record is read (asked once per batch). */
  readonly observed: boolean;
  /** Its first firing is timed, nodes included, for the metrics. */
  readonly sampled: boolean;
}

export class Reactor {
  readonly declaration: ReactorDeclaration;
  readonly graphs: ComputationGraph[] = [];
  health: ReactorHealth = ReactorHealth.Starting;
  /** Completed firings and failed graph runs, for status lines. */
  fires = 0;
  failures = 0;
  /** Per bound graph (by its index in `graphs`): its runs, and those that failed. */
  readonly graphRuns: number[] = [];
  readonly graphFailures: number[] = [];
  /** Firings that ran in a batch (several queued boundaries fired in one worker). */
  batched = 0;
  readonly #hooks: ReactorHooks;
  readonly #sequential: boolean;
  #paused = false;
  #loop: ReactorLoop = ReactorLoop.Idle;
  /** A plain object (its spread is a fast copy); `__proto__` is written as an own property. */
  #cache: Record<string, unknown> = {};
  /**
   * Per declared source, in declaration order: its dirty flag, and whether it has a value in the
   * cache (the when_all gate of `sequential`). One lookup per boundary reads and sets both.
   */
  readonly #sources = new Map<string, SourceState>();
  /** Sources whose dirty flag is set, and sources delivered. */
  #dirtyCount = 0;
  #deliveredCount = 0;
  readonly #queue: BoundaryQueue;
  #nextSeq = 0;
  #commands: Array<(record: FireRecord | undefined) => void> = [];
  // The firing in progress. Firings never overlap, so its state lives here rather than in an
  // object and closures per firing.
  #firing: Firing | null = null;
  #pendingGraphs = 0;
  #firingOk = true;
  #firstRecord: FireRecord | undefined = undefined;
  /** This firing builds records; `#started` and `#firedAt` are read only then. */
  #observed = false;
  #started = 0;
  #firedAt = 0;
  /** True while `#fire` is starting the graphs: a completion then returns to it, not to the loop. */
  #starting = false;
  /** Per bound graph, how to run it and its completion callback, made on the first firing. */
  #runs: Array<GraphInternals['run']> = [];
  #callbacks: RunCallback[] = [];
  /** The pool binding of the one graph (`#batching`), and the graph it was read from. */
  #binding: PoolBinding | null = null;
  #bindingOf: ComputationGraph | null = null;
  /**
   * The batch of firings in flight (or being reported), the one sent while its records are
   * reported (`#batchAnswered`), and the cell that stops them before their next firing.
   */
  #batch: FiringBatch | null = null;
  #nextBatch: FiringBatch | null = null;
  #control: Int32Array | null = null;
  /** True while `#startBatch` hands a batch over: its end then returns there, not to the loop. */
  #batchStarting = false;
  readonly #batchListener: FiringsListener = {
    answered: (ran) => this.#batchAnswered(ran),
    fired: (k, error, outputs, firedAt, durationMs, nodeDurations) =>
      this.#batchFired(k, error, outputs, firedAt, durationMs, nodeDurations),
    ended: (ran) => this.#batchEnded(ran),
  };

  constructor(declaration: ReactorDeclaration, hooks: ReactorHooks) {
    this.declaration = declaration;
    this.#hooks = hooks;
    this.#sequential = declaration.strategy === InputStrategy.Sequential;
    this.#queue = new BoundaryQueue(hooks.queueCapacity, () => hooks.room(this));
    for (const source of declaration.accumulators) this.#sources.set(source, { dirty: false, delivered: false });
  }

  /** Binds a graph: every firing runs it (in the order graphs were bound). */
  bind(graph: ComputationGraph): void {
    this.graphs.push(graph);
    this.graphRuns.push(0);
    this.graphFailures.push(0);
  }

  get name(): string {
    return this.declaration.name;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Where the firing loop is. */
  get loop(): ReactorLoop {
    return this.#loop;
  }

  /** Boundaries waiting in the sequential queue (a batch's boundaries wait until they fire). */
  get queued(): number {
    const batch = this.#batch;
    const firing = batch !== null && (batch.done < batch.boundaries.length || this.#nextBatch !== null);
    return firing ? this.#queue.size - 1 : this.#queue.size;
  }

  /** True while a boundary of `source` would be accepted (always, under `latest`). */
  hasRoom(source: string): boolean {
    return !this.#sequential || this.#queue.hasRoomFor(source);
  }

  /** True when nothing would fire now by itself: the loop is idle and nothing runnable waits. */
  quiescent(): boolean {
    return this.#loop === ReactorLoop.Idle && (this.#paused || !this.#canFire() || !this.#hasWork());
  }

  /** Restores checkpointed state before start. */
  restore(snapshot: ReactorSnapshot, queue: readonly QueuedBoundary[]): void {
    for (const source of Object.keys(snapshot.cache)) {
      setOwn(this.#cache, source, snapshot.cache[source]);
      this.#markDelivered(source);
    }
    for (const [source, flag] of Object.entries(snapshot.dirty)) if (flag) this.#markDirty(source);
    this.#paused = snapshot.paused;
    for (const boundary of queue) this.#queue.push(boundary);
    if (queue.length > 0) this.#nextSeq = queue[queue.length - 1]!.seq + 1;
  }

  /** Moves health; firing starts (or resumes) once live or degraded. */
  setHealth(health: ReactorHealth): void {
    this.health = health;
    if (!this.#canFire()) this.#interrupt();
    this.#kick();
  }

  /**
   * A boundary from one of the reactor's accumulators (admission was checked with
   * {@link hasRoom}). Under `latest` the firing it may cause waits for the end of the current
   * synchronous job, so a burst collapses into one firing; under `sequential`, where every
   * boundary fires anyway, the loop starts at once.
   */
  deliver(source: string, value: unknown): void {
    if (!this.#sequential) {
      setOwn(this.#cache, source, value);
      const state = this.#sources.get(source)!;
      if (!state.delivered) this.#markDelivered(source);
      if (!state.dirty) this.#markDirty(source);
      this.#hooks.changed(this);
      if (this.#loop === ReactorLoop.Idle) {
        this.#to(ReactorLoop.Collapsing);
        queueMicrotask(this.#afterCollapse);
      }
      return;
    }
    const boundary = { seq: this.#nextSeq++, source, value };
    this.#queue.push(boundary);
    this.#hooks.accepted(this, boundary);
    this.#kick();
  }

  /** Fires once with the current cache; resolves to the first graph's record, or undefined when paused. */
  forceFire(): Promise<FireRecord | undefined> {
    if (this.#paused) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#commands.push(resolve);
      // Commands go before queued boundaries: a batch in flight stops at its next firing.
      this.#interrupt();
      this.#kick();
    });
  }

  /** Replaces the whole cache, then fires once (unless paused: then only the cache is replaced). */
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    const next: Record<string, unknown> = {};
    for (const source of Object.keys(cache)) {
      setOwn(next, source, cache[source]);
      this.#markDelivered(source);
    }
    this.#cache = next;
    if (this.#batch !== null) this.#batch.replaced = true;
    if (this.#nextBatch !== null) this.#nextBatch.replaced = true;
    this.#hooks.changed(this);
    return this.forceFire();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#interrupt();
    this.#hooks.changed(this);
    const commands = this.#commands;
    this.#commands = [];
    for (const resolve of commands) resolve(undefined);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#hooks.changed(this);
    this.#kick();
  }

  getState(): ReactorState {
    return {
      cache: { ...this.#visibleCache() },
      dirty: this.#dirtyFlags(),
      paused: this.#paused,
      queued: this.queued,
      health: this.health,
    };
  }

  /** What a checkpoint stores besides the queue. */
  snapshot(): ReactorSnapshot {
    return { cache: { ...this.#visibleCache() }, dirty: this.#dirtyFlags(), paused: this.#paused };
  }

  /**
   * The cache as of the firing in progress. While a batch is in flight the cache already holds
   * all of its boundaries; what is shown and checkpointed is the state after the boundary firing
   * now, so a restart replaying the queued boundaries from there gives each the same snapshot.
   */
  #visibleCache(): Record<string, unknown> {
    let batch = this.#batch;
    if (batch === null || batch.replaced) return this.#cache;
    if (batch.done === batch.boundaries.length && this.#nextBatch !== null) batch = this.#nextBatch;
    return stateAfter(batch, Math.min(batch.done + 1, batch.boundaries.length));
  }

  #to(next: ReactorLoop): void {
    if (!kTransitions[this.#loop].includes(next)) {
      throw new StateError(
        `reactor '${this.name}'`,
        this.#loop,
        `reactor '${this.name}': no transition ${this.#loop} -> ${next}`,
      );
    }
    this.#loop = next;
  }

  /** Starts the loop if it is idle; otherwise the running loop picks up the new work. */
  #kick(): void {
    if (this.#loop !== ReactorLoop.Idle) return;
    this.#to(ReactorLoop.Pumping);
    this.#pump();
  }

  readonly #afterCollapse = (): void => {
    this.#to(ReactorLoop.Pumping);
    this.#pump();
  };

  readonly #afterYield = (): void => {
    this.#to(ReactorLoop.Pumping);
    this.#pump();
  };

  #canFire(): boolean {
    return this.health === ReactorHealth.Live || this.health === ReactorHealth.Degraded;
  }

  #hasWork(): boolean {
    if (this.#commands.length > 0) return true;
    if (this.#sequential) return this.#queue.size > 0;
    return this.#criterionHolds();
  }

  #criterionHolds(): boolean {
    if (this.declaration.mode === ReactionMode.WhenAll) {
      return this.#sources.size > 0 && this.#dirtyCount === this.#sources.size;
    }
    return this.#dirtyCount > 0;
  }

  /** Source name to its dirty flag, in declaration order. */
  #dirtyFlags(): Record<string, boolean> {
    const flags: Record<string, boolean> = {};
    for (const [source, state] of this.#sources) setOwn(flags, source, state.dirty);
    return flags;
  }

  /** Sets a declared source's dirty flag (ignores any other name). */
  #markDirty(source: string): void {
    const state = this.#sources.get(source);
    if (state === undefined || state.dirty) return;
    state.dirty = true;
    this.#dirtyCount++;
  }

  /** Notes that a declared source has a value in the cache (ignores any other name). */
  #markDelivered(source: string): void {
    const state = this.#sources.get(source);
    if (state === undefined || state.delivered) return;
    state.delivered = true;
    this.#deliveredCount++;
  }

  #clearDirty(): void {
    if (this.#dirtyCount === 0) return;
    this.#dirtyCount = 0;
    for (const state of this.#sources.values()) state.dirty = false;
  }

  /** The next firing to run, or null; applies sequential boundaries on the way. */
  #take(): Firing | null {
    if (this.#paused || !this.#canFire()) return null;
    const command = this.#commands.shift();
    if (command !== undefined) {
      this.#clearDirty();
      this.#hooks.changed(this);
      return { snapshot: { ...this.#cache }, manual: true, seq: -1, resolve: command };
    }
    if (!this.#sequential) {
      if (!this.#criterionHolds()) return null;
      this.#clearDirty();
      this.#hooks.changed(this);
      return { snapshot: { ...this.#cache }, manual: false, seq: -1 };
    }
    const sources = this.#sources.size;
    for (let boundary = this.#queue.shift(); boundary !== undefined; boundary = this.#queue.shift()) {
      setOwn(this.#cache, boundary.source, boundary.value);
      if (this.#deliveredCount < sources) this.#markDelivered(boundary.source);
      const gated = this.declaration.mode === ReactionMode.WhenAll && this.#deliveredCount < sources;
      if (gated) {
        this.#markDirty(boundary.source);
        this.#hooks.consumed(this, boundary.seq);
        continue;
      }
      // The boundary's own flag would be set and cleared with the others at once.
      this.#clearDirty();
      return { snapshot: { ...this.#cache }, manual: false, seq: boundary.seq };
    }
    return null;
  }

  /** The `pumping` state: fires what there is, up to a batch, then idles, waits or yields. */
  #pump(): void {
    for (let budget = kBatch; budget > 0; budget--) {
      if (this.#queue.size >= 2 && this.#startBatch(0)) return; // `firing`: the batch's end resumes the loop
      const firing = this.#take();
      if (firing === null) {
        this.#to(ReactorLoop.Idle);
        return;
      }
      if (!this.#fire(firing)) return; // `firing`: its completion resumes the loop
    }
    this.#to(ReactorLoop.Yielding);
    setImmediate(this.#afterYield);
  }

  /**
   * Runs every graph on the snapshot. Returns true when all of them completed synchronously;
   * otherwise moves to `firing` and resumes the loop when the last one completes.
   */
  #fire(firing: Firing): boolean {
    const graphs = this.graphs;
    if (this.#runs.length !== graphs.length) {
      this.#runs = graphs.map((graph) => graphInternals(graph).run);
      this.#callbacks = graphs.map(
        (_, g): RunCallback =>
          (error, result) =>
            this.#graphDone(g, error, result),
      );
    }
    this.#firing = firing;
    this.#pendingGraphs = graphs.length;
    this.#firingOk = true;
    this.#firstRecord = undefined;
    // Sampling is asked first: it decides whether this firing's nodes are timed (see starting()).
    const sampled = this.#hooks.sampling(this);
    this.#observed = sampled || firing.resolve !== undefined || this.#hooks.observing(this);
    if (this.#observed) {
      this.#started = performance.now();
      // The clock every thread shares (a batch's firings are timed on it in their worker).
      this.#firedAt = Math.floor(performance.timeOrigin + this.#started);
    }
    if (graphs.length === 0) {
      this.#finish();
      return true;
    }
    this.#starting = true;
    for (let g = 0; g < graphs.length; g++) {
      this.#runs[g]!(
        firing.snapshot,
        this.#hooks.starting(this, graphs[g]!, firing.seq, firing.manual),
        this.#callbacks[g]!,
      );
    }
    this.#starting = false;
    if (this.#firing === null) return true;
    this.#to(ReactorLoop.Firing);
    return false;
  }

  /** Graph `g` of the firing in progress completed. */
  #graphDone(g: number, error: unknown, result: GraphResult | undefined): void {
    this.graphRuns[g]!++;
    if (result === undefined) {
      this.#firingOk = false;
      this.failures++;
      this.graphFailures[g]!++;
    }
    // A failure is always recorded; a firing nobody timed has its end as its time, no duration.
    if (this.#observed || result === undefined) {
      const firing = this.#firing!;
      const now = performance.now();
      const timed = this.#observed;
      const durationMs = timed ? now - this.#started : Number.NaN;
      const firedAt = timed ? this.#firedAt : Math.floor(performance.timeOrigin + now);
      const graph = this.graphs[g]!.name;
      const record: FireRecord =
        result === undefined
          ? {
              reactor: this.name,
              graph,
              manual: firing.manual,
              inputs: firing.snapshot,
              ok: false,
              error,
              durationMs,
              firedAt,
            }
          : {
              reactor: this.name,
              graph,
              manual: firing.manual,
              inputs: firing.snapshot,
              ok: true,
              outputs: result.outputs,
              durationMs,
              firedAt,
            };
      if (g === 0) this.#firstRecord = record;
      this.#hooks.recorded(this, record);
    }
    if (--this.#pendingGraphs > 0) return;
    this.#finish();
    if (!this.#starting) {
      this.#to(ReactorLoop.Pumping);
      this.#pump();
    }
  }

  /** True for a reactor whose firings may go in batches: sequential, one graph, on the pool. */
  #batching(): boolean {
    if (!this.#sequential || this.graphs.length !== 1 || !this.#hooks.batchable(this)) return false;
    if (this.#bindingOf !== this.graphs[0]) {
      this.#bindingOf = this.graphs[0]!;
      this.#binding = graphInternals(this.#bindingOf).binding;
    }
    return this.#binding !== null;
  }

  /** A batch in flight stops before its next firing (pause, a manual command, health). */
  #interrupt(): void {
    if (this.#batch !== null) Atomics.store(this.#control!, 0, 1);
  }

  /**
   * Fires queued boundaries as one batch in a worker when it pays: a sequential reactor with one
   * graph on the pool, nothing to put first (a command, a pause, bad health), no boundary that
   * could be gated, and a graph light enough (`firingLimit`). It takes the boundaries from queue
   * position `from` on (those before it belong to the batch being reported); each is applied to
   * the cache in order and taken with its own snapshot, and stays queued until it has fired.
   * True when the batch went (`firing`).
   */
  #startBatch(from: number): boolean {
    if (this.#queue.size <= from || !this.#batching()) return false;
    if (this.#paused || !this.#canFire() || this.#commands.length > 0) return false;
    if (this.declaration.mode === ReactionMode.WhenAll && this.#deliveredCount < this.#sources.size) return false;
    const binding = this.#binding!;
    const max = binding.firingLimit();
    if (max < 2) return false;
    const limit = Math.min(this.#queue.size - from, max);
    const before = { ...this.#cache };
    const boundaries = new Array<QueuedBoundary>(limit);
    for (let i = 0; i < limit; i++) {
      const boundary = this.#queue.peek(from + i)!;
      setOwn(this.#cache, boundary.source, boundary.value);
      boundaries[i] = boundary;
    }
    this.#clearDirty();
    const control = (this.#control ??= new Int32Array(new SharedArrayBuffer(8)));
    Atomics.store(control, 0, 0);
    const cursor = { ...before };
    const sampled = this.#hooks.sampling(this);
    const observed = this.#hooks.observing(this);
    const batch: FiringBatch = { boundaries, before, cursor, applied: 0, done: 0, replaced: false, observed, sampled };
    if (from === 0) this.#batch = batch;
    else this.#nextBatch = batch;
    this.#batchStarting = true;
    const sent = binding.runFirings(before, boundaries, control, this.#batchListener, sampled);
    this.#batchStarting = false;
    if (!sent) {
      if (from === 0) this.#batch = null;
      else this.#nextBatch = null;
      this.#cache = before;
      return false;
    }
    if (this.#batch === null) return false; // it ended already (the pool was closed)
    if (from === 0) this.#to(ReactorLoop.Firing);
    return true;
  }

  /**
   * The batch in flight was answered, before its records are reported: when every one of its
   * firings ran and nothing asked to stop, the next batch goes to the worker now, so the worker
   * runs it while this thread reports these.
   */
  #batchAnswered(ran: number): void {
    const batch = this.#batch!;
    if (ran < batch.boundaries.length || Atomics.load(this.#control!, 0) !== 0) return;
    this.#startBatch(batch.boundaries.length);
  }

  /** Firing `k` of the batch in flight ended; `outputs(k)` reads its outputs when it succeeded. */
  #batchFired(
    k: number,
    error: unknown,
    outputs: ((k: number) => Record<string, unknown>) | undefined,
    firedAt: number,
    durationMs: number,
    nodeDurations: Float64Array | undefined,
  ): void {
    const batch = this.#batch!;
    const boundary = batch.boundaries[k]!;
    const ok = error === undefined;
    const sampled = batch.sampled && k === 0;
    if (sampled && nodeDurations !== undefined) this.#hooks.timed(this, this.graphs[0]!, nodeDurations);
    this.graphRuns[0]!++;
    if (!ok) {
      this.failures++;
      this.graphFailures[0]!++;
    }
    // Timed where it ran, so a failure is recorded like any observed firing.
    if (batch.observed || sampled || !ok) {
      const graph = this.graphs[0]!.name;
      // The cursor catches up only when a record needs it: nothing per firing otherwise.
      for (; batch.applied <= k; batch.applied++) {
        setOwn(batch.cursor, batch.boundaries[batch.applied]!.source, batch.boundaries[batch.applied]!.value);
      }
      const inputs = { ...batch.cursor };
      this.#hooks.recorded(
        this,
        ok
          ? { reactor: this.name, graph, manual: false, inputs, ok, outputs: outputs!(k), durationMs, firedAt }
          : { reactor: this.name, graph, manual: false, inputs, ok, error, durationMs, firedAt },
      );
    }
    batch.done = k + 1;
    this.#queue.shift(); // its boundary, at the head of the queue, has fired
    this.fires++;
    this.batched++;
    this.#hooks.consumed(this, boundary.seq);
    this.#hooks.fired(this, ok);
  }

  /** The batch in flight is over; firings from `ran` on did not run and their boundaries stay queued. */
  #batchEnded(ran: number): void {
    const batch = this.#batch!;
    this.#batch = this.#nextBatch;
    this.#nextBatch = null;
    if (this.#batch !== null) return; // the next one is in flight: `firing` goes on
    if (ran < batch.boundaries.length) {
      // Back to the state after the last boundary that fired (unless fireWith replaced it).
      if (!batch.replaced) this.#cache = stateAfter(batch, ran);
      this.#hooks.changed(this);
      this.#hooks.stopped(this);
    }
    if (this.#batchStarting) return;
    this.#to(ReactorLoop.Pumping);
    this.#pump();
  }

  /** Every graph of the firing in progress completed. */
  #finish(): void {
    const firing = this.#firing!;
    this.#firing = null;
    this.fires++;
    if (firing.seq >= 0) this.#hooks.consumed(this, firing.seq);
    this.#hooks.fired(this, this.#firingOk);
    firing.resolve?.(this.#firstRecord);
  }
}

/** A new object: the cache before `batch` with its first `count` boundaries applied. */
function stateAfter(batch: FiringBatch, count: number): Record<string, unknown> {
  const state = { ...batch.before };
  for (let i = 0; i < count; i++) setOwn(state, batch.boundaries[i]!.source, batch.boundaries[i]!.value);
  return state;
}
