/**
 * Runtime registries and lifecycle errors, and declaration-time validation of accumulators
 * (contract section 6: push to an unknown accumulator, duplicate names, unregistered reactors,
 * durations, zero or malformed intervals).
 */
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  ConfigurationError,
  RegistrationError,
  StateError,
  batchAccumulator,
  parseDuration,
  passthroughAccumulator,
  pollingAccumulator,
  reactor,
  stateAccumulator,
  streamAccumulator,
} from 'cloaca';
import { rejectionOf, thrownBy, unique, useRuntimes } from './support.js';

const { runtime, graph } = useRuntimes();

describe('registry', () => {
  it('push to an unknown accumulator throws a RegistrationError naming it', async () => {
    const rt = runtime();
    const a = unique('a');
    rt.register(passthroughAccumulator({ name: a }), reactor({ name: unique('r'), accumulators: [a] }));
    await rt.start();
    const error = thrownBy(() => rt.push('no_such_accumulator', 1));
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as RegistrationError).component).toBe('no_such_accumulator');
    expect((error as Error).message).toContain("'no_such_accumulator'");
    // The real one still works.
    expect(rt.push(a, 1)).toBe(true);
  });

  it('registering two components under one name throws, naming it', () => {
    const rt = runtime();
    const name = unique('dup');
    rt.register(passthroughAccumulator({ name }));
    const twice = thrownBy(() => rt.register(passthroughAccumulator({ name })));
    expect(twice).toBeInstanceOf(RegistrationError);
    expect((twice as Error).message).toContain(`'${name}'`);
    // Across kinds too: a reactor may not take an accumulator's name.
    const across = thrownBy(() => rt.register(reactor({ name, accumulators: [name] })));
    expect(across).toBeInstanceOf(RegistrationError);
    expect((across as RegistrationError).component).toBe(name);
  });

  it('start() rejects with a CheckpointError naming a checkpoint file it cannot open, and starts nothing', async () => {
    const a = unique('a');
    const path = '/nonexistent-dir-for-cloaca-tests/state.db';
    const rt = runtime({ checkpoint: path });
    rt.register(passthroughAccumulator({ name: a }), reactor({ name: unique('r'), accumulators: [a] }));
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).path).toBe(path);
    expect((error as Error).message).toContain(path);
    expect(rt.state).toBe('created');
    expect(() => rt.push(a, 1)).toThrow(StateError);
  });

  it("start() rejects naming a graph's reactor that is not registered", async () => {
    const a = unique('a');
    const missing = unique('missing_reactor');
    const R = reactor({ name: missing, accumulators: [a] });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [a] } } });
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), g);
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as RegistrationError).component).toBe(missing);
    expect((error as Error).message).toContain(`'${missing}'`);
  });

  it('start() rejects for a reactor whose accumulators are not registered, naming them', async () => {
    const a = unique('a');
    const gone = unique('gone');
    const name = unique('r');
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), reactor({ name, accumulators: [a, gone] }));
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as Error).message).toContain(`'${name}'`);
    expect((error as Error).message).toContain(`'${gone}'`);
    expect((error as Error).message).not.toContain(`'${a}'`);
  });

  it('start() rejects for a stream accumulator whose backend type is not registered', async () => {
    const s = unique('s');
    const rt = runtime();
    rt.register(
      streamAccumulator({ name: s, type: 'kafka_nope', topic: unique('t') }),
      reactor({ name: unique('r'), accumulators: [s] }),
    );
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as Error).message).toContain("'kafka_nope'");
  });

  it("runtime.reactor('nope') throws a RegistrationError naming it", async () => {
    const rt = runtime();
    const a = unique('a');
    const name = unique('r');
    rt.register(passthroughAccumulator({ name: a }), reactor({ name, accumulators: [a] }));
    const error = thrownBy(() => rt.reactor('nope'));
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as Error).message).toContain("'nope'");
    expect(rt.reactor(name).name).toBe(name);
  });

  it('push before start and after shutdown throws, saying the runtime is not started', async () => {
    const rt = runtime();
    const a = unique('a');
    rt.register(passthroughAccumulator({ name: a }), reactor({ name: unique('r'), accumulators: [a] }));
    const before = thrownBy(() => rt.push(a, 1));
    expect(before).toBeInstanceOf(StateError);
    expect((before as Error).message).toMatch(/created, not started/);
    await rt.start();
    expect(rt.push(a, 1)).toBe(true);
    await rt.shutdown();
    const after = thrownBy(() => rt.push(a, 2));
    expect(after).toBeInstanceOf(StateError);
    expect((after as Error).message).toMatch(/stopped, not started/);
  });

  it('register after start is refused with a StateError; start() after shutdown too', async () => {
    const rt = runtime();
    const a = unique('a');
    rt.register(passthroughAccumulator({ name: a }), reactor({ name: unique('r'), accumulators: [a] }));
    await rt.start();
    expect(() => rt.register(passthroughAccumulator({ name: unique('late') }))).toThrow(StateError);
    await rt.shutdown();
    const again = await rejectionOf(rt.start());
    expect(again).toBeInstanceOf(StateError);
    expect((again as StateError).state).toBe('stopped');
  });

  it('every accumulator kind accepts runtime.push', async () => {
    const names = { p: unique('p'), s: unique('s'), pl: unique('pl'), b: unique('b'), st: unique('st') };
    const rName = unique('r');
    const rt = runtime();
    rt.register(
      passthroughAccumulator({ name: names.p }),
      streamAccumulator({ name: names.s, type: 'memory', topic: unique('topic') }),
      pollingAccumulator({ name: names.pl, interval: '1h', poll: () => undefined }),
      batchAccumulator({ name: names.b, maxBufferSize: 1 }),
      stateAccumulator({ name: names.st, capacity: 1 }),
      reactor({ name: rName, accumulators: Object.values(names) }),
    );
    const r = rt.reactor(rName);
    await rt.start();
    for (const [key, name] of Object.entries(names)) expect(rt.push(name, key)).toBe(true);
    await rt.idle();
    expect(r.getState().cache).toStrictEqual({
      [names.p]: 'p',
      [names.s]: 's',
      [names.pl]: 'pl',
      [names.b]: ['b'],
      [names.st]: ['st'],
    });
  });
});

