/**
 * Redis suite: cloaca consuming Redis Streams, on a private redis-server (skipped, with a note,
 * where none is installed). Every run reads a pre-filled stream through a consumer group of its
 * own created at the stream's start, so all of them read the same entries.
 *
 * - one process, Redis -> `latest` reactor (inline, a no-op graph) against the peer, a raw
 *   node-redis loop on the same stream (XREADGROUP COUNT 100, JSON.parse of each entry, XACK),
 *   alternated three times, medians: entries/s and the ratio (target >= 0.7x);
 * - one process, Redis -> `sequential` reactor with a checkpoint: entries/s, then the latency
 *   from XADD (by a producer process) to fire record at half that rate (p50, p99);
 * - 1, 2 and 3 processes (each its own runtime) in one group: total entries/s. The server, the
 *   consumers and this process share the machine's cores: on 2 cores, more processes mostly
 *   compete; on a many-core machine the same script measures the scale-out.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type RedisClientType } from 'redis';
import { ComputationGraphBuilder, Runtime, reactor, streamAccumulator, type FireRecord } from 'cloaca';
import {
  freePort,
  killRedisServer,
  redisServerBinary,
  redisServerInstall,
  startRedisServer,
} from '../../examples/scale/redis-server.js';
import type { ConsumerConfig } from '../redis/consumer.js';
import type { ProducerConfig } from '../redis/producer.js';
import { median, progress, quantiles, type Budget, type Row } from '../harness.js';
import { nodesModule, type SuiteResult } from './shared.js';

const kGroupSizes = [1, 2, 3];
export const redisSteps = 3 * 2 + 2 + kGroupSizes.length;

/** Adds `count` entries `{ data: {"n":..,"px":..} }`: pipelines of 100, 8 in flight. */
async function fill(client: RedisClientType, stream: string, count: number): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let from = 0; from < count; from += 100) {
    const batch: Promise<unknown> = Promise.all(
      Array.from({ length: Math.min(100, count - from) }, (_, i) =>
        client.xAdd(stream, '*', { data: JSON.stringify({ n: from + i, px: 101.25 }) }),
      ),
    ).then(() => inFlight.delete(batch));
    inFlight.add(batch);
    if (inFlight.size >= 8) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** The peer: what a hand-written node-redis consumer does, one batch after the other. */
async function rawLoop(url: string, stream: string, group: string, total: number): Promise<number> {
  const client: RedisClientType = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  await client.xGroupCreate(stream, group, '0');
  const start = performance.now();
  for (let read = 0; read < total;) {
    const reply = await client.xReadGroup(group, 'raw', { key: stream, id: '>' }, { COUNT: 100, BLOCK: 1000 });
    const messages =
      (reply as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }> | null)?.[0]?.messages ??
      [];
    for (const message of messages) JSON.parse(message.message.data!);
    await client.xAck(
      stream,
      group,
      messages.map((m) => m.id),
    );
    read += messages.length;
  }
  const perSec = total / ((performance.now() - start) / 1000);
  await client.close();
  return perSec;
}

/** A runtime reading `stream` in `group` into one reactor with a no-op graph (inline). */
async function consumer(
  url: string,
  stream: string,
  group: string,
  strategy: 'latest' | 'sequential',
  checkpoint?: string,
) {
  const declaration = reactor({ name: 'redis_bench', accumulators: ['events'], strategy });
  const graph = await new ComputationGraphBuilder('redis_bench_graph', {
    reactor: declaration,
    executor: 'inline',
    nodes: nodesModule,
    graph: { noop: { inputs: ['events'] } },
  }).build();
  const runtime = new Runtime({ threads: 1, ...(checkpoint === undefined ? {} : { checkpoint }) });
  runtime.register(
    streamAccumulator({
      name: 'events',
      type: 'redis',
      topic: stream,
      group,
      options: { url, consumer: 'bench', block: '100ms' },
    }),
    declaration,
    graph,
  );
  return runtime;
}

