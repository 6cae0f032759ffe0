/**
 * Batches of firings in a worker: when boundaries wait in a sequential reactor whose one graph
 * runs on the pool and is measured light, up to a batch of them is sent to one worker in one
 * message and fired there one after another, each as a whole traversal on its own snapshot,
 * saving a round trip per firing.
 *
 * The boundaries stay at the head of the queue until each has fired; records, `consumed`
 * watermarks and counters follow per firing, in order. A pause, a manual command or health
 * turning bad stops the batch before its next firing (a flag in shared memory the worker reads
 * between firings); what did not fire stays queued and the cache goes back to the state after
 * the last boundary that did. While one batch's records are reported, the next may already be
 * in the worker.
 */
import type { FiringsListener } from '../exec/firing-batch.js';
import type { PoolBinding } from '../exec/pool-binding.js';
import { graphInternals, type ComputationGraph } from '../graph/computation-graph.js';
import { setOwn } from '../model/own-properties.js';
import type { BoundaryQueue, QueuedBoundary } from './boundary-queue.js';
import type { InputCache } from './input-cache.js';
import { fireRecord, type FireRecord } from './records.js';

/** Queued boundaries of a sequential reactor firing in one worker, one after another. */
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

/** What the batches need of their reactor. */
export interface BatchOwner {
  readonly name: string;
  /** The key of a keyed reactor's batches, for their records. */
  readonly key: string | undefined;
  readonly queue: BoundaryQueue;
  readonly input: InputCache;
  /** The one graph when batches may run now (sequential, one graph, the runtime allows it), else null. */
  batchGraph(): ComputationGraph | null;
  /** True when nothing must go before the queued boundaries (not paused, healthy, no command waiting). */
  free(): boolean;
  /** True while other keys of a keyed reactor wait for a turn: no next batch is sent ahead then. */
  contended(): boolean;
  /** Whether this batch's first firing is timed for the metrics. */
  sampling(): boolean;
  /** Whether something reads every record. */
  observing(): boolean;
  /** The node durations of a sampled batch's first firing. */
  timed(graph: ComputationGraph, nodeDurations: Float64Array): void;
  /** A firing of the batch ran, failed or not (before its record). */
  ran(ok: boolean): void;
  /** A firing's record, when one is built (observed, sampled, or failed). */
  recorded(record: FireRecord): void;
  /** A firing of the batch ended; its boundary has left the queue. */
  fired(boundary: QueuedBoundary, ok: boolean): void;
  /** The cache went back: the batch stopped before all of its firings fired. */
  stopped(): void;
  /** A batch went to the worker: the loop waits for it. */
  waiting(): void;
  /** The batches are over: the loop goes on. */
  resume(): void;
}

