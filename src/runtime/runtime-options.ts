/**
 * The options of a `Runtime`: their types, their defaults in one object, and the one place
 * that checks what a caller passed and applies the defaults. Every refusal is a
 * ConfigurationError naming the option and printing the value received.
 */
import { availableParallelism } from 'node:os';
import { describe } from '../model/describe.js';
import { ConfigurationError } from '../model/errors.js';
import {
  optionalBoolean,
  rejectUnknownKeys,
  requireNonEmptyString,
  requireOneOf,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';
import { requireNiceIncrement } from '../exec/node-pool-options.js';
import { isPostgresUrl, type Durability } from './checkpoint/store.js';
import type { StateMismatchPolicy } from './persistence.js';

/** Options of a `Runtime`. */
export interface RuntimeOptions {
  /**
   * Worker threads of the runtime's pool, in all: every registered pool graph that names no
   * pool of its own runs there.
   * @default os.availableParallelism()
   * @example new Runtime({ threads: 4 })
   */
  readonly threads?: number;
  /**
   * Added to the scheduling priority (nice value) of the pool's worker threads, 0 to 19, as
   * `NodePool`'s option of that name: higher lets the main thread, which takes events, fires
   * reactors and routes results, run first when the workers and it compete for the cores. It
   * matters only with more busy threads than free cores.
   * @default 0
   * @example new Runtime({ threads: 2, niceIncrement: 10 })
   */
  readonly niceIncrement?: number;
  /**
   * Where to checkpoint to and restore from: a SQLite file, or a PostgreSQL database as a
   * `postgres://` or `postgresql://` URL (then `id` names this runtime's state in it). Omit to
   * keep state in memory only. A file, or an id in a database, belongs to one runtime at a time.
   * @default undefined (state in memory only)
   * @example new Runtime({ checkpoint: './cloaca.db' })
   * @example new Runtime({ checkpoint: 'postgres://cloaca@db.internal:5432/cloaca', id: 'pricing-1' })
   */
  readonly checkpoint?: string;
  /**
   * Names this runtime's state in a PostgreSQL checkpoint (required there): one runtime owns an
   * id at a time. Also the default consumer name of its Redis stream accumulators, so that a
   * runtime taking over the id re-reads the entries its predecessor left unacknowledged.
   * @default undefined (required with a PostgreSQL checkpoint)
   * @example new Runtime({ checkpoint: 'postgres://cloaca@db.internal:5432/cloaca', id: 'pricing-1' })
   */
  readonly id?: string;
  /**
   * With a PostgreSQL checkpoint: when another runtime owns the `id`, wait for it to go away
   * instead of failing `start()`. `start()` then resolves once this runtime owns the id and has
   * restored its state; meanwhile `/ready` of `cloaca/http` answers 503 with reason `standby`.
   * An owner that loses its session waits again the same way, then carries on: from where it
   * was when nobody owned the id meanwhile; otherwise from the stored state, which it restores
   * in place of the stale state it held, as a start would.
   * @default false
   * @example new Runtime({ checkpoint: 'postgres://cloaca@db.internal:5432/cloaca', id: 'pricing-1', standby: true })
   */
  readonly standby?: boolean;
  /**
   * `'process'`: commits survive the process being killed (SIGKILL); `'power'`: also a power
   * cut (an fsync per commit, slower).
   * @default 'process'
   * @example new Runtime({ checkpoint: './cloaca.db', durability: 'power' })
   */
  readonly durability?: Durability;
  /**
   * Most boundaries a sequential reactor queues, and most events a batch accumulator without a
   * `maxBufferSize` buffers; past it `push` returns false.
   * @default 10000
   * @example new Runtime({ queueCapacity: 1000 })
   */
  readonly queueCapacity?: number;
  /**
   * What to do with checkpointed state that no longer fits the registrations (a component
   * renamed or removed, a reactor's strategy or an accumulator's kind changed): `'fail'` rejects
   * `start()` naming it; `'set-aside'` keeps it in the file's `set_aside` table, reports it as an
   * `error` event and starts the component empty. It is never applied to the wrong thing.
   * @default 'fail'
   * @example new Runtime({ checkpoint: './cloaca.db', stateMismatch: 'set-aside' })
   */
  readonly stateMismatch?: StateMismatchPolicy;
  /**
   * Where `host.log(...)` from nodes, and errors nobody listens for, go.
   * @default console.log, prefixed with '[cloaca]'
   * @example new Runtime({ log: (...args) => logger.info(args.join(' ')) })
   */
  readonly log?: (...args: unknown[]) => void;
  /**
   * Keep latency histograms, last event and fire times and each reactor's recent fire records
   * (`inspect()`, `recentFires()`, the metrics of `cloaca/http`). Counts are exact. While a
   * reactor fires more than about a thousand times a second, the timing is sampled: about a
   * thousand of its firings a second are timed (fire and node duration histograms, recent
   * fires), and every failure is kept in the recent fires. Costs under 5% of the runtime's
   * throughput. A `fire` listener, or tracing, has every firing timed.
   * @default true
   * @example new Runtime({ metrics: false })
   */
  readonly metrics?: boolean;
  /**
   * Trace firings with OpenTelemetry: a span per graph run, a child span per node, context
   * carried through `host.push`. Needs `@opentelemetry/api` and a registered tracer provider.
   * @default false
   * @example new Runtime({ tracing: true })
   */
  readonly tracing?: boolean;
}

/** {@link RuntimeOptions} checked, with every default applied. */
export interface ResolvedRuntimeOptions {
  readonly threads: number;
  readonly niceIncrement: number;
  /** Undefined: state is kept in memory only. */
  readonly checkpoint: string | undefined;
  /** Undefined: no id (allowed unless the checkpoint is PostgreSQL). */
  readonly id: string | undefined;
  readonly standby: boolean;
  readonly durability: Durability;
  readonly queueCapacity: number;
  readonly stateMismatch: StateMismatchPolicy;
  readonly log: (...args: unknown[]) => void;
  readonly metrics: boolean;
  readonly tracing: boolean;
}

/** What each omitted option of a `Runtime` means. */
export const runtimeDefaults: Readonly<Omit<ResolvedRuntimeOptions, 'checkpoint' | 'id'>> = Object.freeze({
  // Read at each construction, not once: the cores a process may use can change (affinity, cgroups).
  get threads(): number {
    return availableParallelism();
  },
  niceIncrement: 0,
  standby: false,
  durability: 'process',
  queueCapacity: 10_000,
  stateMismatch: 'fail',
  log: (...args: unknown[]) => console.log('[cloaca]', ...args),
  metrics: true,
  tracing: false,
});

const kOptionKeys: readonly (keyof RuntimeOptions)[] = [
  'threads',
  'niceIncrement',
  'checkpoint',
  'id',
  'standby',
  'durability',
  'queueCapacity',
  'stateMismatch',
  'log',
  'metrics',
  'tracing',
];

/**
 * Checks the options of a `new Runtime(options)` and applies {@link runtimeDefaults} to those
 * left out (`undefined`). Throws ConfigurationError for something that is not an options
 * object, an unknown key, or a bad value, naming the option and printing the value.
 *
 * @example
 * resolveRuntimeOptions({ threads: 2 }).queueCapacity; // 10000
 */
export function resolveRuntimeOptions(options: RuntimeOptions): ResolvedRuntimeOptions {
  requireOptionsObject('Runtime', options);
  rejectUnknownKeys('Runtime', options, kOptionKeys);
  // Only `undefined` takes the default: a `null` is a bad value, refused like any other.
  const {
    threads = runtimeDefaults.threads,
    niceIncrement = runtimeDefaults.niceIncrement,
    queueCapacity = runtimeDefaults.queueCapacity,
  } = options;
  requirePositiveInteger('Runtime', 'threads', threads);
  requireNiceIncrement('Runtime', niceIncrement);
  requirePositiveInteger('Runtime', 'queueCapacity', queueCapacity);
  const { checkpoint, id, standby, durability, stateMismatch, metrics, tracing } = options;
  if (checkpoint !== undefined) requireNonEmptyString('Runtime', 'checkpoint', checkpoint);
  if (id !== undefined) requireNonEmptyString('Runtime', 'id', id);
  optionalBoolean('Runtime', 'standby', standby);
  const postgres = checkpoint !== undefined && isPostgresUrl(checkpoint);
  if (postgres && id === undefined) {
    throw new ConfigurationError(
      'id',
      id,
      `Runtime: 'id' is required with a PostgreSQL checkpoint (it names this runtime's state in the database), got ${describe(id)}`,
    );
  }
  if (standby === true && !postgres) {
    throw new ConfigurationError(
      'standby',
      standby,
      `Runtime: 'standby' needs a PostgreSQL checkpoint (postgres:// or postgresql://), got checkpoint ${describe(checkpoint)}`,
    );
  }
  if (durability !== undefined) requireOneOf('Runtime', 'durability', durability, ['process', 'power'] as const);
  if (stateMismatch !== undefined) {
    requireOneOf('Runtime', 'stateMismatch', stateMismatch, ['fail', 'set-aside'] as const);
  }
  optionalBoolean('Runtime', 'metrics', metrics);
  optionalBoolean('Runtime', 'tracing', tracing);
  return {
    threads,
    niceIncrement,
    checkpoint,
    id,
    standby: standby ?? runtimeDefaults.standby,
    durability: durability ?? runtimeDefaults.durability,
    queueCapacity,
    stateMismatch: stateMismatch ?? runtimeDefaults.stateMismatch,
    log: options.log ?? runtimeDefaults.log,
    metrics: metrics ?? runtimeDefaults.metrics,
    tracing: tracing ?? runtimeDefaults.tracing,
  };
}