/** Reads the whole pre-filled stream through a runtime; entries/s until the last entry fired. */
async function cloacaRun(runtime: Runtime, total: number): Promise<number> {
  const last = new Promise<void>((resolve) =>
    runtime.on('fire', (record: FireRecord) => {
      if ((record.inputs.events as { n: number }).n === total - 1) resolve();
    }),
  );
  const start = performance.now();
  await runtime.start();
  await last;
  const perSec = total / ((performance.now() - start) / 1000);
  await runtime.idle(); // the last acknowledgements
  await runtime.shutdown();
  return perSec;
}

/**
 * XADD -> fire record latency at a steady `perSecond` for `ms`, from a producer process (see
 * bench/redis/producer.ts); every entry fires (sequential).
 */
async function latency(runtime: Runtime, producer: ProducerConfig) {
  const samples: number[] = [];
  runtime.on('fire', (record: FireRecord) => {
    samples.push(performance.timeOrigin + performance.now() - (record.inputs.events as { at: number }).at);
  });
  await runtime.start();
  const child = fork(new URL('../redis/producer.js', import.meta.url), [JSON.stringify(producer)], {
    stdio: 'inherit',
  });
  const { added, failed } = await new Promise<{ added: number; failed: number }>((resolve) =>
    child.once('message', resolve),
  );
  while (samples.length < added - failed) await new Promise((resolve) => runtime.once('fire', resolve));
  await runtime.shutdown();
  return { entries: added - failed, fired: samples.length, ...quantiles(samples) };
}

