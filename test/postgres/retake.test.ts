/**
 * A standby owner whose state went stale (contract section 12): runtime A loses its session,
 * runtime B owns the id meanwhile and moves the stored state on, and A, taking the id back,
 * drops everything it held for it and restores the stored state in place, then carries on.
 * Against a real PostgreSQL server of this file's own.
 *
 * With a Redis stream, A drops the entries it received and did not acknowledge, and reads what
 * is pending for its consumer again.
 *
 * A connects as a role of its own, so the test can refuse its logins while B owns the id (a
 * standby polls for the lock; without that, which of A and B takes it first would be chance).
 */
import { expect, it } from 'vitest';
import {
  batchAccumulator,
  CheckpointError,
  passthroughAccumulator,
  reactor,
  stateAccumulator,
  streamAccumulator,
  type Runtime,
  type RuntimeOptions,
} from 'cloaca';
import { serve } from 'cloaca/http';
import { http } from '../http/support.js';
import { describeWithPostgres, usePostgresServer } from '../support/postgres.js';
import { describeWithRedis, useRedisServer } from '../support/redis-server.js';
import { executors, FireLog, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { errors, lostSession, ownerships, until } from './support.js';

const server = usePostgresServer();
const redis = useRedisServer();
const { runtime, graph } = useRuntimes();

/**
 * A login role of its own for runtime A: `cut(id)` refuses its logins and ends the session
 * owning `id`; `allow()` lets it log in again.
 */
async function ownRole() {
  const name = unique('owner_a');
  await server().sql(`create role ${name} login superuser`);
  return {
    url: server().url.replace('//cloaca@', `//${name}@`),
    async cut(id: string): Promise<void> {
      await server().sql(`alter role ${name} nologin`);
      await server().sql('select pg_terminate_backend(backend_pid) from cloaca_owners where id = $1', [id]);
    },
    async allow(): Promise<void> {
      await server().sql(`alter role ${name} login`);
    },
  };
}

/**
 * Starts standby `b` and cuts A's session once `b` waits for the id; resolves once A has heard
 * of the loss, with `b`'s start (which resolves once `b` owns the id) and its records.
 */
async function takeOver(
  b: Runtime,
  role: Awaited<ReturnType<typeof ownRole>>,
  id: string,
  heardA: ReturnType<typeof errors>,
) {
  const movesB = ownerships(b);
  const logB = new FireLog(b);
  const bStarted = b.start();
  await movesB.reach('standby');
  const lost = heardA.next(lostSession);
  await role.cut(id);
  await lost;
  return { logB, bStarted };
}

/**
 * Starts runtime A, made by `make` with the URL of a login role of its own, watching its errors,
 * ownership moves and records from the start.
 */
async function startA(make: (url: string) => Promise<Runtime>) {
  const role = await ownRole();
  const a = await make(role.url);
  const heardA = errors(a);
  const movesA = ownerships(a);
  const logA = new FireLog(a);
  await a.start();
  return { role, a, heardA, movesA, logA };
}

/** What a pushed value became in the records of `reactor`, in order. */
const outputs = (log: FireLog, reactor: string): unknown[] =>
  log.records.filter((r) => r.reactor === reactor).map((r) => r.outputs!.ident);

/** A runtime and a standby of one id that took over from it, with the components of `n`. */
function setup(executor: ExecutorName) {
  const n = {
    q: unique('q'),
    S: unique('seq'),
    st: unique('st'),
    W: unique('win'),
    bt: unique('bt'),
    P: unique('batched'),
    id: unique('pricing'),
  };
  /**
   * A sequential reactor S on q, a latest one W on a window st, and a latest one P on a batch
   * accumulator bt (P stays paused, so bt flushes only at shutdown).
   */
  const wired = async (url: string, options: RuntimeOptions = {}): Promise<Runtime> => {
    const rt = runtime({ checkpoint: url, id: n.id, ...options });
    const S = reactor({ name: n.S, accumulators: [n.q], strategy: 'sequential' });
    const W = reactor({ name: n.W, accumulators: [n.st] });
    const P = reactor({ name: n.P, accumulators: [n.bt] });
    rt.register(
      passthroughAccumulator({ name: n.q }),
      stateAccumulator({ name: n.st, capacity: 3 }),
      batchAccumulator({ name: n.bt }),
      S,
      W,
      P,
      await graph(`g_${n.S}`, executor, { reactor: S, graph: { ident: { inputs: [n.q] } } }),
      await graph(`g_${n.W}`, executor, { reactor: W, graph: { ident: { inputs: [n.st] } } }),
      await graph(`g_${n.P}`, executor, { reactor: P, graph: { ident: { inputs: [n.bt] } } }),
    );
    return rt;
  };
  return { n, wired };
}

/** Events a runtime holds in its batch accumulator `name`'s buffer (its reactor queues none). */
const buffered = (rt: Runtime, name: string): number =>
  rt.inspect().accumulators.find((a) => a.name === name)!.bufferDepth;

describeWithPostgres('an owner taking its id back after another runtime owned it', () => {
  for (const executor of executors) {
    it(`drops its stale state, restores what the other owner stored and carries on (${executor})`, async () => {
      const { n, wired } = setup(executor);
      const { role, a, heardA, movesA, logA } = await startA((url) => wired(url, { standby: true }));
      a.reactor(n.S).pause();
      a.reactor(n.P).pause();
      for (const value of ['a1', 'a2']) expect(a.push(n.q, value)).toBe(true);
      a.push(n.st, 'w-a');
      a.push(n.bt, 'bt-a');
      await a.persisted();
      await logA.until(1, (r) => r.reactor === n.W);

      const b = await wired(server().url, { standby: true });
      const { logB, bStarted } = await takeOver(b, role, n.id, heardA);
      // Fenced, A still holds its state; a cache it is given now is never stored.
      expect(a.reactor(n.S).getState()).toMatchObject({ paused: true, queued: 2, health: 'warming' });
      expect(await a.reactor(n.S).fireWith({ [n.q]: 'stale cache' })).toBeUndefined();
      expect(a.push(n.q, 'refused')).toBe(false);

      // B restores A's last commit and moves the state on.
      await bStarted;
      expect(b.reactor(n.S).getState()).toMatchObject({ paused: true, queued: 2 });
      b.reactor(n.S).resume();
      expect(b.push(n.q, 'b1')).toBe(true);
      b.push(n.st, 'w-b');
      b.push(n.bt, 'bt-b');
      await logB.until(3, (r) => r.reactor === n.S);
      expect(outputs(logB, n.S)).toStrictEqual(['a1', 'a2', 'b1']);
      b.reactor(n.S).pause();
      expect(b.push(n.q, 'b2')).toBe(true);
      await b.persisted();
      // Its shutdown flushes the batch into P's cache, and commits.
      await b.shutdown();

      await role.allow();
      await movesA.reach('owner', 2);
      expect(movesA.seen).toStrictEqual(['standby', 'owner', 'standby', 'owner']);
      expect(a.inspect().ownership).toBe('owner');
      // A's state is the one B left: its queue, its cache, its window, its batch.
      expect(a.reactor(n.S).getState()).toMatchObject({
        paused: true,
        queued: 1,
        cache: { [n.q]: 'b1' },
        health: 'live',
      });
      expect(a.reactor(n.P).getState().cache).toStrictEqual({ [n.bt]: ['bt-a', 'bt-b'] });
      expect(buffered(a, n.bt)).toBe(0);
      // The restored window is delivered once, as at a start.
      const windows = await logA.until(2, (r) => r.reactor === n.W);
      expect(windows[1]!.outputs!.ident).toStrictEqual(['w-a', 'w-b']);
      const ops = await serve(a, { port: 0 });
      try {
        expect((await http(ops.url, 'GET', '/ready')).status).toBe(200);
      } finally {
        await ops.close();
      }

      // It carries on: accepting and firing, from the restored state only.
      a.reactor(n.S).resume();
      expect(a.push(n.q, 'a3')).toBe(true);
      expect(a.push(n.st, 'w-a2')).toBe(true);
      await logA.until(2, (r) => r.reactor === n.S);
      expect(outputs(logA, n.S)).toStrictEqual(['b2', 'a3']);
      const [, , last] = await logA.until(3, (r) => r.reactor === n.W);
      expect(last!.outputs!.ident).toStrictEqual(['w-a', 'w-b', 'w-a2']);
      await a.persisted();
      expect(heardA.seen.filter((e) => !lostSession(e))).toStrictEqual([]);
      await a.shutdown();

      // What A stored from then on is built on B's state, nothing of its stale one.
      const c = await wired(server().url);
      await c.start();
      expect(c.reactor(n.S).getState()).toMatchObject({ paused: false, queued: 0, cache: { [n.q]: 'a3' } });
      expect(c.reactor(n.W).getState().cache).toStrictEqual({ [n.st]: ['w-a', 'w-b', 'w-a2'] });
      expect(c.reactor(n.P).getState().cache).toStrictEqual({ [n.bt]: ['bt-a', 'bt-b'] });
    });

    it(`restores a keyed reactor's keys as the other owner left them (${executor})`, async () => {
      const n = { q: unique('q'), K: unique('keyed'), id: unique('pricing') };
      const keyed = async (url: string): Promise<Runtime> => {
        const rt = runtime({ checkpoint: url, id: n.id, standby: true });
        const K = reactor({ name: n.K, accumulators: [n.q], strategy: 'sequential', key: 'k' });
        rt.register(
          passthroughAccumulator({ name: n.q }),
          K,
          await graph(unique('g'), executor, { reactor: K, graph: { ident: { inputs: [n.q] } } }),
        );
        return rt;
      };
      const { role, a, heardA, movesA, logA } = await startA(keyed);
      a.reactor(n.K).pause();
      a.push(n.q, { k: 'x', n: 1 });
      a.push(n.q, { k: 'y', n: 1 });
      await a.persisted();

      const b = await keyed(server().url);
      const { logB, bStarted } = await takeOver(b, role, n.id, heardA);
      // Fenced, a key made now lives only in A's memory.
      expect(
        await a
          .reactor(n.K)
          .key('stale')
          .fireWith({ [n.q]: { k: 'stale', n: 0 } }),
      ).toBeUndefined();
      expect([...a.reactor(n.K).keys()].sort()).toStrictEqual(['stale', 'x', 'y']);

      await bStarted;
      expect(b.reactor(n.K).getState()).toMatchObject({ paused: true, queued: 2, keys: 2 });
      b.reactor(n.K).resume();
      b.push(n.q, { k: 'z', n: 1 });
      await logB.until(3, (r) => r.reactor === n.K);
      b.reactor(n.K).pause();
      b.push(n.q, { k: 'x', n: 2 });
      await b.persisted();
      await b.shutdown();

      await role.allow();
      await movesA.reach('owner', 2);
      expect(a.reactor(n.K).getState()).toMatchObject({ paused: true, queued: 1, keys: 3, health: 'live' });
      expect([...a.reactor(n.K).keys()].sort()).toStrictEqual(['x', 'y', 'z']);
      expect(a.reactor(n.K).key('x').getState()).toMatchObject({ queued: 1, cache: { [n.q]: { k: 'x', n: 1 } } });
      expect(a.reactor(n.K).key('z').getState()).toMatchObject({ queued: 0, cache: { [n.q]: { k: 'z', n: 1 } } });

      a.reactor(n.K).resume();
      expect(a.push(n.q, { k: 'y', n: 2 })).toBe(true);
      const fired = await logA.until(2, (r) => r.reactor === n.K);
      const of = (key: string) => fired.filter((r) => r.key === key).map((r) => (r.outputs!.ident as { n: number }).n);
      expect(of('x')).toStrictEqual([2]);
      expect(of('y')).toStrictEqual([2]);
      expect(of('stale')).toStrictEqual([]);
      await a.persisted();
      expect(heardA.seen.filter((e) => !lostSession(e))).toStrictEqual([]);
    });
  }

  it('stays fenced, its ownership lost, when the stored state no longer fits its registrations', async () => {
    const n = { q: unique('q'), S: unique('seq'), id: unique('pricing') };
    const wired = async (url: string, strategy: 'latest' | 'sequential', options: RuntimeOptions = {}) => {
      const rt = runtime({ checkpoint: url, id: n.id, standby: true, ...options });
      const S = reactor({ name: n.S, accumulators: [n.q], strategy });
      rt.register(
        passthroughAccumulator({ name: n.q }),
        S,
        await graph(unique('g'), 'inline', { reactor: S, graph: { ident: { inputs: [n.q] } } }),
      );
      return rt;
    };
    const { role, a, heardA, movesA } = await startA((url) => wired(url, 'sequential'));
    a.reactor(n.S).pause();
    a.push(n.q, 'queued');
    await a.persisted();
    // B declares the reactor 'latest' and sets A's saved state aside.
    const b = await wired(server().url, 'latest', { stateMismatch: 'set-aside' });
    const movesB = ownerships(b);
    const bStarted = b.start();
    await movesB.reach('standby');
    await role.cut(n.id);
    await bStarted;
    b.push(n.q, 'latest');
    await b.persisted();
    await b.shutdown();

    await role.allow();
    const mismatch = await heardA.next(
      (error) => error instanceof CheckpointError && error.message.includes('does not fit what is registered'),
    );
    expect((mismatch as CheckpointError).components).toStrictEqual([n.S]);
    await movesA.reach('lost');
    expect(movesA.seen).toStrictEqual(['standby', 'owner', 'standby', 'lost']);
    expect(a.push(n.q, 'refused')).toBe(false);
    expect(a.reactor(n.S).getState().health).toBe('warming');
    // It released the id: a runtime declared as B was starts on it at once.
    const next = await wired(server().url, 'latest');
    await next.start();
    expect(next.reactor(n.S).getState().cache).toStrictEqual({ [n.q]: 'latest' });
  });
  describeWithRedis('with a Redis stream', () => {
    it('drops the entries it received and did not acknowledge, and reads what is pending again', async () => {
      const n = { events: unique('events'), S: unique('seq'), id: unique('stream-owner') };
      const stream = unique('stream');
      const group = unique('group');
      const client = await redis().client();
      await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
      // The consumer name defaults to the id: A and B read as one consumer.
      const wired = async (url: string): Promise<Runtime> => {
        const rt = runtime({ checkpoint: url, id: n.id, standby: true, queueCapacity: 4 });
        const S = reactor({ name: n.S, accumulators: [n.events], strategy: 'sequential' });
        rt.register(
          streamAccumulator({
            name: n.events,
            type: 'redis',
            topic: stream,
            group,
            options: { url: redis().url, block: '100ms', claimIdle: '60s' },
          }),
          S,
          await graph(unique('g'), 'inline', { reactor: S, graph: { ident: { inputs: [n.events] } } }),
        );
        return rt;
      };
      for (let i = 0; i < 10; i++) await client.xAdd(stream, '*', { data: String(i) });
      const { role, a, heardA, movesA, logA } = await startA(wired);
      // Paused with room for 4: the rest of what A read waits in its memory, unacknowledged.
      a.reactor(n.S).pause();
      await until(() => a.reactor(n.S).getState().queued === 4);
      await a.persisted();

      const b = await wired(server().url);
      const { logB, bStarted } = await takeOver(b, role, n.id, heardA);
      await bStarted;
      b.reactor(n.S).resume();
      // B re-reads what the consumer left pending and fires every entry.
      await logB.until(1, (r) => r.outputs?.ident === 9);
      expect(new Set(outputs(logB, n.S))).toStrictEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
      await b.persisted();
      await b.shutdown();
      expect((await client.xPending(stream, group)).pending).toBe(0);

      await role.allow();
      await movesA.reach('owner', 2);
      for (const i of [10, 11]) await client.xAdd(stream, '*', { data: String(i) });
      await logA.until(2, (r) => r.reactor === n.S);
      // Nothing of what A held before: its queue and the entries it had read are B's, fired.
      expect(outputs(logA, n.S)).toStrictEqual([10, 11]);
      expect(a.reactor(n.S).getState()).toMatchObject({ paused: false, queued: 0, health: 'live' });
      await a.persisted();
      expect(heardA.seen.filter((e) => !lostSession(e))).toStrictEqual([]);
    });
  });
});
