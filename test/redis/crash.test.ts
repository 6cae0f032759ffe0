/**
 * Processes killed with SIGKILL while consuming a Redis stream (contract section 8): a consumer
 * killed right after a firing, before it was persisted, loses nothing across a restart; and of
 * two processes in one group, the one left delivers what the killed one had read and not
 * acknowledged. Every entry is delivered at least once; duplicates are counted and reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeWithRedis, useRedisServer } from '../support/redis-server.js';
import { ConsumerProcess, duplicates, missing, type ConsumerConfig } from './support.js';
import { unique } from '../runtime/support.js';

const server = useRedisServer();
const dir = mkdtempSync(join(tmpdir(), 'cloaca-redis-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const children: ConsumerProcess[] = [];
afterAll(async () => {
  for (const child of children) await child.stop('SIGKILL');
});

function start(config: Omit<ConsumerConfig, 'url' | 'progress'> & { readonly label: string }): ConsumerProcess {
  const child = new ConsumerProcess({
    url: server().url,
    progress: join(dir, `${unique(config.label)}.log`),
    ...config,
  });
  children.push(child);
  return child;
}

/** A stream with its group, holding entries `{ data: n }` for n in [0, count); resolves their ids. */
async function stream(count: number) {
  const client = await server().client();
  const key = unique('stream');
  const group = unique('group');
  await client.xGroupCreate(key, group, '$', { MKSTREAM: true });
  const ids: string[] = [];
  for (let from = 0; from < count; from += 500) {
    const batch = Array.from({ length: Math.min(500, count - from) }, (_, i) => ({ data: String(from + i) }));
    ids.push(...(await Promise.all(batch.map((fields) => client.xAdd(key, '*', fields)))));
  }
  return { client, key, group, ids };
}

describeWithRedis('SIGKILL while consuming a Redis stream', () => {
  it('killed after a firing and before persisting it: after a restart every entry fires at least once', async () => {
    const N = 400;
    const K = 150;
    const { client, key, group } = await stream(N);
    const checkpoint = join(dir, `${unique('cp')}.db`);
    const common = { stream: key, group, consumer: 'c1', checkpoint, batchSize: 50, queueCapacity: 100 };

    const first = start({ ...common, label: 'first', killAfterFire: K });
    expect(await first.exited, first.stderr).toStrictEqual({ code: null, signal: 'SIGKILL' });
    const before = first.progress.fired;
    expect(before.get(K)).toBe(1);
    expect(missing(K + 1, before)).toStrictEqual([]); // sequential: 0..K fired, in order

    const second = start({ ...common, label: 'second' });
    await second.progress.until(() => missing(N, before, second.progress.fired).length === 0);
    expect(await second.stop('SIGTERM')).toStrictEqual({ code: 0, signal: null });

    const after = second.progress.fired;
    expect(missing(N, before, after)).toStrictEqual([]);
    // Its firing was never persisted as done, so entry K fires again.
    expect(after.get(K) ?? 0).toBeGreaterThanOrEqual(1);
    const extra = duplicates(before, after);
    console.log(`[redis crash] restart after firing: ${N} entries, ${extra} fired more than once`);
    expect(extra).toBeGreaterThanOrEqual(1);
    expect((await client.xPending(key, group)).pending).toBe(0);
  });

  it('one of two processes in a group killed mid-stream: the other delivers its pending entries; every entry is delivered at least once', async () => {
    const N = 2000;
    const { client, key, group, ids } = await stream(N);
    const number = new Map(ids.map((id, n) => [id, n]));
    const common = { stream: key, group, claimIdle: '300ms', batchSize: 20, queueCapacity: 20, delayMs: 1 };
    const a = start({ ...common, label: 'a', consumer: 'a', checkpoint: join(dir, `${unique('a')}.db`) });
    const bCheckpoint = join(dir, `${unique('b')}.db`);
    // b kills itself while delivering its 200th entry: that one and the rest of its batch were
    // read and never acknowledged.
    const b = start({ ...common, label: 'b', consumer: 'b', checkpoint: bCheckpoint, killAtDelivery: 200 });
    expect(await b.exited, b.stderr).toStrictEqual({ code: null, signal: 'SIGKILL' });
    const left = (await client.xPendingRange(key, group, '-', '+', N, { consumer: 'b' })).map((p) => number.get(p.id)!);
    const deliveredBeforeKill = a.progress.delivered.size + b.progress.delivered.size;
    expect(deliveredBeforeKill).toBeLessThan(N); // mid-stream
    expect(left.length).toBeGreaterThan(0);

    // The survivor claims and delivers what b read and never acknowledged, and the rest.
    await a.progress.until(
      () =>
        missing(N, a.progress.delivered, b.progress.delivered).length === 0 &&
        left.every((n) => a.progress.delivered.has(n)),
    );
    await a.progress.until(() => a.progress.fired.size === a.progress.delivered.size);
    expect((await client.xInfoConsumers(key, group)).find((c) => c.name === 'b')?.pending).toBe(0);
    expect(await a.stop('SIGTERM')).toStrictEqual({ code: 0, signal: null });

    // What b accepted into its checkpoint before it died fires when b comes back on its file:
    // then every entry has fired somewhere.
    const bAgain = start({ ...common, label: 'b-again', consumer: 'b', checkpoint: bCheckpoint });
    await bAgain.progress.until(() => bAgain.progress.lines.includes('live'));
    await bAgain.progress.until(
      () => missing(N, a.progress.fired, b.progress.fired, bAgain.progress.fired).length === 0,
    );
    expect(await bAgain.stop('SIGTERM')).toStrictEqual({ code: 0, signal: null });
    expect((await client.xPending(key, group)).pending).toBe(0);

    const delivered = duplicates(a.progress.delivered, b.progress.delivered, bAgain.progress.delivered);
    const fired = duplicates(a.progress.fired, b.progress.fired, bAgain.progress.fired);
    console.log(
      `[redis crash] group of two, one killed: ${N} entries, b had ${left.length} pending at its death, ` +
        `${delivered} delivered more than once, ${fired} fired more than once`,
    );
    expect(missing(N, a.progress.delivered, b.progress.delivered)).toStrictEqual([]);
  });
});
