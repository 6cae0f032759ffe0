/**
 * A standby process taking over from an owner process killed with SIGKILL (contract section 12):
 * it is firing within 5 s, every boundary the owner persisted fires at least once, in order;
 * and with a Redis stream, an owner whose machine is gone loses no entry. Child processes
 * (fixtures/runtime-child.mjs) on a PostgreSQL server of this file's own.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { spawnReporting, type ReportingChild } from '../support/child.js';
import { describeWithPostgres, usePostgresServer } from '../support/postgres.js';
import { describeWithRedis, useRedisServer } from '../support/redis-server.js';
import { unique } from '../runtime/support.js';

const postgres = usePostgresServer();
const redis = useRedisServer();
const script = fileURLToPath(new URL('./fixtures/runtime-child.mjs', import.meta.url));

const children: ReportingChild[] = [];
afterAll(async () => {
  for (const child of children) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
});

function child(role: 'owner' | 'standby', id: string, ...redisArgs: string[]): ReportingChild {
  const started = spawnReporting(script, [role, postgres().url, id, ...redisArgs]);
  children.push(started);
  return started;
}

/** The numbers of the `fired <n>` lines, in order. */
const fired = (lines: readonly string[]): number[] =>
  lines.filter((l) => l.startsWith('fired ')).map((l) => Number(l.slice('fired '.length)));

const at = (line: string): number => Number(line.split(' ')[1]);

describeWithPostgres('a standby taking over from a SIGKILLed owner', () => {
  it('is firing within 5 s and fires every boundary the owner persisted, in order', async () => {
    const id = unique('takeover');
    const owner = child('owner', id);
    await owner.line((l) => l.startsWith('owned '));
    const standby = child('standby', id);
    await standby.line((l) => l === 'standby');
    // A backlog: enough persisted that some of it has not fired yet.
    await owner.line((l) => l.startsWith('persisted ') && at(l) >= 1999);
    const killedAt = Date.now();
    owner.proc.kill('SIGKILL');
    await owner.exited;
    const persisted = Math.max(
      ...owner
        .lines()
        .filter((l) => l.startsWith('persisted '))
        .map(at),
    );
    const firstFire = await standby.line((l) => l.startsWith('fired '));
    // Seen here no earlier than it happened: an upper bound of when the standby was firing.
    const firingMs = Date.now() - killedAt;
    const ownedAt = at(await standby.line((l) => l.startsWith('owned ')));
    await standby.line((l) => l === 'idle');
    const takeoverMs = ownedAt - killedAt;
    console.log(
      `standby owned the id ${takeoverMs} ms after the owner's SIGKILL, firing by ${firingMs} ms (${firstFire})`,
    );
    expect(takeoverMs).toBeLessThan(5000);
    expect(firingMs).toBeLessThan(5000);

    const before = fired(owner.lines());
    const after = fired(standby.lines());
    // The standby goes on where the owner's last commit stood: in order, from there.
    for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 1);
    const seen = new Set([...before, ...after]);
    const lost = Array.from({ length: persisted + 1 }, (_, n) => n).filter((n) => !seen.has(n));
    expect(lost).toStrictEqual([]);
    expect(after.length).toBeGreaterThan(0);
  }, 60_000);

  describeWithRedis('with a Redis stream', () => {
    it('re-reads what an owner whose machine is gone left unacknowledged: every entry fires at least once', async () => {
      const id = unique('stream-owner');
      const stream = unique('stream');
      const group = unique('group');
      const client = await redis().client();
      await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
      const N = 1500;
      for (let from = 0; from < N; from += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, i) => client.xAdd(stream, '*', { data: String(from + i) })));
      }
      const owner = child('owner', id, redis().url, stream, group);
      await owner.line((l) => l.startsWith('owned '));
      const standby = child('standby', id, redis().url, stream, group);
      await standby.line((l) => l === 'standby');
      await owner.line((l) => l.startsWith('fired ') && at(l) >= 300);
      // The owner's machine is gone: the process dies without a word and has nothing on disk to
      // come back with; only the database and the stream know what it did.
      owner.proc.kill('SIGKILL');
      await owner.exited;
      await standby.line((l) => l === `fired ${N - 1}`);
      const seen = new Set([...fired(owner.lines()), ...fired(standby.lines())]);
      const lost = Array.from({ length: N }, (_, n) => n).filter((n) => !seen.has(n));
      expect(lost).toStrictEqual([]);
      const pending = await client.xPending(stream, group);
      console.log(`pending after the takeover: ${pending.pending}`);
    }, 60_000);
  });
});
