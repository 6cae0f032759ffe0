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
 *     pumping ──(256 firings in a row)──► yielding ──(setImmediate)──► pumping
 *     pumping ──(nothing to fire)──► idle
 *
 * `collapsing` lets a synchronous burst of pushes under `latest` fire once instead of once per
 * push; `yielding` keeps a long synchronous drain (inline graphs of synchronous nodes) from
 * starving I/O and timers. In every state but `idle` a new boundary or command is only
 * recorded: the loop picks it up.
 */
import { performance } from 'node:perf_hooks';
import type { GraphResult, RunOptions } from '../exec/graph-run.js';
import { graphInternals, type ComputationGraph } from '../graph/computation-graph.js';
import { StateError } from '../model/errors.js';
import { ReactorHealth } from '../model/health.js';
import { InputStrategy, ReactionMode, type ReactorDeclaration } from '../model/reactor-declaration.js';
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
  /** Each graph's record, as soon as that graph finishes. */
  recorded(reactor: Reactor, record: FireRecord): void;
  /** A firing ended (every graph finished); `ok` when every graph succeeded. */
  fired(reactor: Reactor, ok: boolean): void;
  /** A sequential boundary was queued. */
  accepted(reactor: Reactor, boundary: QueuedBoundary): void;
  /** Sequential boundaries up to `seq` are done (fired, or applied without firing). */
  consumed(reactor: Reactor, seq: number): void;
  /** The cache, the dirty flags or the paused flag changed. */
  changed(reactor: Reactor): void;
  /** The queue, after refusing a boundary, has room again. */
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

/** Firings run back to back before the loop yields to the event loop. */
const kBatch = 256;

export class Reactor {
  readonly declaration: ReactorDeclaration;
  readonly graphs: ComputationGraph[] = [];
  health: ReactorHealth = ReactorHealth.Starting;
  /** Completed firings and failed graph runs, for status lines. */
  fires = 0;
  failures = 0;
  readonly #hooks: ReactorHooks;
  readonly #sequential: boolean;
  #paused = false;
  #loop: ReactorLoop = ReactorLoop.Idle;
  #cache: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  readonly #dirty = new Map<string, boolean>();
  /** Declared sources that have a value in the cache (the when_all gate of `sequential`). */
  readonly #delivered = new Set<string>();
  readonly #queue: BoundaryQueue;
  #nextSeq = 0;
  #commands: Array<(record: FireRecord | undefined) => void> = [];

  constructor(declaration: ReactorDeclaration, hooks: ReactorHooks) {
    this.declaration = declaration;
    this.#hooks = hooks;
    this.#sequential = declaration.strategy === InputStrategy.Sequential;
    this.#queue = new BoundaryQueue(hooks.queueCapacity, () => hooks.room(this));
    for (const source of declaration.accumulators) this.#dirty.set(source, false);
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

  /** Boundaries waiting in the sequential queue. */
  get queued(): number {
    return this.#queue.size;
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
    Object.assign(this.#cache, snapshot.cache);
    for (const source of Object.keys(snapshot.cache)) if (this.#dirty.has(source)) this.#delivered.add(source);
    for (const [source, flag] of Object.entries(snapshot.dirty)) {
      if (this.#dirty.has(source)) this.#dirty.set(source, flag);
    }
    this.#paused = snapshot.paused;
    for (const boundary of queue) this.#queue.push(boundary);
    if (queue.length > 0) this.#nextSeq = queue[queue.length - 1]!.seq + 1;
  }

  /** Moves health; firing starts (or resumes) once live or degraded. */
  setHealth(health: ReactorHealth): void {
    this.health = health;
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
      this.#cache[source] = value;
      this.#delivered.add(source);
      this.#dirty.set(source, true);
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
      this.#kick();
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
    if (this.#paused) return;
    this.#paused = true;
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
      cache: { ...this.#cache },
      dirty: Object.fromEntries(this.#dirty),
      paused: this.#paused,
      queued: this.queued,
      health: this.health,
    };
  }

  /** What a checkpoint stores besides the queue. */
  snapshot(): ReactorSnapshot {
    return { cache: { ...this.#cache }, dirty: Object.fromEntries(this.#dirty), paused: this.#paused };
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
    for (let boundary = this.#queue.shift(); boundary !== undefined; boundary = this.#queue.shift()) {
      this.#cache[boundary.source] = boundary.value;
      this.#delivered.add(boundary.source);
      this.#dirty.set(boundary.source, true);
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

  /** The `pumping` state: fires what there is, up to a batch, then idles, waits or yields. */
  #pump(): void {
    for (let budget = kBatch; budget > 0; budget--) {
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
    const started = performance.now();
    const firedAt = Date.now();
    let pending = graphs.length;
    let ok = true;
    let synchronous = true;
    let first: FireRecord | undefined; // the record of the first bound graph
    const finish = (): void => {
      this.fires++;
      if (firing.seq >= 0) this.#hooks.consumed(this, firing.seq);
      this.#hooks.fired(this, ok);
      firing.resolve?.(first);
    };
    for (const graph of graphs) {
      const options = this.#hooks.starting(this, graph, firing.seq, firing.manual);
      graphInternals(graph).run(firing.snapshot, options, (error: unknown, result: GraphResult | undefined) => {
        const durationMs = performance.now() - started;
        const base = { reactor: this.name, graph: graph.name, manual: firing.manual, inputs: firing.snapshot };
        const record: FireRecord =
          result === undefined
            ? { ...base, ok: false, error, durationMs, firedAt }
            : { ...base, ok: true, outputs: result.outputs, durationMs, firedAt };
        if (result === undefined) {
          ok = false;
          this.failures++;
        }
        if (graph === graphs[0]) first = record;
        this.#hooks.recorded(this, record);
        if (--pending > 0) return;
        finish();
        if (!synchronous) {
          this.#to(ReactorLoop.Pumping);
          this.#pump();
        }
      });
    }
    synchronous = false;
    if (pending === 0) {
      if (graphs.length === 0) finish();
      return true;
    }
    this.#to(ReactorLoop.Firing);
    return false;
  }
}