describe('durations', () => {
  it.each([
    ['100ms', 100],
    ['5s', 5_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['0ms', 0],
  ])('parseDuration(%j) is %d ms', (text, ms) => {
    expect(parseDuration(text, 'test')).toBe(ms);
  });

  it.each(['5', '1.5s', '5S', ' 5s', '5s ', '+5s', '-5s', '5 s', 'ms', 's', '', '5d', '1e3ms'])(
    'parseDuration(%j) is an error naming the string',
    (text) => {
      const error = thrownBy(() => parseDuration(text, 'test interval'));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain(`'${text}'`);
      expect((error as Error).message).toContain('test interval');
    },
  );

  it('a non-string duration is an error', () => {
    expect(() => parseDuration(5000, 'test')).toThrow(ConfigurationError);
  });
});

describe('declaration-time validation', () => {
  it.each(['0s', '0ms'])('a polling interval of %j is a ConfigurationError at declaration', (interval) => {
    const name = unique('poll');
    const error = thrownBy(() => pollingAccumulator({ name, interval, poll: () => 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(`'${interval}'`);
    expect((error as Error).message).toContain(name);
  });

  it.each(['5', '1.5s', 'soon', '5S'])(
    'a malformed polling interval %j is a ConfigurationError naming it',
    (interval) => {
      const error = thrownBy(() => pollingAccumulator({ name: unique('poll'), interval, poll: () => 1 }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain(`'${interval}'`);
    },
  );

  it('a zero or malformed batch flushInterval is a ConfigurationError naming it', () => {
    for (const flushInterval of ['0s', '1.5s', 'later']) {
      const error = thrownBy(() => batchAccumulator({ name: unique('batch'), flushInterval }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain(`'${flushInterval}'`);
    }
  });

  it('bad sizes and capacities are ConfigurationErrors', () => {
    expect(() => batchAccumulator({ name: unique('b'), maxBufferSize: 0 })).toThrow(ConfigurationError);
    expect(() => stateAccumulator({ name: unique('s'), capacity: 1.5 })).toThrow(ConfigurationError);
    expect(() => streamAccumulator({ name: unique('s'), type: 'memory', topic: '' })).toThrow(ConfigurationError);
    expect(() => streamAccumulator({ name: unique('s'), type: 'memory', topic: 't', retry: { baseMs: 0 } })).toThrow(
      ConfigurationError,
    );
  });
});