/** The batches of one reactor: at most one in flight and one being reported. */
export class FiringBatches {
  readonly #owner: BatchOwner;
  /**
   * The batch in flight (or being reported), the one sent while its records are reported
   * (`#answered`), and the cell that stops them before their next firing.
   */
  #batch: FiringBatch | null = null;
  #next: FiringBatch | null = null;
  #control: Int32Array | null = null;
  /** True while `start` hands a batch over: its end then returns there, not to the loop. */
  #starting = false;
  /** The pool binding of the one graph, and the graph it was read from. */
  #binding: PoolBinding | null = null;
  #bindingOf: ComputationGraph | null = null;
  readonly #listener: FiringsListener = {
    answered: (ran) => this.#answered(ran),
    fired: (k, error, outputs, firedAt, durationMs, nodeDurations) =>
      this.#fired(k, error, outputs, firedAt, durationMs, nodeDurations),
    ended: (ran) => this.#ended(ran),
  };

  constructor(owner: BatchOwner) {
    this.#owner = owner;
  }

  /** True while a batch holds the head of the queue (it counts as firing, not as queued). */
  get holdsHead(): boolean {
    const batch = this.#batch;
    return batch !== null && (batch.done < batch.boundaries.length || this.#next !== null);
  }

  /**
   * The cache as of the firing in progress. While a batch is in flight the cache already holds
   * all of its boundaries; what is shown and checkpointed is the state after the boundary firing
   * now, so a restart replaying the queued boundaries from there gives each the same snapshot.
   */
  visibleCache(): Record<string, unknown> {
    let batch = this.#batch;
    if (batch === null || batch.replaced) return this.#owner.input.values;
    if (batch.done === batch.boundaries.length && this.#next !== null) batch = this.#next;
    return stateAfter(batch, Math.min(batch.done + 1, batch.boundaries.length));
  }

  /** `fireWith` replaced the cache: it stays, whatever the batches run. */
  replaced(): void {
    if (this.#batch !== null) this.#batch.replaced = true;
    if (this.#next !== null) this.#next.replaced = true;
  }

  /** A batch in flight stops before its next firing (pause, a manual command, health). */
  interrupt(): void {
    if (this.#batch !== null) Atomics.store(this.#control!, 0, 1);
  }

  /**
   * Fires queued boundaries as one batch in a worker when it pays: one graph on the pool,
   * nothing to put first, no boundary the `when_all` gate could hold back, and a graph light
   * enough (`firingLimit`). It takes the boundaries from queue position `from` on (those before
   * it belong to the batch being reported); each is applied to the cache in order and stays
   * queued until it has fired. True when the batch went.
   */
  start(from: number): boolean {
    const owner = this.#owner;
    const { queue, input } = owner;
    if (queue.size <= from) return false;
    const binding = this.#bindingNow();
    if (binding === null || !owner.free() || input.gated) return false;
    const max = binding.firingLimit();
    if (max < 2) return false;
    const limit = Math.min(queue.size - from, max);
    const before = input.snapshot();
    const boundaries = new Array<QueuedBoundary>(limit);
    for (let i = 0; i < limit; i++) {
      const boundary = queue.peek(from + i)!;
      input.set(boundary.source, boundary.value);
      boundaries[i] = boundary;
    }
    input.clearDirty();
    const control = (this.#control ??= new Int32Array(new SharedArrayBuffer(8)));
    Atomics.store(control, 0, 0);
    const cursor = { ...before };
    const sampled = owner.sampling();
    const observed = owner.observing();
    const batch: FiringBatch = { boundaries, before, cursor, applied: 0, done: 0, replaced: false, observed, sampled };
    if (from === 0) this.#batch = batch;
    else this.#next = batch;
    this.#starting = true;
    const sent = binding.runFirings(before, boundaries, control, this.#listener, sampled);
    this.#starting = false;
    if (!sent) {
      if (from === 0) this.#batch = null;
      else this.#next = null;
      input.values = before;
      return false;
    }
    if (this.#batch === null) return false; // it ended already (the pool was closed)
    if (from === 0) owner.waiting();
    return true;
  }

  /** The pool binding of the one graph, when batches may run now. */
  #bindingNow(): PoolBinding | null {
    const graph = this.#owner.batchGraph();
    if (graph === null) return null;
    if (this.#bindingOf !== graph) {
      this.#bindingOf = graph;
      this.#binding = graphInternals(graph).binding;
    }
    return this.#binding;
  }

  /**
   * The batch in flight was answered, before its records are reported: when every one of its
   * firings ran and nothing asked to stop, the next batch goes to the worker now, so the worker
   * runs it while this thread reports these.
   */
  #answered(ran: number): void {
    const batch = this.#batch!;
    if (ran < batch.boundaries.length || Atomics.load(this.#control!, 0) !== 0 || this.#owner.contended()) return;
    this.start(batch.boundaries.length);
  }

  /** Firing `k` of the batch in flight ended; `outputs(k)` reads its outputs when it succeeded. */
  #fired(
    k: number,
    error: unknown,
    outputs: ((k: number) => Record<string, unknown>) | undefined,
    firedAt: number,
    durationMs: number,
    nodeDurations: Float64Array | undefined,
  ): void {
    const owner = this.#owner;
    const batch = this.#batch!;
    const boundary = batch.boundaries[k]!;
    const ok = error === undefined;
    const sampled = batch.sampled && k === 0;
    if (sampled && nodeDurations !== undefined) owner.timed(this.#bindingOf!, nodeDurations);
    owner.ran(ok);
    // Timed where it ran, so a failure is recorded like any observed firing.
    if (batch.observed || sampled || !ok) {
      // The cursor catches up only when a record needs it: nothing per firing otherwise.
      for (; batch.applied <= k; batch.applied++) {
        const applied = batch.boundaries[batch.applied]!;
        setOwn(batch.cursor, applied.source, applied.value);
      }
      const graph = this.#bindingOf!.name;
      const outcome = ok ? outputs!(k) : error;
      owner.recorded(
        fireRecord(owner.name, graph, false, { ...batch.cursor }, ok, outcome, durationMs, firedAt, owner.key),
      );
    }
    batch.done = k + 1;
    owner.queue.shift(); // its boundary, at the head of the queue, has fired
    owner.fired(boundary, ok);
  }

  /** The batch in flight is over; firings from `ran` on did not run and their boundaries stay queued. */
  #ended(ran: number): void {
    const batch = this.#batch!;
    this.#batch = this.#next;
    this.#next = null;
    if (this.#batch !== null) return; // the next one is in flight: the loop keeps waiting
    if (ran < batch.boundaries.length) {
      // Back to the state after the last boundary that fired (unless fireWith replaced it).
      if (!batch.replaced) this.#owner.input.values = stateAfter(batch, ran);
      this.#owner.stopped();
    }
    if (this.#starting) return;
    this.#owner.resume();
  }
}

/** A new object: the cache before `batch` with its first `count` boundaries applied. */
function stateAfter(batch: FiringBatch, count: number): Record<string, unknown> {
  const state = { ...batch.before };
  for (let i = 0; i < count; i++) setOwn(state, batch.boundaries[i]!.source, batch.boundaries[i]!.value);
  return state;
}
