/** NodePool options (src/exec/node-pool-options.ts): defaults filled in, wrong values refused. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { nodePoolDefaults, resolveNodePoolOptions } from '../../src/exec/node-pool-options.js';
import { ConfigurationError } from '../../src/model/errors.js';

describe('resolveNodePoolOptions', () => {
  it('fills in every default for an empty object', () => {
    expect(resolveNodePoolOptions({})).toEqual({
      threads: availableParallelism(),
      concurrentTasksPerWorker: 4,
      atomics: 'disabled',
      batchSize: 32,
      niceIncrement: 0,
      resourceLimits: undefined,
      hostChannel: undefined,
    });
    expect(nodePoolDefaults.threads).toBe(availableParallelism());
  });

  it('keeps given options and takes the default for one set to undefined', () => {
    const limits = { maxOldGenerationSizeMb: 64 };
    expect(
      resolveNodePoolOptions({
        threads: 2,
        batchSize: undefined,
        atomics: 'sync',
        niceIncrement: 19,
        resourceLimits: limits,
      }),
    ).toMatchObject({ threads: 2, batchSize: 32, atomics: 'sync', niceIncrement: 19, resourceLimits: limits });
  });

  it.each([
    [{ threads: 0 }, /threads/],
    [{ threads: null }, /threads/],
    [{ concurrentTasksPerWorker: 1.5 }, /concurrentTasksPerWorker/],
    [{ batchSize: -1 }, /batchSize/],
    [{ atomics: 'always' }, /atomics/],
    [{ niceIncrement: -1 }, /'niceIncrement' must be an integer from 0 to 19, got -1/],
    [{ niceIncrement: 2.5 }, /'niceIncrement' must be an integer from 0 to 19, got 2\.5/],
    [{ niceIncrement: 20 }, /'niceIncrement' must be an integer from 0 to 19, got 20/],
    [{ thread: 2 }, /thread/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveNodePoolOptions(options as never)).toThrow(ConfigurationError);
    expect(() => resolveNodePoolOptions(options as never)).toThrow(message);
  });

  it('refuses something that is not an options object', () => {
    expect(() => resolveNodePoolOptions(4 as never)).toThrow(ConfigurationError);
  });
});
