/**
 * What `runtime.inspect()` reports: plain data (and live histogram views) about every
 * accumulator, reactor and graph of a runtime, its pool and its checkpoint. Kept apart from the
 * observer that gathers it, so the public types reach nothing the runtime loads only on demand.
 */
import type { AccumulatorKind } from '../accumulators/accumulator.js';
import type { AccumulatorHealth, ReactorHealth } from '../model/health.js';
import type { InputStrategy, ReactionMode } from '../model/reactor-declaration.js';
import type { LatencyHistogramView } from './latency-histogram.js';

/** An accumulator, as `runtime.inspect()` reports it. */
export interface AccumulatorReport {
  readonly name: string;
  readonly kind: AccumulatorKind;
  readonly health: AccumulatorHealth;
  /** The reactors it feeds. */
  readonly reactors: readonly string[];
  /** Events offered (pushed, received, polled). */
  readonly events: number;
  /** Events dropped because `process`/`poll` threw, and backend failures. */
  readonly failures: number;
  /** Pushes refused for backpressure. */
  readonly refused: number;
  /**
   * Events accepted and not yet fired: what the accumulator buffers itself (a batch) plus the
   * deepest sequential queue among the reactors it feeds.
   */
  readonly bufferDepth: number;
  /** The depth at which pushes are refused; null when nothing bounds it (latest reactors only). */
  readonly bufferCapacity: number | null;
  /** Epoch ms of the last boundary it delivered, or null. */
  readonly lastEventAt: number | null;
  /** Stream accumulators: messages published but not yet received, when the backend can tell; else null. */
  readonly lag: number | null;
}

/** A reactor, as `runtime.inspect()` reports it. */
export interface ReactorReport {
  readonly name: string;
  readonly health: ReactorHealth;
  readonly accumulators: readonly string[];
  readonly mode: ReactionMode;
  readonly strategy: InputStrategy;
  /** The graphs it fires. */
  readonly graphs: readonly string[];
  readonly paused: boolean;
  /** Completed firings (each ran every bound graph). */
  readonly fires: number;
  /** Graph runs that failed. */
  readonly failures: number;
  /** Sequential boundaries waiting to fire. */
  readonly queued: number;
  /** The most it queues (sequential), or null (latest). */
  readonly queueCapacity: number | null;
  /** Epoch ms when its last firing started, or null. */
  readonly lastFiredAt: number | null;
  /** True for a keyed reactor. */
  readonly keyed: boolean;
  /** Keys it holds (a keyed reactor), or null. */
  readonly keys: number | null;
}

/** One node of a graph's topology. */
export interface TopologyNode {
  readonly id: string;
  /** The accumulators it reads from the cache. */
  readonly inputs: readonly string[];
  /** Its level in the plan (what can run beside it shares it). */
  readonly level: number;
  readonly terminal: boolean;
}

/** One edge of a graph's topology: `label` is the routing variant, null for a `next` edge. */
export interface TopologyEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string | null;
}

/** A graph, as `runtime.inspect()` reports it. */
export interface GraphReport {
  readonly name: string;
  readonly reactor: string;
  readonly executor: 'pool' | 'inline';
  readonly levels: readonly (readonly string[])[];
  readonly topology: { readonly nodes: readonly TopologyNode[]; readonly edges: readonly TopologyEdge[] };
  /** Runs (fire records), failed ones included. */
  readonly fires: number;
  readonly failures: number;
  readonly lastFiredAt: number | null;
  /** Fire record durations (ms): from the firing's start to this graph's end. */
  readonly fireDuration: LatencyHistogramView;
  /** Per node: its duration (ms) as measured where it ran. */
  readonly nodeDuration: Readonly<Record<string, LatencyHistogramView>>;
}

/** The runtime's worker pool. */
export interface PoolReport {
  readonly threads: number;
  /** Units running or handed to the threads. */
  readonly inFlight: number;
  /** Units ready and waiting for a thread. */
  readonly queued: number;
  /** Units finished since the pool started. */
  readonly completed: number;
  /** Total time (ms) nodes of pool graphs spent running, as measured in the workers. */
  readonly busyMs: number;
}

/**
 * Whether a runtime on a PostgreSQL checkpoint owns its `id`: `owner`; `standby`, waiting for
 * the id (at start, or after losing its session with `standby: true`), and neither accepting
 * nor firing; `lost`, its session ended and it does not wait to own the id again (without
 * `standby`, or when the stored state it took back no longer fits its registrations).
 */
export type CheckpointOwnership = 'owner' | 'standby' | 'lost';

/** What `runtime.inspect()` returns. Histograms are live views, read when used. */
export interface RuntimeReport {
  readonly state: string;
  /** Whether the runtime owns its `id` in a PostgreSQL checkpoint; null with any other checkpoint, or none. */
  readonly ownership: CheckpointOwnership | null;
  /** Epoch ms when `start()` completed, or null. */
  readonly startedAt: number | null;
  /** False with `metrics: false`: histograms, times and the fire history are not kept. */
  readonly metrics: boolean;
  readonly accumulators: readonly AccumulatorReport[];
  readonly reactors: readonly ReactorReport[];
  readonly graphs: readonly GraphReport[];
  /** The runtime's own pool, or null when no graph runs on it. */
  readonly pool: PoolReport | null;
  /** Checkpoint commit durations (ms), or null without a checkpoint. */
  readonly checkpointCommits: LatencyHistogramView | null;
}
