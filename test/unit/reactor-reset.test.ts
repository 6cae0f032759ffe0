/**
 * A reactor dropping what it holds and taking stored state again (src/reactor/reactor.ts and
 * keyed-reactor.ts, `halted`, `reset`, `restore`): what a runtime does when the state it holds
 * turned out to be stale.
 */
import { describe, expect, it } from 'vitest';
import { ComputationGraphBuilder } from '../../src/graph/builder.js';
import type { ComputationGraph } from '../../src/graph/computation-graph.js';
import { ReactorHealth } from '../../src/model/health.js';
import { reactor, toReactorDeclaration, type ReactorDefinition } from '../../src/model/reactor-declaration.js';
import { KeyedReactor } from '../../src/reactor/keyed-reactor.js';
import type { LiveReactor } from '../../src/reactor/live-reactor.js';
import { Reactor } from '../../src/reactor/reactor.js';
import type { ReactorHooks } from '../../src/reactor/reactor-hooks.js';
import type { FireRecord } from '../../src/reactor/records.js';

/** Hooks that record every firing's snapshot and nothing else. */
function hooks(fired: unknown[] = []): ReactorHooks {
  return {
    queueCapacity: 100,
    questions: {
      observing: () => true,
      sampling: () => false,
      batchable: () => false,
      starting: () => undefined,
    },
    events: {
      recorded: (_reactor: LiveReactor, record: FireRecord) => fired.push(record.inputs),
      fired: () => {},
      accepted: () => {},
      consumed: () => {},
      changed: () => {},
      stopped: () => {},
      room: () => {},
      timed: () => {},
    },
  };
}

/** An inline graph of `on` with one node on `source`; `hold` makes it wait until its promise is released. */
async function graphOn(on: ReactorDefinition, source: string, hold?: Promise<void>): Promise<ComputationGraph> {
  return new ComputationGraphBuilder('g', {
    executor: 'inline',
    reactor: on,
    nodes: { ident: async (x: unknown) => (hold === undefined ? x : hold.then(() => x)) },
    graph: { ident: { inputs: [source] } },
  }).build();
}

describe('Reactor.reset', () => {
  it('drops the cache, flags, queue and paused flag, and restore applies stored state as at start', async () => {
    const fired: unknown[] = [];
    const definition = reactor({ name: 'r', accumulators: ['a', 'b'], strategy: 'sequential' });
    const r = new Reactor(toReactorDeclaration(definition), hooks(fired));
    r.bind(await graphOn(definition, 'a'));
    r.pause();
    r.deliver('a', 'stale 1');
    r.deliver('b', 'stale 2');
    const command = r.fireWith({ a: 'stale cache' });
    expect(r.getState()).toMatchObject({ paused: true, queued: 2, cache: { a: 'stale cache' } });
    await expect(command).resolves.toBeUndefined();

    r.reset();
    expect(r.getState()).toMatchObject({ paused: false, queued: 0, cache: {}, dirty: { a: false, b: false } });
    r.restore({ cache: { a: 'stored', b: 'kept' }, dirty: { b: true }, paused: false }, [
      { seq: 7, source: 'a', value: 'queued' },
    ]);
    expect(r.getState()).toMatchObject({ queued: 1, cache: { a: 'stored', b: 'kept' }, dirty: { b: true } });
    r.setHealth(ReactorHealth.Live);
    await r.halted();
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired).toStrictEqual([{ a: 'queued', b: 'kept' }]);
    // A boundary after the restore gets a number after the restored ones.
    r.deliver('a', 'new');
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired.at(-1)).toStrictEqual({ a: 'new', b: 'kept' });
  });

  it('refuses while a firing is in flight; halted() resolves once it ended', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const fired: unknown[] = [];
    const definition = reactor({ name: 'r', accumulators: ['a'] });
    const r = new Reactor(toReactorDeclaration(definition), hooks(fired));
    r.bind(await graphOn(definition, 'a', hold));
    r.setHealth(ReactorHealth.Live);
    r.deliver('a', 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.loop).toBe('firing');
    // Held at warming, nothing else starts; the firing in flight ends.
    r.setHealth(ReactorHealth.Warming);
    r.deliver('a', 2);
    expect(() => r.reset()).toThrow(/while it fires/);
    let halted = false;
    const halting = r.halted().then(() => (halted = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(halted).toBe(false);
    release();
    await halting;
    expect(r.loop).not.toBe('firing');
    r.reset();
    expect(r.getState().cache).toStrictEqual({});
    expect(r.fires).toBe(1);
  });
});

describe('KeyedReactor.reset', () => {
  it('drops every key and the broadcast values; restoreKey brings back the stored keys only', async () => {
    const fired: unknown[] = [];
    const definition = reactor({
      name: 'k',
      accumulators: ['q', 'limits'],
      strategy: 'sequential',
      key: 'k',
      broadcast: ['limits'],
    });
    const k = new KeyedReactor(toReactorDeclaration(definition), {
      ...hooks(fired),
      keyConcurrency: 4,
      forgotten: () => {},
    });
    k.bind(await graphOn(definition, 'q'));
    k.pause();
    k.deliver('limits', 'stale limit');
    for (const key of ['x', 'y', 'stale']) k.deliver('q', { k: key, n: 0 });
    expect(k.getState()).toMatchObject({ keys: 3, queued: 3 });

    k.reset();
    expect(k.getState()).toMatchObject({ keys: 0, queued: 0, paused: false, cache: {} });
    k.restore({ cache: { limits: 'stored limit' }, dirty: {}, paused: false });
    k.restoreKey('x', { cache: { q: { k: 'x', n: 1 } }, dirty: {}, paused: false }, [
      { seq: 3, source: 'q', value: { k: 'x', n: 2 } },
    ]);
    expect([...k.keys()]).toStrictEqual(['x']);
    expect(k.keyState('x')).toMatchObject({ queued: 1, cache: { limits: 'stored limit', q: { k: 'x', n: 1 } } });
    k.setHealth(ReactorHealth.Live);
    await new Promise((resolve) => setImmediate(resolve));
    await k.halted();
    expect(fired).toStrictEqual([{ limits: 'stored limit', q: { k: 'x', n: 2 } }]);
    k.close();
  });
});
