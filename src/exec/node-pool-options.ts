/**
 * The options of a `NodePool`, their defaults, and their check. A graph checks its `pool` option
 * at build time and creates the pool only on first execution, so the check starts no thread.
 */
import { availableParallelism } from 'node:os';
import {
  rejectUnknownKeys,
  requireIntegerInRange,
  requireOneOf,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';

/** Nice values stop at 19 on Linux and macOS: the highest increment that still means something. */
const kMaxNiceIncrement = 19;

/** Options of a `NodePool`. */
export interface NodePoolOptions {
  /**
   * Worker threads, started with the pool and kept for its life.
   * @default os.availableParallelism()
   * @example
   * new NodePool({ threads: 4 });
   */
  readonly threads?: number;
  /**
   * Units a worker may hold at once when they are light (measured under 1 ms) or asynchronous;
   * heavy units always get a worker to themselves.
   * @default 4
   * @example
   * new NodePool({ concurrentTasksPerWorker: 8 }); // nodes that mostly wait on I/O
   */
  readonly concurrentTasksPerWorker?: number;
  /**
   * Piscina's `atomics` mode. `'sync'` freezes an idle worker's event loop, so timers a node
   * leaves behind never run and a port to the main thread stops answering while idle.
   * @default 'disabled'
   * @example
   * new NodePool({ atomics: 'async' });
   */
  readonly atomics?: 'sync' | 'async' | 'disabled';
  /**
   * Most light units sent to a worker in one message when several wait; 1 sends every unit on
   * its own.
   * @default 32
   * @example
   * new NodePool({ batchSize: 1 });
   */
  readonly batchSize?: number;
  /**
   * Memory limits per worker; a worker that exceeds them dies and is replaced.
   * @default Node's own limits
   * @example
   * new NodePool({ resourceLimits: { maxOldGenerationSizeMb: 256 } });
   */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly stackSizeMb?: number;
  };
  /**
   * Added to the scheduling priority (nice value) of each worker thread, 0 to 19; higher runs
   * the workers behind the main thread when they compete for a core. On a machine with no more
   * threads than free cores it changes nothing; with fewer, the main thread, which takes events
   * and routes results, no longer waits behind busy workers. Works on Linux and macOS where
   * Piscina's optional dependency `@napi-rs/nice` is installed (npm installs it there), and is
   * ignored elsewhere. A thread's priority cannot be raised again, so it holds for the pool's life.
   * @default 0
   * @example
   * new NodePool({ niceIncrement: 10 }); // the main thread first, the workers with what is left
   */
  readonly niceIncrement?: number;
  /** @internal Set by a Runtime: the channel its workers reach it on (`host` of `cloaca/worker`). */
  readonly hostChannel?: string;
}

/** {@link NodePoolOptions} checked, with every defaulted option filled in. */
export interface ResolvedNodePoolOptions {
  readonly threads: number;
  readonly concurrentTasksPerWorker: number;
  readonly atomics: 'sync' | 'async' | 'disabled';
  readonly batchSize: number;
  readonly niceIncrement: number;
  readonly resourceLimits: NodePoolOptions['resourceLimits'];
  readonly hostChannel: string | undefined;
}

/**
 * The value of each {@link NodePoolOptions} option left out. `threads` is read each time options
 * are resolved, so it follows the CPUs this process may use at that moment.
 */
export const nodePoolDefaults: Readonly<Omit<ResolvedNodePoolOptions, 'resourceLimits' | 'hostChannel'>> = {
  get threads(): number {
    return availableParallelism();
  },
  concurrentTasksPerWorker: 4,
  atomics: 'disabled',
  batchSize: 32,
  niceIncrement: 0,
};

const kOptionKeys: readonly (keyof NodePoolOptions)[] = [
  'threads',
  'concurrentTasksPerWorker',
  'atomics',
  'batchSize',
  'niceIncrement',
  'resourceLimits',
  'hostChannel',
];

/**
 * Checks pool options and fills in {@link nodePoolDefaults} for those left
 * `undefined`. Starts no thread. Throws ConfigurationError.
 */
export function resolveNodePoolOptions(options: NodePoolOptions): ResolvedNodePoolOptions {
  requireOptionsObject('NodePool', options);
  rejectUnknownKeys('NodePool', options, kOptionKeys);
  const threads = given(options.threads, nodePoolDefaults.threads);
  const concurrentTasksPerWorker = given(options.concurrentTasksPerWorker, nodePoolDefaults.concurrentTasksPerWorker);
  const atomics = given(options.atomics, nodePoolDefaults.atomics);
  const batchSize = given(options.batchSize, nodePoolDefaults.batchSize);
  const niceIncrement = given(options.niceIncrement, nodePoolDefaults.niceIncrement);
  requirePositiveInteger('NodePool', 'threads', threads);
  requirePositiveInteger('NodePool', 'concurrentTasksPerWorker', concurrentTasksPerWorker);
  requireOneOf('NodePool', 'atomics mode', atomics, ['sync', 'async', 'disabled'] as const);
  requirePositiveInteger('NodePool', 'batchSize', batchSize);
  requireNiceIncrement('NodePool', niceIncrement);
  return {
    threads,
    concurrentTasksPerWorker,
    atomics,
    batchSize,
    niceIncrement,
    resourceLimits: options.resourceLimits,
    hostChannel: options.hostChannel,
  };
}

/** Throws unless `value` is a nice increment Piscina can apply: an integer from 0 to 19. */
export function requireNiceIncrement(owner: string, value: unknown): number {
  return requireIntegerInRange(owner, 'niceIncrement', value, 0, kMaxNiceIncrement);
}

/** `value`, or `fallback` when it is `undefined` (not `??`: a `null` must reach the check and be refused). */
function given<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}