/** `processes` runtimes in child processes, one group: total entries/s and each one's share. */
async function groupRun(
  url: string,
  admin: RedisClientType,
  stream: string,
  group: string,
  processes: number,
  total: number,
) {
  await admin.xGroupCreate(stream, group, '0');
  const script = new URL('../redis/consumer.js', import.meta.url);
  const children: ChildProcess[] = [];
  await Promise.all(
    Array.from({ length: processes }, (_, i) => {
      const config: ConsumerConfig = { url, stream, group, consumer: `c${i + 1}` };
      const child = fork(script, [JSON.stringify(config)], { stdio: 'inherit' });
      children.push(child);
      return new Promise((resolve) => child.once('message', resolve)); // 'ready'
    }),
  );
  const start = performance.now();
  for (const child of children) child.send('go');
  for (;;) {
    const info = (await admin.xInfoGroups(stream)).find((g) => g.name === group);
    if (info !== undefined && Number(info['entries-read']) >= total && Number(info.pending) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const perSec = total / ((performance.now() - start) / 1000);
  const events = await Promise.all(
    children.map(
      (child) =>
        new Promise<number>((resolve) => {
          child.once('message', (reply: { events: number }) => resolve(reply.events));
          child.send('stop');
        }),
    ),
  );
  return { perSec, shares: events.map((e) => e / total) };
}

export async function redisSuite(budget: Budget): Promise<SuiteResult> {
  const rows: Row[] = [];
  if (redisServerBinary === undefined) {
    for (let i = 0; i < redisSteps; i++) progress('redis: skipped');
    rows.push({
      suite: 'redis',
      metric: 'skipped',
      value: 0,
      unit: '-',
      note: `no redis-server: ${redisServerInstall}`,
    });
    return { rows, data: { skipped: `no redis-server: ${redisServerInstall}` }, charts: [] };
  }
  const port = await freePort();
  const server = await startRedisServer(port);
  const url = `redis://127.0.0.1:${port}`;
  const admin: RedisClientType = createClient({ url });
  admin.on('error', () => {});
  await admin.connect();
  const dir = mkdtempSync(join(tmpdir(), 'cloaca-bench-redis-'));
  try {
    const total = Math.max(1000, Math.round(150_000 * budget.scale));
    const stream = 'bench:entries';
    await fill(admin, stream, total);
    let groups = 0;
    const freshGroup = async (): Promise<string> => {
      const group = `g${++groups}`;
      await admin.xGroupCreate(stream, group, '0');
      return group;
    };

    const raw: number[] = [];
    const latest: number[] = [];
    for (let run = 0; run < 3; run++) {
      progress('redis: raw node-redis XREADGROUP + XACK loop');
      raw.push(await rawLoop(url, stream, `raw${run}`, total));
      progress('redis: Redis -> latest reactor, inline');
      latest.push(await cloacaRun(await consumer(url, stream, await freshGroup(), 'latest'), total));
    }
    const rawPerSec = median(raw);
    const latestPerSec = median(latest);
    rows.push({
      suite: 'redis',
      metric: 'raw node-redis: XREADGROUP+XACK loop',
      value: rawPerSec,
      unit: 'entries/s',
      note: 'peer, one process',
    });
    rows.push({
      suite: 'redis',
      metric: 'Redis -> latest reactor (inline)',
      value: latestPerSec,
      unit: 'entries/s',
      note: `${(latestPerSec / rawPerSec).toFixed(2)}x the raw loop (target >= 0.7x)`,
    });

    progress('redis: Redis -> sequential reactor with a checkpoint');
    const sequentialPerSec = await cloacaRun(
      await consumer(url, stream, await freshGroup(), 'sequential', join(dir, 'throughput.db')),
      total,
    );
    rows.push({
      suite: 'redis',
      metric: 'Redis -> sequential reactor + checkpoint',
      value: sequentialPerSec,
      unit: 'entries/s',
    });

    progress('redis: XADD -> fire latency, sequential + checkpoint, at half that rate');
    const paced = Math.max(100, Math.round(sequentialPerSec / 2));
    const latencyStream = 'bench:latency';
    await admin.xGroupCreate(latencyStream, 'latency', '$', { MKSTREAM: true });
    const lat = await latency(await consumer(url, latencyStream, 'latency', 'sequential', join(dir, 'latency.db')), {
      url,
      stream: latencyStream,
      perSecond: paced,
      ms: Math.max(300, budget.measureMs * 3),
    });
    rows.push({
      suite: 'redis',
      metric: `XADD -> fire p50 at ${paced.toLocaleString('en-US')}/s`,
      value: lat.p50,
      unit: 'ms',
      note: `${lat.fired} of ${lat.entries} fired`,
    });
    rows.push({
      suite: 'redis',
      metric: `XADD -> fire p99 at ${paced.toLocaleString('en-US')}/s`,
      value: lat.p99,
      unit: 'ms',
    });

    const group: Array<{ processes: number; perSec: number; shares: number[] }> = [];
    for (const processes of kGroupSizes) {
      progress(`redis: ${processes} process(es) in one group`);
      const result = await groupRun(url, admin, stream, `group${processes}`, processes, total);
      group.push({ processes, ...result });
      rows.push({
        suite: 'redis',
        metric: `${processes} process${processes > 1 ? 'es' : ''} in one group`,
        value: result.perSec,
        unit: 'entries/s',
        note: `${(result.perSec / group[0]!.perSec).toFixed(2)}x one process; shares ${result.shares.map((s) => `${Math.round(s * 100)}%`).join('/')}`,
      });
    }

    return {
      rows,
      data: {
        entries: total,
        throughput: { raw, latest, rawPerSec, latestPerSec, ratio: latestPerSec / rawPerSec, sequentialPerSec },
        latency: { perSecond: paced, ...lat },
        group,
        note: 'redis-server, consumers and the benchmark share the machine; see machine.cores',
      },
      charts: [
        {
          name: 'redis-group',
          chart: {
            title: 'Redis stream, processes in one consumer group',
            xLabel: 'processes',
            yLabel: 'entries/s',
            series: [{ name: 'total entries/s', points: group.map((g) => [g.processes, g.perSec] as const) }],
          },
        },
      ],
    };
  } finally {
    await admin.close();
    await killRedisServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}
