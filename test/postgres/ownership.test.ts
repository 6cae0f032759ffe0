/**
 * One owner per database and id: a session-level advisory lock on the session that commits, a
 * standby that takes over once the owner's session ends, and a `lost` signal the moment it does.
 * Against a real PostgreSQL server of its own.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { CheckpointError } from '../../dist/src/model/errors.js';
import {
  PostgresOwner,
  ownerLockKeys,
  type PostgresOwnerOptions,
} from '../../dist/src/runtime/checkpoint/postgres-owner.js';
import { spawnReporting } from '../support/child.js';
import { describeWithPostgres, usePostgresServer } from '../support/postgres.js';

const server = usePostgresServer();
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const owners: PostgresOwner[] = [];
afterEach(async () => {
  await Promise.all(owners.splice(0).map((owner) => owner.close()));
});

let ids = 0;
const freshId = (): string => `pricing-${++ids}`;

/** An owner of `id` whose losses are queued; `lost()` resolves with the next one. */
function owner(id: string, options: Partial<PostgresOwnerOptions> = {}) {
  const losses: CheckpointError[] = [];
  let waiting: ((error: CheckpointError) => void) | undefined;
  const it = new PostgresOwner({
    url: server().url,
    id,
    ...options,
    onLost: (error) => {
      if (waiting === undefined) losses.push(error);
      else waiting(error);
      waiting = undefined;
    },
  });
  owners.push(it);
  return Object.assign(it, {
    lost: (): Promise<CheckpointError> =>
      losses.length > 0 ? Promise.resolve(losses.shift()!) : new Promise((resolve) => (waiting = resolve)),
  });
}

/** Whether `owner` can commit a row now. */
async function commits(owner: PostgresOwner): Promise<boolean> {
  try {
    await owner.transaction(async (session) => {
      await session.query('create table if not exists commits (id text)');
      await session.query('insert into commits values ($1)', [owner.id]);
    });
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return false;
  }
}

