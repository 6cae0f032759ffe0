/**
 * A runtime on a PostgreSQL checkpoint (contract section 12): the state of section 6 kept per
 * `id`, one owner per id, fencing when the owner's session ends, and a standby that takes over.
 * Against a real PostgreSQL server of its own.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import {
  CheckpointError,
  ConfigurationError,
  passthroughAccumulator,
  reactor,
  stateAccumulator,
  type Runtime,
  type RuntimeOptions,
} from 'cloaca';
import { serve } from 'cloaca/http';
import { PostgresCheckpointStore } from '../../dist/src/runtime/checkpoint/postgres-store.js';
import { boundaryRow } from '../../dist/src/runtime/checkpoint/rows.js';
import { http } from '../http/support.js';
import { describeWithPostgres, usePostgresServer } from '../support/postgres.js';
import { FireLog, unique, useRuntimes } from '../runtime/support.js';
import { errors, lostSession, ownerships, until } from './support.js';

const server = usePostgresServer();
const { runtime, graph } = useRuntimes();

/** The components of every runtime of one test: a sequential reactor and a latest one with a window. */
function names() {
  return { q: unique('q'), S: unique('seq'), st: unique('st'), W: unique('win'), id: unique('pricing') };
}
type Names = ReturnType<typeof names>;

/** A runtime of `n.id` with the components of `n`, registered. */
async function wired(n: Names, options: RuntimeOptions = {}): Promise<Runtime> {
  const rt = runtime({ checkpoint: server().url, id: n.id, ...options });
  const S = reactor({ name: n.S, accumulators: [n.q], strategy: 'sequential' });
  const W = reactor({ name: n.W, accumulators: [n.st] });
  rt.register(
    passthroughAccumulator({ name: n.q }),
    stateAccumulator({ name: n.st, capacity: 3 }),
    S,
    W,
    await graph(`g_${n.S}`, 'inline', { reactor: S, graph: { ident: { inputs: [n.q] } } }),
    await graph(`g_${n.W}`, 'inline', { reactor: W, graph: { ident: { inputs: [n.st] } } }),
  );
  return rt;
}

