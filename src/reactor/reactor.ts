/**
 * A live reactor: it holds the input cache of its sources (`input-cache.ts`), the sequential
 * queue (`boundary-queue.ts`), and the loop that fires its graphs (`reactor-loop.ts`).
 *
 * - `latest`: a boundary overwrites its source's cache slot and sets its dirty flag. When the
 *   criterion holds a firing takes a snapshot of the cache and clears the flags in the same
 *   synchronous step. Boundaries that arrive during a firing collapse into one next firing.
 * - `sequential`: every boundary is queued (bounded and fair across sources) and fires once, in
 *   arrival order, with the cache as it is after applying it. Light firings of one graph on the
 *   pool go to a worker in batches (`firing-batches.ts`).
 * - Firings never overlap. All graphs bound to the reactor run concurrently on one snapshot,
 *   each with its own fire record; the firing ends when all of them have.
 * - Manual commands (`forceFire`, `fireWith`) go before queued boundaries. While paused nothing
 *   fires: commands resolve without firing, boundaries keep arriving, and `resume()` fires at
 *   once if the criterion holds or the queue is not empty. Nothing fires before the reactor is
 *   `live` (or `degraded`); what arrives meanwhile is kept.
 *
 * What it asks of the runtime and tells it goes through its hooks (`reactor-hooks.ts`). A
 * runtime whose stored state moved on under it (another owner held its checkpoint) waits until
 * the firing in flight has ended ({@link Reactor.halted}), then drops what the reactor holds
 * ({@link Reactor.reset}) and restores the stored state, as at start.
 *
 * A keyed reactor (`keyed-reactor.ts`) runs one of these per key, on a {@link KeyLane}: the
 * key's own cache, flags, queue and loop, with the graphs, counters and sequence numbers of the
 * keyed reactor, firing only while it holds a turn of the keys' gate (`key-gate.ts`).
 */
import { performance } from 'node:perf_hooks';
import type { GraphResult, RunCallback } from '../exec/graph-run.js';
import { graphInternals, type ComputationGraph, type GraphInternals } from '../graph/computation-graph.js';
import { StateError } from '../model/errors.js';
import { ReactorHealth } from '../model/health.js';
import { InputStrategy, type ReactorDeclaration } from '../model/reactor-declaration.js';
import { StateMachine } from '../model/state-machine.js';
import { BoundaryQueue, type QueuedBoundary } from './boundary-queue.js';
import { FiringBatches } from './firing-batches.js';
import { InputCache } from './input-cache.js';
import { KeyTurn, type KeyGate } from './key-gate.js';
import type { LiveReactor, ReactorCounts } from './live-reactor.js';
import type { KeyLane, ReactorEvents, ReactorHooks, ReactorQuestions } from './reactor-hooks.js';
import { kFiringsPerTurn, kLoopTransitions, ReactorLoop } from './reactor-loop.js';
import { fireRecord, type FireRecord, type ReactorSnapshot, type ReactorState } from './records.js';

/** The clock's origin in epoch ms, read once (its getter is not free, and it never changes). */
const kTimeOrigin = performance.timeOrigin;

/** A firing waiting for its turn: from a boundary or a manual command. */
interface Firing {
  readonly snapshot: Record<string, unknown>;
  readonly manual: boolean;
  /** The sequential boundary it fires, or -1. */
  readonly seq: number;
  readonly resolve?: (record: FireRecord | undefined) => void;
}

