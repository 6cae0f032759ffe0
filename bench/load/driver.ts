/**
 * The load test's driver: one runtime with the benchmark pipeline (passthrough `a` ->
 * `when_any` reactor -> 3-node chain graph `entry -> add10 -> publish`, each node returning a new
 * object), and a paced producer that runs one step of the load test on it at a fixed offered
 * rate, pushing objects `{ value: n }`; the `fire` listener reads each record.
 *
 * Every event carries its own sequence number within the step. The producer records the time of
 * each push in a ring indexed by that number, so the fire record (whose `inputs.a.value` is the
 * number) gives the push -> fire latency without keeping a per-event object alive; and, for
 * `sequential`, the numbers must fire in order, each exactly once, so a single counter verifies
 * that nothing accepted was lost, duplicated or reordered.
 *
 * A refused push (`push` returned false: backpressure) is not a loss: the event was not
 * accepted. The producer keeps it and offers it again, first, on its next tick, so the events
 * stay in order and the offered load is only delayed. Latency is measured from the accepted
 * push, i.e. it is the runtime's own latency (queue wait plus graph run); how far the producer
 * fell behind its schedule is reported separately (`behind`).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import {
  ComputationGraphBuilder,
  Runtime,
  passthroughAccumulator,
  reactor,
  type ExecutorKind,
  type FireRecord,
  type ReactorHandle,
} from 'cloaca';

export type Strategy = 'sequential' | 'latest';

/** How the pipeline is set up. */
export interface PipelineOptions {
  readonly executor: ExecutorKind;
  readonly strategy: Strategy;
  readonly threads: number;
  /** The pool workers' `niceIncrement` (see `RuntimeOptions`); 0 when left out. */
  readonly niceIncrement?: number;
  readonly queueCapacity: number;
}

/** One step of the load test. */
export interface StepSpec {
  /** Shown in the table: `1,000/s`, `probe`, `overload`, ... */
  readonly label: string;
  /** Offered events per second; `Infinity` offers as much as is accepted (the probe). */
  readonly rate: number;
  readonly durationMs: number;
}

/** Percentiles of a step, in milliseconds. */
export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p99_9: number;
  readonly max: number;
}

/** What one step measured. */
export interface StepResult {
  readonly label: string;
  /** Offered events/s; null for the probe (as much as accepted). */
  readonly offered: number | null;
  /** The producer's window in seconds (the drain after it is not counted). */
  readonly seconds: number;
  /** Events the runtime accepted, and pushes it refused (each retried later). */
  readonly accepted: number;
  readonly refused: number;
  /** Events due by the schedule but not yet accepted when the window closed. */
  readonly behind: number;
  readonly eventsPerSec: number;
  /** Firings completed inside the window, per second. */
  readonly firingsPerSec: number;
  /** Firings in all, drain included. */
  readonly fired: number;
  /** Firings whose graph failed. */
  readonly failed: number;
  /** Push -> fire record latency, over every firing of the step. */
  readonly latencyMs: Percentiles;
  /** Most boundaries seen queued in the reactor (sampled after each producer tick). */
  readonly maxQueued: number;
  /** Main-thread event-loop delay during the window, in milliseconds. */
  readonly eventLoopDelayMs: Omit<Percentiles, 'p90' | 'p99_9'>;
  /**
   * `sequential`: accepted events that never fired (after the drain).
   * `latest`: 1 when the newest accepted value never fired, else 0.
   */
  readonly lost: number;
  /** Firings out of order: a number fired twice, early, or (latest) older than one already fired. */
  readonly outOfOrder: number;
  /** The runtime went idle after the producer stopped (false: it stopped firing while still busy). */
  readonly drained: boolean;
  readonly drainMs: number;
}

/** The producer never pushes more than this in one tick, so the event loop keeps turning. */
const kMaxPushesPerTick = 10_000;
/**
 * Slots of the push-time ring. Events in flight are at most `queueCapacity` + 1 under
 * `sequential`; under `latest` the value that fires is at most one firing's worth of pushes
 * behind the newest, far below a million.
 */
const kRingBits = 20;
const kRingMask = (1 << kRingBits) - 1;
/** The largest `queueCapacity` the ring can follow. */
export const kMaxQueueCapacity = 1 << (kRingBits - 1);
/** Sampling interval of the event-loop delay monitor, in ms. */
const kEldResolutionMs = 10;
/** A draining step that fires nothing for this long counts as stuck. */
export const kStallMs = 10_000;
/** How often the drain looks for progress. */
const kDrainPollMs = 100;

/** Counters of the step in progress, updated by the fire listener. */
interface Live {
  readonly histogram: hdr.Histogram;
  fired: number;
  failed: number;
  /** sequential: the next number due to fire; latest: the newest number fired so far (-1 before). */
  cursor: number;
  outOfOrder: number;
}

export class LoadDriver {
  readonly options: PipelineOptions;
  readonly #runtime: Runtime;
  readonly #reactor: ReactorHandle;
  readonly #pushedAt = new Float64Array(1 << kRingBits);
  #live: Live | null = null;