describeWithPostgres('PostgreSQL ownership of a runtime id', () => {
  it('derives two int4 lock keys from the id, the same every time', () => {
    const [a, b] = ownerLockKeys('pricing-1');
    expect(ownerLockKeys('pricing-1')).toEqual([a, b]);
    expect(ownerLockKeys('pricing-2')).not.toEqual([a, b]);
    for (const key of [a, b]) expect(key | 0).toBe(key);
  });

  it('lets exactly one of two racing owners win; the other fails naming the id', async () => {
    const id = freshId();
    const results = await Promise.allSettled([owner(id).acquire(), owner(id).acquire()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [failure] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failure!.reason).toBeInstanceOf(CheckpointError);
    expect((failure!.reason as CheckpointError).path).toBe(id);
    expect((failure!.reason as Error).message).toContain(id);
    const [row] = await server().sql<{ id: string; lock_key1: number; lock_key2: number }>(
      'select id, lock_key1, lock_key2 from cloaca_owners where id = $1',
      [id],
    );
    expect([row!.lock_key1, row!.lock_key2]).toEqual(ownerLockKeys(id));
  });

  it('commits only on the lock-holding session', async () => {
    const id = freshId();
    const first = owner(id);
    await expect(commits(first)).resolves.toBe(false);
    await first.acquire();
    await expect(commits(first)).resolves.toBe(true);
    await first.close();
    await expect(commits(first)).resolves.toBe(false);
  });

  it('hands the id to a standby once the owner closes its session', async () => {
    const id = freshId();
    const first = owner(id);
    await first.acquire();
    const standby = owner(id, { standby: true });
    let taken = false;
    const waiting = standby.acquire().then(() => (taken = true));
    await expect(owner(id).acquire()).rejects.toBeInstanceOf(CheckpointError);
    expect(taken).toBe(false);
    await first.close();
    await waiting;
    expect(standby.owned).toBe(true);
    await expect(commits(standby)).resolves.toBe(true);
  });

  it('stops a waiting standby when it is closed', async () => {
    const id = freshId();
    await owner(id).acquire();
    const standby = owner(id, { standby: true });
    const waiting = standby.acquire().catch((error: unknown) => error);
    await standby.close();
    const error = await waiting;
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).path).toBe(id);
    expect(standby.owned).toBe(false);
  });

  it('reports the loss at once when the server terminates the owner session, and never commits on it', async () => {
    const id = freshId();
    const first = owner(id, { heartbeatInterval: 60_000, heartbeatTimeout: 120_000 });
    await first.acquire();
    const lost = first.lost();
    const started = performance.now();
    expect(await server().terminateSessions()).toBeGreaterThanOrEqual(1);
    const error = await lost;
    const ms = performance.now() - started;
    console.log(`pg_terminate_backend noticed in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.path).toBe(id);
    expect(first.owned).toBe(false);
    await expect(commits(first)).resolves.toBe(false);
    await first.acquire();
    await expect(commits(first)).resolves.toBe(true);
  });

  it('reports the loss on a server restart and takes the lock again after it', async () => {
    const id = freshId();
    const first = owner(id, { heartbeatInterval: 60_000, heartbeatTimeout: 120_000 });
    await first.acquire();
    const lost = first.lost();
    await server().stop('immediate');
    await lost;
    expect(first.owned).toBe(false);
    await server().restart();
    await first.acquire();
    await expect(commits(first)).resolves.toBe(true);
  });

  it('lets a waiting standby ride out a server restart', async () => {
    const id = freshId();
    const first = owner(id);
    await first.acquire();
    const standby = owner(id, { standby: true });
    const waiting = standby.acquire();
    const lost = first.lost();
    await server().restart();
    await lost;
    await waiting;
    expect(standby.owned).toBe(true);
    await expect(first.acquire()).rejects.toBeInstanceOf(CheckpointError);
  });

  it('calls the session lost when the server stops answering for the heartbeat timeout', async () => {
    const id = freshId();
    const first = owner(id, { heartbeatInterval: 100, heartbeatTimeout: 400 });
    await first.acquire();
    const [row] = await server().sql<{ backend_pid: number }>('select backend_pid from cloaca_owners where id = $1', [
      id,
    ]);
    const lost = first.lost();
    // A stopped backend keeps its socket open and the kernel still acknowledges: only the
    // heartbeat tells it from a slow one, as with a machine that vanished without a FIN.
    process.kill(row!.backend_pid, 'SIGSTOP');
    const started = performance.now();
    try {
      const error = await lost;
      const ms = performance.now() - started;
      console.log(`a silent server noticed in ${ms.toFixed(0)} ms (heartbeat 100 ms, timeout 400 ms)`);
      expect(error.message).toContain('has not answered');
      expect(ms).toBeLessThan(1000);
      expect(first.owned).toBe(false);
      await expect(commits(first)).resolves.toBe(false);
    } finally {
      process.kill(row!.backend_pid, 'SIGCONT');
    }
  });

  it('replaces a SIGKILLed owner process with a standby within 5 s', async () => {
    const id = freshId();
    const child = spawnReporting(fixture('owner-child.mjs'), [server().url, id]);
    await child.line((line) => line === 'owned');
    const standby = owner(id, { standby: true });
    const waiting = standby.acquire();
    const killed = performance.now();
    child.proc.kill('SIGKILL');
    await waiting;
    const ms = performance.now() - killed;
    console.log(`standby took over ${ms.toFixed(0)} ms after the owner's SIGKILL`);
    expect(ms).toBeLessThan(5000);
    await child.exited;
    await expect(commits(standby)).resolves.toBe(true);
  });

  it('fails at once without a standby when the database cannot be reached', async () => {
    const unreachable = new PostgresOwner({
      url: 'postgres://cloaca@127.0.0.1:1/cloaca',
      id: 'nowhere',
      onLost: () => {},
    });
    const error = await unreachable.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).path).toBe('nowhere');
  });
});