/** A live reactor (see the module comment). */
export class Reactor implements LiveReactor {
  readonly declaration: ReactorDeclaration;
  readonly graphs: ComputationGraph[];
  health: ReactorHealth = ReactorHealth.Starting;
  readonly counts: ReactorCounts;
  readonly owner: LiveReactor;
  readonly checkpointName: string;
  /** The key it serves, in a keyed reactor. */
  readonly key: string | undefined;
  /** The keys' gate's marks on a key (see `key-gate.ts`). */
  gateTurn: KeyTurn = KeyTurn.None;
  gateWaiting = false;
  /**
   * A key's last firing, epoch ms (0 before one), for the busiest keys: the clock is read at the
   * first firing of each pass of its loop (a pass runs firings back to back, up to a turn).
   */
  firedAt = 0;
  /** A key's last boundary (or its creation), epoch ms: kept by its keyed reactor with `keyIdle`. */
  activeAt = 0;
  readonly #gate: KeyGate | null;
  readonly #sequence: { next: number };
  readonly #questions: ReactorQuestions;
  readonly #events: ReactorEvents;
  readonly #sequential: boolean;
  readonly #sources: readonly string[];
  #paused = false;
  readonly #loop: StateMachine<ReactorLoop>;
  #input: InputCache;
  #queue: BoundaryQueue;
  /** Made when queued boundaries first could go to a worker: a held key that never batches has none. */
  #batches: FiringBatches | null = null;
  /** Whether the one bound graph runs on the pool, once asked (graphs are bound before start). */
  #onPool: boolean | undefined = undefined;
  /** Waiting for the firing in flight to end (see {@link halted}); null while nobody waits. */
  #halts: Array<() => void> | null = null;
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
  /**
   * When the last timed graph of the previous firing ended; a firing that follows it in the same
   * synchronous turn starts on that reading instead of reading the clock again (the work between
   * them, taking the next boundary, is part of the next firing).
   */
  #lastEnd = 0;
  #clockCarries = false;
  #firedAt = 0;
  /** True while `#fire` is starting the graphs: a completion then returns to it, not to the loop. */
  #starting = false;
  /** Per bound graph, how to run it and its completion callback, made on the first firing. */
  #runs: Array<GraphInternals['run']> = [];
  #callbacks: RunCallback[] = [];

  constructor(declaration: ReactorDeclaration, hooks: ReactorHooks, lane?: KeyLane) {
    this.declaration = declaration;
    this.graphs = lane?.graphs ?? [];
    this.counts = lane?.counts ?? { fires: 0, failures: 0, batched: 0, graphRuns: [], graphFailures: [] };
    this.owner = lane?.owner ?? this;
    this.checkpointName = lane?.checkpointName ?? declaration.name;
    this.key = lane?.key;
    this.#gate = lane?.gate ?? null;
    this.#sequence = lane?.sequence ?? { next: 0 };
    this.#questions = hooks.questions;
    this.#events = hooks.events;
    this.#sequential = declaration.strategy === InputStrategy.Sequential;
    this.#loop = new StateMachine<ReactorLoop>(this, ReactorLoop.Idle, kLoopTransitions);
    this.#sources = lane?.sources ?? declaration.accumulators;
    this.#input = new InputCache(this.#sources, declaration.mode);
    this.#queue = new BoundaryQueue(hooks.queueCapacity, () => this.#events.room(this));
  }

  /** Binds a graph: every firing runs it (in the order graphs were bound). */
  bind(graph: ComputationGraph): void {
    this.graphs.push(graph);
    this.counts.graphRuns.push(0);
    this.counts.graphFailures.push(0);
  }

  get name(): string {
    return this.declaration.name;
  }

  /** How errors name it: `reactor 'quotes'`, or `reactor 'quotes' key 'AAPL'` for a key. */
  get label(): string {
    return this.key === undefined ? `reactor '${this.name}'` : `reactor '${this.name}' key '${this.key}'`;
  }

  /** Completed firings, for status lines. */
  get fires(): number {
    return this.counts.fires;
  }

  /** Starts the loop if it is idle (the key's gate handing it a turn). */
  kick(): void {
    this.#kick();
  }

  /** True when the key is at rest: nothing queued, firing or waiting (a keyed reactor may forget it). */
  get settled(): boolean {
    return this.#loop.state === ReactorLoop.Idle && this.#queue.size === 0 && this.#commands.length === 0;
  }

