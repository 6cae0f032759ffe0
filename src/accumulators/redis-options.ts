/**
 * The options of the built-in `redis` stream backend (a stream accumulator's `options` when its
 * `type` is `'redis'`), and their validation.
 */
import { hostname } from 'node:os';
import { describe } from '../model/describe.js';
import { parseDuration } from '../model/duration.js';
import { ConfigurationError } from '../model/errors.js';
import {
  rejectUnknownKeys,
  requireNonEmptyString,
  requireOneOf,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';

/** What a `redis` stream accumulator deletes from its stream. */
export type RedisTrim = 'none' | 'acknowledged';

/** `options` of a stream accumulator of type `'redis'`. */
export interface RedisStreamOptions {
  /**
   * The server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS.
   * @default 'redis://127.0.0.1:6379'
   * @example 'redis://:secret@redis.internal:6379/0'
   */
  readonly url?: string;
  /**
   * This consumer's name in the group. A process restarted under the same name first re-reads
   * the entries it had read and not acknowledged; give each process its own stable name. A
   * runtime with an `id` uses it, so the runtime that takes an id over (a standby) re-reads what
   * its predecessor left unacknowledged.
   * @default the runtime's `id`; without one '<accumulator>@<hostname>:<pid>' (unique to this process)
   * @example 'mm-1'
   */
  readonly consumer?: string;
  /**
   * How long one read waits for new entries (`XREADGROUP ... BLOCK`) before the consumer looks
   * for entries to claim and reads again. Shutdown does not wait for it.
   * @default '1s'
   * @example '200ms'
   */
  readonly block?: string;
  /**
   * Most entries one read returns (`COUNT`): entries are read, and acknowledged, this many at
   * a time.
   * @default 100
   * @example 500
   */
  readonly batchSize?: number;
  /**
   * Entries another consumer of the group read and left unacknowledged this long (it died, or
   * it hangs) are claimed by this one (`XAUTOCLAIM`) and delivered here. The consumer looks for
   * them when it connects and then every half of this time.
   * @default '30s'
   * @example '5s'
   */
  readonly claimIdle?: string;
  /**
   * The stream that receives a copy of every entry whose `data` field is not JSON, with the
   * fields `dead.stream`, `dead.id`, `dead.group` and `dead.error` added.
   * @default '<topic>:dead'
   * @example 'orderbook:rejected'
   */
  readonly deadLetter?: string;
  /**
   * The dead-letter stream keeps about this many entries, the newest (`XADD ... MAXLEN ~`).
   * @default 10000
   * @example 1000
   */
  readonly deadLetterMaxLen?: number;
  /**
   * `'acknowledged'`: after acknowledging, the consumer deletes from the stream the entries
   * every consumer group of the stream has acknowledged (`XTRIM ... MINID`), at most once a
   * second; right when consumer groups are the stream's only readers. `'none'`: the stream is
   * left as it is (producers usually bound it with `XADD ... MAXLEN ~ n`).
   * @default 'none'
   * @example 'acknowledged'
   */
  readonly trim?: RedisTrim;
}

/** {@link RedisStreamOptions} with every default applied and durations in milliseconds. */
export interface RedisStreamSettings {
  readonly url: string;
  readonly consumer: string;
  readonly blockMs: number;
  readonly batchSize: number;
  readonly claimIdleMs: number;
  readonly deadLetter: string;
  readonly deadLetterMaxLen: number;
  readonly trim: RedisTrim;
}

const kKeys = [
  'url',
  'consumer',
  'block',
  'batchSize',
  'claimIdle',
  'deadLetter',
  'deadLetterMaxLen',
  'trim',
] as const satisfies ReadonlyArray<keyof RedisStreamOptions>;

/**
 * What the Redis Streams options default to; `consumer` (the runtime's id, or `<accumulator>@<host>:<pid>`) and
 * `deadLetter` (`<topic>:dead`) are made from the accumulator's own names.
 */
const redisStreamDefaults = {
  url: 'redis://127.0.0.1:6379',
  block: '1s',
  batchSize: 100,
  claimIdle: '30s',
  deadLetterMaxLen: 10_000,
  trim: 'none',
} as const;

/**
 * Validates the options of a `redis` stream accumulator and applies the defaults; `consumer`
 * defaults to the runtime's `runtimeId` when it has one. Throws {@link ConfigurationError}
 * naming the accumulator, the option and the value.
 */
export function redisStreamSettings(
  accumulator: string,
  topic: string,
  options: Readonly<Record<string, unknown>>,
  runtimeId?: string,
): RedisStreamSettings {
  const owner = `stream accumulator '${accumulator}' (redis)`;
  requireOptionsObject(owner, options);
  rejectUnknownKeys(owner, options, kKeys);
  const o = options as RedisStreamOptions;
  const url = o.url === undefined ? redisStreamDefaults.url : requireNonEmptyString(owner, 'url', o.url);
  if (!/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new ConfigurationError(
      owner,
      url,
      `${owner}: 'url' must be a redis:// or rediss:// URL, got ${describe(url)}`,
    );
  }
  return {
    url,
    consumer:
      o.consumer === undefined
        ? (runtimeId ?? `${accumulator}@${hostname()}:${process.pid}`)
        : requireNonEmptyString(owner, 'consumer', o.consumer),
    blockMs: positiveDuration(owner, 'block', o.block ?? redisStreamDefaults.block),
    batchSize:
      o.batchSize === undefined
        ? redisStreamDefaults.batchSize
        : requirePositiveInteger(owner, 'batchSize', o.batchSize),
    claimIdleMs: positiveDuration(owner, 'claimIdle', o.claimIdle ?? redisStreamDefaults.claimIdle),
    deadLetter: o.deadLetter === undefined ? `${topic}:dead` : requireNonEmptyString(owner, 'deadLetter', o.deadLetter),
    deadLetterMaxLen:
      o.deadLetterMaxLen === undefined
        ? redisStreamDefaults.deadLetterMaxLen
        : requirePositiveInteger(owner, 'deadLetterMaxLen', o.deadLetterMaxLen),
    trim:
      o.trim === undefined
        ? redisStreamDefaults.trim
        : requireOneOf(owner, 'trim', o.trim, ['none', 'acknowledged'] as const),
  };
}

/** A duration option that must be longer than 0 (`BLOCK 0` would wait forever). */
function positiveDuration(owner: string, option: string, value: unknown): number {
  const ms = parseDuration(value, `${owner} option '${option}'`);
  if (ms === 0) {
    throw new ConfigurationError(owner, value, `${owner}: '${option}' must be longer than 0, got ${describe(value)}`);
  }
  return ms;
}
