/**
 * Partitioned streams: a topic split into N streams (`<topic>.0` ... `<topic>.<N-1>`), each
 * consumed by one runtime id (and its standby), so that the events of one key always reach the
 * same runtime, in the order they were produced, whichever machine runs it.
 *
 * The partition of a key is the 32-bit FNV-1a hash of its UTF-8 bytes, modulo N: stable across
 * processes, machines and releases, and simple to compute in any language, so producers outside
 * Node route the same way. Changing N moves most keys; drain the streams before changing it.
 */
import { describe } from '../model/describe.js';
import { ConfigurationError } from '../model/errors.js';
import { requirePositiveInteger } from '../model/options.js';

const kFnvOffset = 0x811c9dc5;
const kFnvPrime = 0x01000193;
const encoder = new TextEncoder();

/**
 * The partition, in `[0, partitions)`, that `key` belongs to. Throws ConfigurationError for a
 * key that is not a string or a count that is not a positive integer, printing the value.
 *
 * @example
 * partitionOf('EURUSD', 8); // the same number in every process, on every machine
 */
export function partitionOf(key: string, partitions: number): number {
  requirePositiveInteger('partitionOf', 'partitions', partitions);
  if (typeof key !== 'string') {
    throw new ConfigurationError('partitionOf', key, `partitionOf: 'key' must be a string, got ${describe(key)}`);
  }
  let hash = kFnvOffset;
  for (const byte of encoder.encode(key)) hash = Math.imul(hash ^ byte, kFnvPrime);
  return (hash >>> 0) % partitions;
}

/**
 * The stream a producer writes an event of `key` to: `<topic>.<partitionOf(key, partitions)>`.
 * The runtime consuming partition `p` reads the topic `` `${topic}.${p}` ``.
 *
 * @example
 * await redis.xAdd(partitionStream('orders', order.account, 8), '*', { data: JSON.stringify(order) });
 */
export function partitionStream(topic: string, key: string, partitions: number): string {
  return `${topic}.${partitionOf(key, partitions)}`;
}