  /** Writes a broadcast source's value into the cache, without flags. */
  share(source: string, value: unknown): void {
    this.#input.set(source, value);
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Where the firing loop is. */
  get loop(): ReactorLoop {
    return this.#loop.state;
  }

  /** Boundaries waiting in the sequential queue (a batch's boundaries wait until they fire). */
  get queued(): number {
    return this.#batches?.holdsHead === true ? this.#queue.size - 1 : this.#queue.size;
  }

  /** True while a boundary of `source` would be accepted (always, under `latest`). */
  hasRoom(source: string): boolean {
    return !this.#sequential || this.#queue.hasRoomFor(source);
  }

  /** Checked by {@link hasRoom} before the value is made. */
  admit(): boolean {
    return true;
  }

  /** A reactor of its own has no keys. */
  keyOf(): undefined {
    return undefined;
  }

  close(): void {}

  /** True when nothing would fire now by itself: the loop is idle and nothing runnable waits. */
  quiescent(): boolean {
    return this.#loop.state === ReactorLoop.Idle && (this.#paused || !this.#canFire() || !this.#hasWork());
  }

  /**
   * Resolves once no firing is in flight (at once when none is): meant for a reactor that
   * cannot fire now (held at `warming`), which then starts no other.
   */
  halted(): Promise<void> {
    if (this.#loop.state !== ReactorLoop.Firing) return Promise.resolve();
    return new Promise((resolve) => (this.#halts ??= []).push(resolve));
  }

  /**
   * Drops the state it holds, as if just made: the cache, the dirty flags, the sequential queue,
   * a batch's state and the paused flag ({@link restore} then applies stored state, as at
   * start). Commands waiting resolve without firing; counters, bound graphs and health stay.
   * Throws StateError while a firing is in flight (see {@link halted}).
   */
  reset(): void {
    if (this.#loop.state === ReactorLoop.Firing) {
      throw new StateError(this.name, 'firing', `reactor '${this.name}' cannot be reset while it fires`);
    }
    this.#input = new InputCache(this.#sources, this.declaration.mode);
    this.#queue = new BoundaryQueue(this.#queue.capacity, () => this.#events.room(this));
    this.#batches = null;
    this.#paused = false;
    const commands = this.#commands;
    this.#commands = [];
    for (const resolve of commands) resolve(undefined);
  }

  /** Restores checkpointed state (at start, or after {@link reset}). */
  restore(snapshot: ReactorSnapshot, queue: readonly QueuedBoundary[]): void {
    this.#input.restore(snapshot);
    this.#paused = snapshot.paused;
    for (const boundary of queue) this.#queue.push(boundary);
    if (queue.length > 0) this.#sequence.next = Math.max(this.#sequence.next, queue[queue.length - 1]!.seq + 1);
  }

  /** Moves health; firing starts (or resumes) once live or degraded. */
  setHealth(health: ReactorHealth): void {
    this.health = health;
    if (!this.#canFire()) this.#batches?.interrupt();
    this.#kick();
  }

  /**
   * A boundary from one of the reactor's accumulators (admission was checked with
   * {@link hasRoom}). Under `latest` the firing it may cause waits for the end of the current
   * synchronous job, so a burst collapses into one firing. Under `sequential`, where every
   * boundary fires anyway, the loop starts at once; a key's loop waits for the end of the job
   * too, so a burst spread over many keys is served key by key, each key's state still in the
   * CPU's cache, rather than a different key on every boundary.
   */
  deliver(source: string, value: unknown): void {
    if (!this.#sequential) {
      this.#input.update(source, value);
      this.#events.changed(this);
      this.#collapse();
      return;
    }
    const boundary = { seq: this.#sequence.next++, source, value };
    this.#queue.push(boundary);
    this.#events.accepted(this, boundary);
    if (this.#gate === null) this.#kick();
    else this.#collapse();
  }

  /** Fires once with the current cache; resolves to the first graph's record, or undefined when paused. */
  forceFire(): Promise<FireRecord | undefined> {
    if (this.#paused) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#commands.push(resolve);
      // Commands go before queued boundaries: a batch in flight stops at its next firing.
      this.#batches?.interrupt();
      this.#kick();
    });
  }

  /** Replaces the whole cache, then fires once (unless paused: then only the cache is replaced). */
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    this.#input.replace(cache);
    this.#batches?.replaced();
    this.#events.changed(this);
    return this.forceFire();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#batches?.interrupt();
    this.#events.changed(this);
    const commands = this.#commands;
    this.#commands = [];
    for (const resolve of commands) resolve(undefined);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#events.changed(this);
    this.#kick();
  }

  getState(): ReactorState {
    return {
      cache: this.#visibleCache(),
      dirty: this.#input.dirtyFlags(),
      paused: this.#paused,
      queued: this.queued,
      health: this.health,
    };
  }

  /** What a checkpoint stores besides the queue. */
  snapshot(): ReactorSnapshot {
    return {
      cache: this.#visibleCache(),
      dirty: this.#input.dirtyFlags(),
      paused: this.#paused,
    };
  }

  /** A copy of the cache as of the firing in progress (see `FiringBatches.visibleCache`). */
  #visibleCache(): Record<string, unknown> {
    return { ...(this.#batches?.visibleCache() ?? this.#input.values) };
  }

  /**
   * True when queued boundaries could go to a worker in batches: the one bound graph runs on the
   * pool (a key that never could is given no batch state).
   */
  #mayBatch(): boolean {
    if (this.#batches !== null) return true;
    if (this.graphs.length !== 1) return false;
    return (this.#onPool ??= graphInternals(this.graphs[0]!).binding !== null);
  }

  /** The batches' view of this reactor: its queue and cache, its questions and counters, its loop. */
  #batchesOf(queue: BoundaryQueue, input: InputCache): FiringBatches {
    return new FiringBatches({
      name: this.declaration.name,
      queue,
      input,
      batchGraph: () =>
        this.#sequential && this.graphs.length === 1 && this.#questions.batchable(this) ? this.graphs[0]! : null,
      key: this.key,
      free: () => !this.#paused && this.#canFire() && this.#commands.length === 0,
      contended: () => this.#gate?.contended ?? false,
      sampling: () => this.#questions.sampling(this),
      observing: () => this.#questions.observing(this),
      timed: (graph, nodeDurations) => this.#events.timed(this, graph, nodeDurations),
      ran: (ok) => {
        this.counts.graphRuns[0]!++;
        if (!ok) {
          this.counts.failures++;
          this.counts.graphFailures[0]!++;
        }
      },
      recorded: (record) => this.#events.recorded(this, record),
      fired: (boundary, ok) => {
        this.counts.fires++;
        this.counts.batched++;
        this.#events.consumed(this, boundary.seq);
        this.#events.fired(this, ok);
      },
      stopped: () => {
        this.#events.changed(this);
        this.#events.stopped(this);
      },
      waiting: () => this.#loop.to(ReactorLoop.Firing),
      resume: this.#resumeLoop,
    });
  }

  /** Starts the loop if it is idle; otherwise the running loop picks up the new work. */
  #kick(): void {
    if (this.#loop.state !== ReactorLoop.Idle) return;
    this.#resumeLoop();
  }

  /** Starts the loop at the end of the current synchronous job if it is idle (`collapsing`). */
  #collapse(): void {
    if (this.#loop.state !== ReactorLoop.Idle) return;
    this.#loop.to(ReactorLoop.Collapsing);
    queueMicrotask(this.#resumeLoop);
  }

  /** Back to `pumping` (from idle, collapsing, firing or yielding). */
  readonly #resumeLoop = (): void => {
    this.#loop.to(ReactorLoop.Pumping);
    this.#pump();
    if (this.#halts !== null && this.#loop.state !== ReactorLoop.Firing) {
      const halts = this.#halts;
      this.#halts = null;
      for (const resolve of halts) resolve();
    }
  };

  #canFire(): boolean {
    return this.health === ReactorHealth.Live || this.health === ReactorHealth.Degraded;
  }

  #hasWork(): boolean {
    if (this.#commands.length > 0) return true;
    if (this.#sequential) return this.#queue.size > 0;
    return this.#input.criterionHolds();
  }

  /** The next firing to run, or null; applies sequential boundaries on the way. */
  #take(): Firing | null {
    if (this.#paused || !this.#canFire()) return null;
    const input = this.#input;
    const command = this.#commands.shift();
    if (command !== undefined) {
      input.clearDirty();
      this.#events.changed(this);
      return { snapshot: input.snapshot(), manual: true, seq: -1, resolve: command };
    }
    if (!this.#sequential) {
      if (!input.criterionHolds()) return null;
      input.clearDirty();
      this.#events.changed(this);
      return { snapshot: input.snapshot(), manual: false, seq: -1 };
    }
    for (let boundary = this.#queue.shift(); boundary !== undefined; boundary = this.#queue.shift()) {
      if (input.apply(boundary.source, boundary.value)) {
        this.#events.consumed(this, boundary.seq);
        continue;
      }
      // The boundary's own flag would be set and cleared with the others at once.
      input.clearDirty();
      return { snapshot: input.snapshot(), manual: false, seq: boundary.seq };
    }
    return null;
  }

  /** The `pumping` state: fires what there is, up to a turn's worth, then idles, waits or yields. */
  #pump(): void {
    this.#clockCarries = false;
    const gate = this.#gate;
    let stamped = false;
    for (let budget = kFiringsPerTurn; budget > 0; budget--) {
      // A key fires only in its turn; the gate kicks it when it gets one.
      if (gate !== null && !gate.enter(this)) {
        this.#loop.to(ReactorLoop.Idle);
        return;
      }
      if (
        this.#queue.size >= 2 &&
        this.#mayBatch() &&
        (this.#batches ??= this.#batchesOf(this.#queue, this.#input)).start(0)
      ) {
        if (gate !== null) this.#keyFires(gate, stamped);
        return; // `firing`: the batch's end resumes the loop
      }
      const firing = this.#take();
      if (firing === null) {
        this.#loop.to(ReactorLoop.Idle);
        gate?.leave(this);
        return;
      }
      if (gate !== null) {
        this.#keyFires(gate, stamped);
        stamped = true;
      }
      if (!this.#fire(firing)) return; // `firing`: its completion resumes the loop
      this.#clockCarries = this.#observed;
    }
    this.#loop.to(ReactorLoop.Yielding);
    setImmediate(this.#resumeLoop);
  }

  /**
   * A key starts a firing (or a batch) in its turn: the gate is told, and the key notes the
   * time ({@link firedAt}) once per pass of its loop rather than per firing (the clock is not free).
   */
  #keyFires(gate: KeyGate, stamped: boolean): void {
    gate.fired(this);
    if (!stamped) this.firedAt = Date.now();
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
    const sampled = this.#questions.sampling(this);
    this.#observed = sampled || firing.resolve !== undefined || this.#questions.observing(this);
    if (this.#observed) {
      this.#started = this.#clockCarries ? this.#lastEnd : performance.now();
      // The clock every thread shares (a batch's firings are timed on it in their worker).
      this.#firedAt = Math.floor(kTimeOrigin + this.#started);
    }
    if (graphs.length === 0) {
      this.#finish();
      return true;
    }
    this.#starting = true;
    for (let g = 0; g < graphs.length; g++) {
      this.#runs[g]!(
        firing.snapshot,
        this.#questions.starting(this, graphs[g]!, firing.seq, firing.manual),
        this.#callbacks[g]!,
      );
    }
    this.#starting = false;
    if (this.#firing === null) return true;
    this.#loop.to(ReactorLoop.Firing);
    return false;
  }

  /** Graph `g` of the firing in progress completed. */
  #graphDone(g: number, error: unknown, result: GraphResult | undefined): void {
    const counts = this.counts;
    counts.graphRuns[g]!++;
    const ok = result !== undefined;
    if (!ok) {
      this.#firingOk = false;
      counts.failures++;
      counts.graphFailures[g]!++;
    }
    // A failure is always recorded; a firing nobody timed has its end as its time, no duration.
    if (this.#observed || !ok) {
      const firing = this.#firing!;
      const now = performance.now();
      const timed = this.#observed;
      const durationMs = timed ? now - this.#started : Number.NaN;
      this.#lastEnd = now;
      const firedAt = timed ? this.#firedAt : Math.floor(kTimeOrigin + now);
      const outcome = ok ? result.outputs : error;
      const record = fireRecord(
        this.name,
        this.graphs[g]!.name,
        firing.manual,
        firing.snapshot,
        ok,
        outcome,
        durationMs,
        firedAt,
        this.key,
      );
      if (g === 0) this.#firstRecord = record;
      this.#events.recorded(this, record);
    }
    if (--this.#pendingGraphs > 0) return;
    this.#finish();
    if (!this.#starting) this.#resumeLoop();
  }

  /** Every graph of the firing in progress completed. */
  #finish(): void {
    const firing = this.#firing!;
    this.#firing = null;
    this.counts.fires++;
    if (firing.seq >= 0) this.#events.consumed(this, firing.seq);
    this.#events.fired(this, this.#firingOk);
    firing.resolve?.(this.#firstRecord);
  }
}