  private constructor(options: PipelineOptions, runtime: Runtime) {
    this.options = options;
    this.#runtime = runtime;
    this.#reactor = runtime.reactor('load_reactor');
    // Touch every page of the ring now, so filling it later does not read as RSS growth.
    this.#pushedAt.fill(-1);
    runtime.on('fire', (record) => this.#onFire(record));
  }

  /** Builds the pipeline and starts its runtime. */
  static async start(options: PipelineOptions): Promise<LoadDriver> {
    const declaration = reactor({
      name: 'load_reactor',
      accumulators: ['a'],
      mode: 'when_any',
      strategy: options.strategy,
    });
    const graph = await new ComputationGraphBuilder('load_chain', {
      reactor: declaration,
      nodes: new URL('../nodes/work.nodes.js', import.meta.url),
      graph: { entry: { inputs: ['a'], next: 'add10' }, add10: { next: 'publish' }, publish: {} },
      executor: options.executor,
    }).build();
    const { threads, niceIncrement, queueCapacity } = options;
    const runtime = new Runtime({ threads, niceIncrement, queueCapacity });
    runtime.register(passthroughAccumulator({ name: 'a' }), declaration, graph);
    await runtime.start();
    return new LoadDriver(options, runtime);
  }

  /** Runs one step: paces the producer for the step's duration, then waits for the drain. */
  async run(step: StepSpec): Promise<StepResult> {
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const live: Live = {
      histogram,
      fired: 0,
      failed: 0,
      cursor: this.options.strategy === 'sequential' ? 0 : -1,
      outOfOrder: 0,
    };
    this.#live = live;
    const eld = monitorEventLoopDelay({ resolution: kEldResolutionMs });
    const paced = Number.isFinite(step.rate);
    const total = paced ? Math.floor((step.rate * step.durationMs) / 1000) : Number.POSITIVE_INFINITY;
    let accepted = 0;
    let refused = 0;
    let due = 0;
    let maxQueued = 0;

    eld.enable();
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const last = elapsed >= step.durationMs;
        due = paced ? Math.min(total, Math.floor((elapsed / 1000) * step.rate)) : accepted + kMaxPushesPerTick;
        const limit = Math.min(due, accepted + kMaxPushesPerTick);
        while (accepted < limit) {
          // Stamp before pushing: the inline executor fires inside push().
          this.#pushedAt[accepted & kRingMask] = performance.now();
          if (!this.#runtime.push('a', { value: accepted })) {
            refused++;
            break;
          }
          accepted++;
        }
        // The queue only grows on pushes, so right after them is where its peaks are.
        maxQueued = Math.max(maxQueued, this.#reactor.getState().queued);
        if (last) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    const seconds = (performance.now() - start) / 1000;
    eld.disable();
    const firedInWindow = live.fired;

    const drainStart = performance.now();
    const drained = await this.#drain(live);
    const drainMs = performance.now() - drainStart;
    this.#live = null;

    const lost =
      this.options.strategy === 'sequential'
        ? accepted - live.cursor
        : accepted > 0 && live.cursor !== accepted - 1
          ? 1
          : 0;
    const ms = (us: number) => us / 1000;
    // The histogram holds whole sampling intervals (the resolution plus the delay): keep the delay.
    const delayMs = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - kEldResolutionMs) : 0);
    return {
      label: step.label,
      offered: paced ? step.rate : null,
      seconds,
      accepted,
      refused,
      behind: paced ? due - accepted : 0,
      eventsPerSec: accepted / seconds,
      firingsPerSec: firedInWindow / seconds,
      fired: live.fired,
      failed: live.failed,
      latencyMs: {
        p50: ms(histogram.getValueAtPercentile(50)),
        p90: ms(histogram.getValueAtPercentile(90)),
        p99: ms(histogram.getValueAtPercentile(99)),
        p99_9: ms(histogram.getValueAtPercentile(99.9)),
        max: ms(histogram.maxValue),
      },
      maxQueued,
      eventLoopDelayMs: { p50: delayMs(eld.percentile(50)), p99: delayMs(eld.percentile(99)), max: delayMs(eld.max) },
      lost,
      outOfOrder: live.outOfOrder,
      drained,
      drainMs,
    };
  }

  async shutdown(): Promise<void> {
    await this.#runtime.shutdown();
  }

  #onFire(record: FireRecord): void {
    const live = this.#live;
    // Between steps nothing is pushed and the previous step has drained, so nothing fires.
    if (live === null) return;
    const n = (record.inputs.a as { value: number }).value;
    // The listener reads the output, as a service would; a wrong one counts as a failed firing.
    if (record.ok && (record.outputs!.publish as { value: number }).value !== n + 10) live.failed++;
    live.histogram.recordValue(Math.max(1, Math.round((performance.now() - this.#pushedAt[n & kRingMask]!) * 1000)));
    live.fired++;
    if (!record.ok) live.failed++;
    if (this.options.strategy === 'sequential') {
      if (n === live.cursor) live.cursor++;
      else live.outOfOrder++;
    } else {
      // latest: firings may skip values (collapsed bursts), but never go back.
      if (n <= live.cursor) live.outOfOrder++;
      else live.cursor = n;
    }
  }

  /**
   * Waits for the runtime to go idle. True when it did; false when nothing fired for
   * {@link kStallMs} while it was still busy (a long backlog that keeps draining is not stuck).
   */
  async #drain(live: Live): Promise<boolean> {
    const idle = this.#runtime.idle().then(() => true);
    let fired = live.fired;
    let progressed = performance.now();
    while (!(await Promise.race([idle, sleep(kDrainPollMs, false)]))) {
      if (live.fired !== fired) {
        fired = live.fired;
        progressed = performance.now();
      } else if (performance.now() - progressed > kStallMs) {
        return false;
      }
    }
    return true;
  }
}
