/** Runtime options (src/runtime/runtime-options.ts): the defaults, and each bad value refused by name. */
import { availableParallelism } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../src/model/errors.js';
import { resolveRuntimeOptions, runtimeDefaults, type RuntimeOptions } from '../../src/runtime/runtime-options.js';

describe('resolveRuntimeOptions', () => {
  it('applies every default to an empty options object', () => {
    const resolved = resolveRuntimeOptions({});
    expect(resolved).toEqual({
      threads: availableParallelism(),
      niceIncrement: 0,
      checkpoint: undefined,
      id: undefined,
      standby: false,
      durability: 'process',
      queueCapacity: 10_000,
      stateMismatch: 'fail',
      log: runtimeDefaults.log,
      metrics: true,
      tracing: false,
    });
  });

  it('keeps what is passed', () => {
    const log = (): void => {};
    const options: RuntimeOptions = {
      threads: 3,
      niceIncrement: 10,
      checkpoint: 'postgresql://db.internal/cloaca',
      id: 'pricing-1',
      standby: true,
      durability: 'power',
      queueCapacity: 7,
      stateMismatch: 'set-aside',
      log,
      metrics: false,
      tracing: true,
    };
    expect(resolveRuntimeOptions(options)).toEqual(options);
  });

  it('the default log prefixes what it writes', () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      runtimeDefaults.log('hello', 1);
      expect(spy).toHaveBeenCalledWith('[cloaca]', 'hello', 1);
    } finally {
      spy.mockRestore();
    }
  });

  it('the defaults cannot be changed', () => {
    expect(Object.isFrozen(runtimeDefaults)).toBe(true);
  });

  it.each([
    ['threads', 0, "Runtime: 'threads' must be a positive integer, got 0 (number)"],
    ['threads', 1.5, "Runtime: 'threads' must be a positive integer, got 1.5 (number)"],
    ['threads', null, "Runtime: 'threads' must be a positive integer, got null"],
    ['niceIncrement', -1, "Runtime: 'niceIncrement' must be an integer from 0 to 19, got -1 (number)"],
    ['niceIncrement', 20, "Runtime: 'niceIncrement' must be an integer from 0 to 19, got 20 (number)"],
    ['niceIncrement', '5', "Runtime: 'niceIncrement' must be an integer from 0 to 19, got '5'"],
    ['queueCapacity', -1, "Runtime: 'queueCapacity' must be a positive integer, got -1 (number)"],
    ['queueCapacity', '10', "Runtime: 'queueCapacity' must be a positive integer, got '10'"],
    ['checkpoint', '', "Runtime: 'checkpoint' must be a non-empty string, got ''"],
    ['checkpoint', 5, "Runtime: 'checkpoint' must be a non-empty string, got 5 (number)"],
    ['durability', 'disk', "Runtime: unknown durability 'disk', expected 'process' or 'power'"],
    ['stateMismatch', 'drop', "Runtime: unknown stateMismatch 'drop', expected 'fail' or 'set-aside'"],
    ['metrics', 'yes', "Runtime: 'metrics' must be a boolean, got 'yes'"],
    ['tracing', 1, "Runtime: 'tracing' must be a boolean, got 1 (number)"],
    ['id', '', "Runtime: 'id' must be a non-empty string, got ''"],
    ['standby', 'yes', "Runtime: 'standby' must be a boolean, got 'yes'"],
    [
      'standby',
      true,
      "Runtime: 'standby' needs a PostgreSQL checkpoint (postgres:// or postgresql://), got checkpoint undefined",
    ],
  ])('refuses %s: %j, naming the option and printing the value', (option, value, message) => {
    const options = { [option]: value } as RuntimeOptions;
    expect(() => resolveRuntimeOptions(options)).toThrow(ConfigurationError);
    expect(() => resolveRuntimeOptions(options)).toThrow(message);
  });

  it('needs an id with a PostgreSQL checkpoint', () => {
    for (const checkpoint of ['postgres://db/cloaca', 'postgresql://db/cloaca', 'POSTGRES://db/cloaca']) {
      expect(() => resolveRuntimeOptions({ checkpoint })).toThrow(
        "Runtime: 'id' is required with a PostgreSQL checkpoint (it names this runtime's state in the database), got undefined",
      );
    }
    expect(resolveRuntimeOptions({ checkpoint: './x.db', id: 'pricing-1' }).id).toBe('pricing-1');
  });

  it('refuses an unknown option, listing the known ones', () => {
    expect(() => resolveRuntimeOptions({ thread: 2 } as RuntimeOptions)).toThrow(
      /^Runtime: unknown option 'thread' \(expected 'threads', 'niceIncrement', 'checkpoint', .*'tracing'\)$/,
    );
  });

  it('refuses what is not an options object', () => {
    expect(() => resolveRuntimeOptions(null as unknown as RuntimeOptions)).toThrow(
      'Runtime: expected an options object, got null',
    );
    expect(() => resolveRuntimeOptions([] as unknown as RuntimeOptions)).toThrow(/got an array/);
  });
});