describeWithPostgres('a runtime on a PostgreSQL checkpoint', () => {
  it('needs an id with a PostgreSQL checkpoint, and a PostgreSQL checkpoint for standby', () => {
    for (const [options, option] of [
      [{ checkpoint: server().url }, 'id'],
      [{ checkpoint: server().url.replace('postgres:', 'postgresql:') }, 'id'],
      [{ checkpoint: 'state.db', standby: true }, 'standby'],
      [{ standby: true }, 'standby'],
    ] as const) {
      const error = (() => {
        try {
          runtime(options);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).component).toBe(option);
      expect((error as Error).message).toContain(`'${option}'`);
    }
  });

  it('restores the queued sequential boundaries, the window and the paused flag after a restart', async () => {
    const n = names();
    const first = await wired(n);
    await first.start();
    first.reactor(n.S).pause();
    for (let i = 0; i < 5; i++) expect(first.push(n.q, i)).toBe(true);
    first.push(n.st, 'a');
    first.push(n.st, 'b');
    await first.persisted();
    await first.shutdown();

    const second = await wired(n);
    const log = new FireLog(second);
    await second.start();
    const state = second.reactor(n.S).getState();
    expect(state.paused).toBe(true);
    expect(state.queued).toBe(5);
    expect(second.reactor(n.W).getState().cache[n.st]).toEqual(['a', 'b']);
    second.reactor(n.S).resume();
    const fired = await log.until(5, (r) => r.reactor === n.S);
    expect(fired.map((r) => r.outputs!.ident)).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps every key of a keyed reactor, and deletes the rows of a key forgotten after keyIdle', async () => {
    const n = { q: unique('q'), K: unique('keyed'), id: unique('pricing') };
    const keyed = async (): Promise<Runtime> => {
      const rt = runtime({ checkpoint: server().url, id: n.id });
      const K = reactor({ name: n.K, accumulators: [n.q], strategy: 'sequential', key: 'k', keyIdle: '100ms' });
      rt.register(
        passthroughAccumulator({ name: n.q }),
        K,
        await graph(unique('g'), 'inline', { reactor: K, graph: { ident: { inputs: [n.q] } } }),
      );
      return rt;
    };
    const first = await keyed();
    await first.start();
    first.push(n.q, { k: 'gone', n: 0 });
    await first.idle();
    // The key at rest is forgotten after keyIdle: its rows go with the next commit.
    await until(() => ![...first.reactor(n.K).keys()].includes('gone'));
    first.reactor(n.K).pause();
    for (let i = 1; i <= 3; i++) first.push(n.q, { k: 'x', n: i });
    first.push(n.q, { k: 'y', n: 1 });
    await first.persisted();
    await first.shutdown();

    const client = new pg.Client({ connectionString: server().url });
    await client.connect();
    try {
      const { rows } = await client.query<{ reactor: string }>(
        'select reactor from cloaca_reactor_state where id = $1 union all select reactor from cloaca_sequential_queue where id = $1',
        [n.id],
      );
      expect(rows.some((r) => r.reactor.endsWith('\0gone'))).toBe(false);
    } finally {
      await client.end();
    }

    const second = await keyed();
    const log = new FireLog(second);
    await second.start();
    expect(second.reactor(n.K).getState()).toMatchObject({ paused: true, queued: 4, keys: 2 });
    second.reactor(n.K).resume();
    const fired = await log.until(4, (r) => r.reactor === n.K);
    const of = (key: string) => fired.filter((r) => r.key === key).map((r) => (r.outputs!.ident as { n: number }).n);
    expect(of('x')).toStrictEqual([1, 2, 3]);
    expect(of('y')).toStrictEqual([1]);
  });

  it('sets a keyed reactor aside with its key rows when its declaration changed', async () => {
    const n = { q: unique('q'), K: unique('keyed'), id: unique('pricing') };
    const keyed = async (strategy: 'latest' | 'sequential', stateMismatch?: 'set-aside'): Promise<Runtime> => {
      const rt = runtime({ checkpoint: server().url, id: n.id, ...(stateMismatch ? { stateMismatch } : {}) });
      const K = reactor({ name: n.K, accumulators: [n.q], strategy, key: 'k' });
      rt.register(
        passthroughAccumulator({ name: n.q }),
        K,
        await graph(unique('g'), 'inline', { reactor: K, graph: { ident: { inputs: [n.q] } } }),
      );
      return rt;
    };
    const first = await keyed('sequential');
    await first.start();
    first.reactor(n.K).pause();
    first.push(n.q, { k: 'x', n: 1 });
    first.push(n.q, { k: 'y', n: 1 });
    await first.persisted();
    await first.shutdown();

    const aside = await keyed('latest', 'set-aside');
    await aside.start();
    expect(aside.reactor(n.K).getState()).toMatchObject({ keys: 0, queued: 0 });
    await aside.shutdown();
    const client = new pg.Client({ connectionString: server().url });
    await client.connect();
    try {
      const kept = await client.query('select name from cloaca_set_aside where id = $1', [n.id]);
      expect(kept.rows.map((r: { name: string }) => r.name)).toStrictEqual([n.K]);
      const left = await client.query(
        "select reactor from cloaca_sequential_queue where id = $1 and starts_with(reactor, $2 || '\\0')",
        [n.id, n.K],
      );
      expect(left.rows).toHaveLength(0);
    } finally {
      await client.end();
    }
    const again = await keyed('latest');
    await again.start();
    expect(again.reactor(n.K).getState()).toMatchObject({ keys: 0, queued: 0 });
  });

  it('writes a commit again that its lost answer brought back staged: the boundaries it wrote are replaced', async () => {
    const store = new PostgresCheckpointStore({
      url: server().url,
      id: unique('replay'),
      standby: false,
      lost: () => {},
    });
    await store.open();
    try {
      const rows = {
        boundaries: [0, 1].map((seq) => boundaryRow('r', { seq, source: 's', value: `v${seq}` })),
        consumed: new Map<string, number>(),
        reactors: [],
        accumulators: [],
        clearedAccumulators: [],
        clearedReactors: [],
      };
      await store.write(rows);
      await store.write({
        ...rows,
        boundaries: [...rows.boundaries, boundaryRow('r', { seq: 2, source: 's', value: 'v2' })],
      });
      expect((await store.load()).queue.map((b: { seq: number }) => b.seq)).toStrictEqual([0, 1, 2]);
    } finally {
      await store.close();
    }
  });

  it('keeps two ids apart in one database', async () => {
    const a = names();
    const b = { ...names(), q: a.q, S: a.S, st: a.st, W: a.W };
    const first = await wired(a);
    await first.start();
    first.reactor(a.S).pause();
    first.push(a.q, 'for a');
    await first.persisted();
    await first.shutdown();
    const other = await wired(b);
    await other.start();
    expect(other.reactor(b.S).getState().queued).toBe(0);
  });

  it('fails a second runtime on the same id with a CheckpointError naming it', async () => {
    const n = names();
    await (await wired(n)).start();
    const error = await (await wired(n)).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).path).toBe(n.id);
    expect((error as Error).message).toContain(n.id);
  });

  it('lets exactly one of two racing runtimes own an id', async () => {
    const n = names();
    const results = await Promise.allSettled([(await wired(n)).start(), (await wired(n)).start()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [failed] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed!.reason).toBeInstanceOf(CheckpointError);
  });

  it('starts a standby once the owner shuts down, with the owner state, and shows it as standby meanwhile', async () => {
    const n = names();
    const owner = await wired(n);
    await owner.start();
    owner.reactor(n.S).pause();
    owner.push(n.q, 'kept');
    await owner.persisted();
    const standby = await wired(n, { standby: true });
    const moves = ownerships(standby);
    let started = false;
    const starting = standby.start().then(() => (started = true));
    await moves.reach('standby');
    expect(standby.inspect().ownership).toBe('standby');
    const ops = await serve(standby, { port: 0 });
    try {
      const waiting = await http(ops.url, 'GET', '/ready');
      expect([waiting.status, waiting.json]).toStrictEqual([503, { status: 'not ready', reason: 'standby' }]);
      expect((await http(ops.url, 'GET', '/health')).json).toStrictEqual({ status: 'ok', ownership: 'standby' });
      expect(started).toBe(false);
      await owner.shutdown();
      await starting;
      expect((await http(ops.url, 'GET', '/ready')).status).toBe(200);
    } finally {
      await ops.close();
    }
    expect(standby.inspect().ownership).toBe('owner');
    expect(standby.reactor(n.S).getState()).toMatchObject({ paused: true, queued: 1 });
  });

  it('stops waiting as a standby when shut down: its start rejects', async () => {
    const n = names();
    await (await wired(n)).start();
    const standby = await wired(n, { standby: true });
    const moves = ownerships(standby);
    const starting = standby.start().catch((e: unknown) => e);
    await moves.reach('standby');
    await standby.shutdown();
    expect(await starting).toBeInstanceOf(CheckpointError);
  });

  it('is fenced at once when its session is terminated: refuses pushes, fires nothing, never commits', async () => {
    const n = names();
    const owner = await wired(n);
    const heard = errors(owner);
    const log = new FireLog(owner);
    await owner.start();
    owner.push(n.q, 'before');
    await owner.persisted();
    await log.until(1);
    const lost = heard.next(lostSession);
    await server().terminateSessions();
    const error = await lost;
    expect((error as CheckpointError).path).toBe(n.id);
    expect(owner.inspect().ownership).toBe('lost');
    expect(owner.push(n.q, 'after')).toBe(false);
    expect(owner.reactor(n.S).getState().health).toBe('warming');
    await expect(owner.persisted()).rejects.toBeInstanceOf(CheckpointError);
    // Nothing of this runtime reaches the database again: another runtime owns the id at once.
    const next = await wired(n);
    await next.start();
    expect(log.records).toHaveLength(1);
    // What it still holds is not its to write: the shutdown drops it.
    await owner.shutdown();
    await next.persisted();
  });

  it('keeps a commit that fails with the lost session staged, and commits it once it owns the id again', async () => {
    const n = names();
    const owner = await wired(n, { standby: true });
    const heard = errors(owner);
    const moves = ownerships(owner);
    await owner.start();
    owner.reactor(n.S).pause();
    const lost = heard.next(lostSession);
    owner.push(n.q, 0);
    const first = owner.persisted();
    await server().terminateSessions();
    await lost;
    await first.catch(() => {});
    // The commit failed or ran before the loss; either way the boundary is there after the re-take.
    await moves.reach('owner', 2);
    expect(owner.push(n.q, 1)).toBe(true);
    await owner.persisted();
    await owner.shutdown();
    const next = await wired(n);
    await next.start();
    expect(next.reactor(n.S).getState().queued).toBe(2);
  });

  it('is fenced by a database restart, and as a standby owns its id again after it', async () => {
    const n = names();
    const owner = await wired(n, { standby: true });
    const heard = errors(owner);
    const moves = ownerships(owner);
    const log = new FireLog(owner);
    await owner.start();
    const lost = heard.next(lostSession);
    await server().restart();
    await lost;
    await moves.reach('owner', 2);
    expect(owner.reactor(n.S).getState().health).toBe('live');
    expect(owner.push(n.q, 'after the restart')).toBe(true);
    await owner.persisted();
    await log.until(1);
  });
});
