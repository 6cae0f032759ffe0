/**
 * A live reactor: the input cache of its sources, their dirty flags, the sequential queue, and
 * the loop that fires its graphs.
 *
 * - `latest`: a boundary overwrites its source's cache slot and sets its dirty flag. When the
 *   criterion holds (`when_any`: some flag set; `when_all`: every flag set) a firing takes a
 *   snapshot of the cache and clears the flags in the same synchronous step, so no update can
 *   fall between them. Boundaries that arrive during a firing collapse into one next firing.
 * - `sequential`: every boundary is queued and fires once, in arrival order, with the cache as
 *   it is after applying it. Under `when_all`, boundaries that arrive before every source has
 *   delivered once are applied without firing.
 * - Firings never overlap. All graphs bound to the reactor run concurrently on one snapshot,
 *   each with its own fire record; the firing ends when all of them have.
 * - Manual commands (`forceFire`, `fireWith`) go before queued boundaries. While paused nothing
 *   fires: commands resolve without firing, boundaries keep arriving, and `resume()` fires at
 *   once if the criterion holds or the queue is not empty. Nothing fires before the reactor is
 *   `live` (or `degraded`); what arrives meanwhile is kept.
 *
 * The loop runs synchronously while firings complete synchronously (inline graphs of
 * synchronous nodes), yielding to the event loop every {@link kBatch} firings.
 */
import { performance } from 'node:perf_hooks';
import type { GraphResult, RunOptions } from '../exec/graph-run.js';
import type { ComputationGraph } from '../graph/computation-graph.js';
import { ReactorHealth } from '../model/health.js';
import { InputStrategy, ReactionMode, type ReactorDeclaration } from '../model/reactor-declaration.js';

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

/** One queued boundary of a sequential reactor; `seq` orders it and keys its checkpoint row. */
export interface QueuedBoundary {
  readonly seq: number;
  readonly source: string;
  readonly value: unknown;
}

/** What the runtime does around a reactor's firings. */
export interface ReactorHooks {
  /** Most boundaries a sequential queue holds. */
  readonly queueCapacity: number;
  /** Each graph's record, as soon as that graph finishes. */
  recorded(reactor: Reactor, record: FireRecord): void;
  /** A firing ended (every graph finished); `ok` when every graph succeeded. */
  fired(reactor: Reactor, ok: boolean): void;
  /** A sequential boundary was queued. */
  accepted(reactor: Reactor, boundary: QueuedBoundary): void;
  /** Sequential boundaries up to `seq` are done (fired, or applied without firing). */
  consumed(reactor: Reactor, seq: number): void;
  /** The cache or dirty flags changed. */
  changed(reactor: Reactor): void;
  /** The queue, after filling up, is down to half its capacity. */
  room(reactor: Reactor): void;
  /**
   * A graph's run is about to start for a firing (`seq` its sequential boundary, or -1): the
   * options to run it with (the runtime's metrics and tracing observer), or undefined.
   */
  starting(reactor: Reactor, graph: ComputationGraph, seq: number, manual: boolean): RunOptions | undefined;
}

/** A firing waiting for its turn: from a boundary or a manual command. */
interface Firing {
  readonly snapshot: Record<string, unknown>;
  readonly manual: boolean;
  /** The sequential boundary it fires, or -1. */
  readonly seq: number;
  readonly resolve?: (record: FireRecord | undefined) => void;
}

interface Command {
  readonly resolve: (record: FireRecord | undefined) => void;
}

/** Firings run back to back before the loop yields to the event loop. */
const kBatch = 256;

export class Reactor {
  readonly declaration: ReactorDeclaration;
  readonly graphs: ComputationGraph[] = [];
  health: ReactorHealth = ReactorHealth.Starting;
  paused = false;
  /** Completed firings and failed graph runs, for status lines. */
  fires = 0;
  failures = 0;
  readonly #hooks: ReactorHooks;
  #cache: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  readonly #dirty = new Map<string, boolean>();
  /** Declared sources that have a value in the cache (the when_all gate of `sequential`). */
  readonly #delivered = new Set<string>();
  #queue: QueuedBoundary[] = [];
  #head = 0;
  #nextSeq = 0;
  #commands: Command[] = [];
  #firing = false;
  #pumping = false;
  #yieldScheduled = false;
  #pumpQueued = false;
  #full = false;

