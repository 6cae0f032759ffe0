/** Routing keys to partitions of a stream (src/accumulators/partition.ts). */
import { describe, expect, it } from 'vitest';
import { partitionOf, partitionStream } from '../../src/accumulators/partition.js';
import { ConfigurationError } from '../../src/model/errors.js';

describe('partitionOf', () => {
  it('is the 32-bit FNV-1a hash of the UTF-8 bytes, modulo the count', () => {
    // Published FNV-1a test vectors, read whole with a count of 2^32.
    expect(partitionOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(partitionOf('foobar', 8)).toBe(0xbf9cf968 % 8);
    // Not UTF-16 code units: 'é' is two bytes.
    expect(partitionOf('é', 2 ** 32)).not.toBe(partitionOf('\u00e9'.normalize('NFD'), 2 ** 32));
  });

  it('spreads keys over every partition, each in range', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`account-${i}`, 8)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('names the stream of a key', () => {
    expect(partitionStream('orders', 'foobar', 8)).toBe(`orders.${0xbf9cf968 % 8}`);
    expect(partitionStream('orders', 'any', 1)).toBe('orders.0');
  });

  it('refuses a count that is not a positive integer and a key that is not a string', () => {
    for (const count of [0, -1, 1.5, Number.NaN]) {
      expect(() => partitionOf('k', count)).toThrow(ConfigurationError);
    }
    expect(() => partitionOf(42 as unknown as string, 4)).toThrow(/'key' must be a string, got 42/);
  });
});