  constructor(declaration: ReactorDeclaration, hooks: ReactorHooks) {
    this.declaration = declaration;
    this.#hooks = hooks;
    for (const source of declaration.accumulators) this.#dirty.set(source, false);
  }

  get name(): string {
    return this.declaration.name;
  }

  /** Boundaries waiting in the sequential queue. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** True while another boundary can be accepted (always, under `latest`). */
  hasRoom(): boolean {
    return this.declaration.strategy === InputStrategy.Latest || this.queued < this.#hooks.queueCapacity;
  }

  /** True when nothing would fire now by itself: not firing, and nothing runnable waiting. */
  quiescent(): boolean {
    return !this.#firing && !this.#pumpQueued && (this.paused || !this.#canFire() || !this.#hasWork());
  }

  /** Restores checkpointed state before start. */
  restore(cache: Record<string, unknown>, dirty: Record<string, boolean>, queue: readonly QueuedBoundary[]): void {
    Object.assign(this.#cache, cache);
    for (const source of Object.keys(cache)) if (this.#dirty.has(source)) this.#delivered.add(source);
    for (const [source, flag] of Object.entries(dirty)) if (this.#dirty.has(source)) this.#dirty.set(source, flag);
    this.#queue = [...queue];
    this.#head = 0;
    this.#nextSeq = queue.length === 0 ? 0 : queue[queue.length - 1]!.seq + 1;
  }

  /** Moves health; firing starts (or resumes) once live or degraded. */
  setHealth(health: ReactorHealth): void {
    this.health = health;
    this.#pump();
  }

  /**
   * A boundary from one of the reactor's accumulators. Under `latest` the firing it may cause
   * waits for the end of the current synchronous job (a microtask), so a synchronous burst of
   * pushes collapses into one firing instead of running the graph once per push; under
   * `sequential`, where every boundary fires anyway, the loop starts at once.
   */
  deliver(source: string, value: unknown): void {
    if (this.declaration.strategy === InputStrategy.Latest) {
      this.#cache[source] = value;
      this.#delivered.add(source);
      this.#dirty.set(source, true);
      this.#hooks.changed(this);
      if (!this.#firing && !this.#pumpQueued) {
        this.#pumpQueued = true;
        queueMicrotask(this.#queuedPump);
      }
      return;
    }
    const boundary = { seq: this.#nextSeq++, source, value };
    this.#queue.push(boundary);
    if (this.queued >= this.#hooks.queueCapacity) this.#full = true;
    this.#hooks.accepted(this, boundary);
    if (!this.#firing) this.#pump();
  }

  readonly #queuedPump = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  /** Fires once with the current cache; resolves to the first graph's record, or undefined when paused. */
  forceFire(): Promise<FireRecord | undefined> {
    if (this.paused) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#commands.push({ resolve });
      this.#pump();
    });
  }

  /** Replaces the whole cache, then fires once (unless paused: then only the cache is replaced). */
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    this.#cache = Object.assign(Object.create(null) as Record<string, unknown>, cache);
    for (const source of Object.keys(cache)) if (this.#dirty.has(source)) this.#delivered.add(source);
    this.#hooks.changed(this);
    return this.forceFire();
  }

  pause(): void {
    this.paused = true;
    const commands = this.#commands;
    this.#commands = [];
    for (const command of commands) command.resolve(undefined);
  }

  resume(): void {
    this.paused = false;
    this.#pump();
  }

  getState(): ReactorState {
    return {
      cache: { ...this.#cache },
      dirty: Object.fromEntries(this.#dirty),
      paused: this.paused,
      queued: this.queued,
      health: this.health,
    };
  }

  /** What a checkpoint stores: the cache and dirty flags. */
  snapshotState(): { cache: Record<string, unknown>; dirty: Record<string, boolean> } {
    return { cache: { ...this.#cache }, dirty: Object.fromEntries(this.#dirty) };
  }

  #canFire(): boolean {
    return this.health === ReactorHealth.Live || this.health === ReactorHealth.Degraded;
  }

  #hasWork(): boolean {
    if (this.#commands.length > 0) return true;
    if (this.declaration.strategy === InputStrategy.Sequential) return this.queued > 0;
    return this.#criterionHolds();
  }

  #criterionHolds(): boolean {
    let any = false;
    let all = true;
    for (const flag of this.#dirty.values()) {
      if (flag) any = true;
      else all = false;
    }
    return this.declaration.mode === ReactionMode.WhenAll ? all && this.#dirty.size > 0 : any;
  }

  #clearDirty(): void {
    for (const source of this.#dirty.keys()) this.#dirty.set(source, false);
  }

  /** The next firing to run, or null; applies sequential boundaries on the way. */
  #take(): Firing | null {
    if (this.paused || !this.#canFire()) return null;
    const command = this.#commands.shift();
    if (command !== undefined) {
      this.#clearDirty();
      this.#hooks.changed(this);
      return { snapshot: { ...this.#cache }, manual: true, seq: -1, resolve: command.resolve };
    }
    if (this.declaration.strategy === InputStrategy.Latest) {
      if (!this.#criterionHolds()) return null;
      this.#clearDirty();
      this.#hooks.changed(this);
      return { snapshot: { ...this.#cache }, manual: false, seq: -1 };
    }
    while (this.#head < this.#queue.length) {
      const boundary = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as QueuedBoundary; // let it be collected
      this.#compactQueue();
      this.#cache[boundary.source] = boundary.value;
      this.#delivered.add(boundary.source);
      this.#dirty.set(boundary.source, true);
      this.#noteRoom();
      const gated =
        this.declaration.mode === ReactionMode.WhenAll && this.#delivered.size < this.declaration.accumulators.length;
      if (gated) {
        this.#hooks.consumed(this, boundary.seq);
        continue;
      }
      this.#clearDirty();
      return { snapshot: { ...this.#cache }, manual: false, seq: boundary.seq };
    }
    return null;
  }

  #compactQueue(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** After a full queue, announces room once it is down to half, so producers wake in batches. */
  #noteRoom(): void {
    if (this.#full && this.queued <= this.#hooks.queueCapacity >> 1) {
      this.#full = false;
      this.#hooks.room(this);
    }
  }

  #pump(): void {
    if (this.#pumping || this.#firing) return;
    this.#pumping = true;
    try {
      for (let budget = kBatch; budget > 0; budget--) {
        if (this.#firing) return;
        const firing = this.#take();
        if (firing === null) return;
        this.#fire(firing);
      }
      if (!this.#firing && !this.#yieldScheduled) {
        // A long synchronous drain would starve I/O and timers: continue on the next turn.
        this.#yieldScheduled = true;
        setImmediate(() => {
          this.#yieldScheduled = false;
          this.#pump();
        });
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Runs every graph on the snapshot; completes synchronously when all of them do. */
  #fire(firing: Firing): void {
    this.#firing = true;
    const graphs = this.graphs;
    const started = performance.now();
    const firedAt = Date.now();
    let pending = graphs.length;
    let ok = true;
    let first: FireRecord | undefined; // the record of the first bound graph
    const finish = (): void => {
      this.#firing = false;
      this.fires++;
      if (firing.seq >= 0) this.#hooks.consumed(this, firing.seq);
      this.#hooks.fired(this, ok);
      firing.resolve?.(first);
      this.#pump();
    };
    if (pending === 0) {
      finish();
      return;
    }
    for (const graph of graphs) {
      const isFirst = graph === graphs[0];
      const options = this.#hooks.starting(this, graph, firing.seq, firing.manual);
      graph.run(firing.snapshot, options, (error: unknown, result: GraphResult | undefined) => {
        const record: FireRecord =
          result === undefined
            ? {
                reactor: this.name,
                graph: graph.name,
                ok: false,
                error,
                manual: firing.manual,
                inputs: firing.snapshot,
                durationMs: performance.now() - started,
                firedAt,
              }
            : {
                reactor: this.name,
                graph: graph.name,
                ok: true,
                outputs: result.outputs,
                manual: firing.manual,
                inputs: firing.snapshot,
                durationMs: performance.now() - started,
                firedAt,
              };
        if (result === undefined) {
          ok = false;
          this.failures++;
        }
        if (isFirst) first = record;
        this.#hooks.recorded(this, record);
        if (--pending === 0) finish();
      });
    }
  }
}
