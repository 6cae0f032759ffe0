/**
 * The PostgreSQL rows of the checkpoint suite, on a private cluster (skipped, with a note,
 * without PostgreSQL's server programs). The cluster runs with `fsync=off`: what is measured is
 * the runtime and the protocol, not the disk.
 *
 * - persisted boundaries/s: as for SQLite, a paused `sequential` reactor takes bursts of 1,000
 *   events, each followed by `await runtime.persisted()`; the peer is the same `pg` client
 *   inserting the same `v8.serialize`d values with one `unnest` insert per burst (one statement,
 *   committed by itself, as the runtime's group commit is), the values as the usual `bytea[]`.
 *   The two run interleaved, a quarter of the events at a time.
 * - restart: `start()` on an id holding 300,000 queued boundaries (fewer in tiny mode).
 * - push -> persisted latency, one event at a time (p50, p99).
 * - takeover: an owner process (examples/failover/runtime.ts) killed with SIGKILL while a
 *   standby process waits; the time from the kill to the standby's `start()` resolving, as a
 *   distribution over `runs` kills.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { serialize } from 'node:v8';
import pg from 'pg';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';
import { postgresBinDir, postgresInstall, PostgresServer } from '../../examples/failover/postgres-server.js';
import type { FailoverReport } from '../../examples/failover/runtime.js';
import { progress, quantile, quantiles, type Budget, type Row } from '../harness.js';

export const postgresSteps = postgresBinDir === undefined ? 1 : 5;

const kBurst = 1000;

async function runtimeOn(url: string, id: string) {
  const R = reactor({ name: 'cp_reactor', accumulators: ['a'], strategy: 'sequential' });
  const graph = await new ComputationGraphBuilder('cp_graph', {
    reactor: R,
    nodes: { take: (a: unknown) => a },
    graph: { take: { inputs: ['a'] } },
  }).build();
  const runtime = new Runtime({ threads: 1, checkpoint: url, id, queueCapacity: 1 << 20 });
  runtime.register(passthroughAccumulator({ name: 'a' }), R, graph);
  return runtime;
}

/** Pushes events [from, to) in bursts, each followed by persisted(). */
async function pushBursts(runtime: Runtime, event: (n: number) => unknown, from: number, to: number): Promise<void> {
  for (let n = from; n < to;) {
    for (const end = Math.min(n + kBurst, to); n < end; n++) runtime.push('a', event(n));
    await runtime.persisted();
  }
}

/** Forks a runtime of the failover example; resolves with it once it reported `until`. */
function member(url: string, role: 'owner' | 'standby', until: FailoverReport['type']) {
  const child: ChildProcess = fork(new URL('../../examples/failover/runtime.js', import.meta.url), [url, role], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const owned = new Promise<number>((resolve) =>
    child.on('message', (report: FailoverReport) => {
      if (report.type === 'owned') resolve(report.at);
    }),
  );
  const ready = new Promise<void>((resolve) =>
    child.on('message', (report: FailoverReport) => {
      if (report.type === until) resolve();
    }),
  );
  return { child, owned, ready };
}

/** The milliseconds from an owner's SIGKILL to its standby owning the id, once. */
async function takeover(url: string): Promise<number> {
  const owner = member(url, 'owner', 'owned');
  await owner.ready;
  const standby = member(url, 'standby', 'standby');
  await standby.ready;
  const killedAt = Date.now();
  owner.child.kill('SIGKILL');
  const ms = (await standby.owned) - killedAt;
  standby.child.send({ type: 'stop' });
  await new Promise((resolve) => standby.child.on('exit', resolve));
  return ms;
}

/** The PostgreSQL rows and data of the checkpoint suite. */
export async function postgresCheckpoint(
  budget: Budget,
  count: number,
  event: (n: number) => unknown,
): Promise<{ rows: Row[]; data: Record<string, unknown> }> {
  if (postgresBinDir === undefined) {
    progress('checkpoint: PostgreSQL skipped');
    const note = `no PostgreSQL server programs: ${postgresInstall}`;
    return { rows: [{ suite: 'checkpoint', metric: 'PostgreSQL skipped', value: 0, unit: '-', note }], data: {} };
  }
  const server = await PostgresServer.start();
  try {
    progress('checkpoint: PostgreSQL, persisted boundaries');
    const queuedTarget = Math.max(count, Math.round((300_000 * Math.min(1, budget.scale / 0.4)) / kBurst) * kBurst);
    const runtime = await runtimeOn(server.url, 'bench');
    await runtime.start();
    runtime.reactor('cp_reactor').pause();
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query('create table raw (k text not null, seq int8 not null, v bytea not null, primary key (k, seq))');
    const rawBursts = async (from: number, to: number): Promise<void> => {
      for (let first = from; first < to; first += kBurst) {
        const seqs = Array.from({ length: Math.min(kBurst, to - first) }, (_, i) => first + i);
        await client.query('insert into raw select * from unnest($1::text[], $2::int8[], $3::bytea[])', [
          seqs.map(() => 'cp_reactor'),
          seqs,
          seqs.map((n) => serialize(event(n))),
        ]);
      }
    };
    // Interleaved in quarters, so that both meet the same moments of a shared machine and of the
    // server (its caches warming, its checkpoints).
    let cloacaMs = 0;
    let rawMs = 0;
    const quarter = Math.ceil(count / 4 / kBurst) * kBurst;
    for (let from = 0; from < count; from += quarter) {
      const to = Math.min(from + quarter, count);
      if (from === quarter) progress('checkpoint: raw pg unnest inserts, the same rows, interleaved');
      let start = performance.now();
      await pushBursts(runtime, event, from, to);
      cloacaMs += performance.now() - start;
      start = performance.now();
      await rawBursts(from, to);
      rawMs += performance.now() - start;
    }
    const cloacaPerSec = count / (cloacaMs / 1000);
    const rawPerSec = count / (rawMs / 1000);
    await client.end();

    progress('checkpoint: PostgreSQL restart on queued boundaries');
    await pushBursts(runtime, event, count, queuedTarget);
    await runtime.shutdown();
    const start = performance.now();
    const again = await runtimeOn(server.url, 'bench');
    await again.start();
    const restartMs = performance.now() - start;
    const queued = again.reactor('cp_reactor').getState().queued;
    await again.shutdown();

    progress('checkpoint: PostgreSQL push -> persisted latency');
    const paced = await runtimeOn(server.url, 'latency');
    await paced.start();
    const samples: number[] = [];
    const total = Math.max(200, Math.round(1000 * (budget.measureMs / 1000)));
    for (let n = 0; n < total; n++) {
      const at = performance.now();
      paced.push('a', event(n));
      await paced.persisted();
      samples.push(performance.now() - at);
    }
    await paced.shutdown();

    const runs = budget.scale >= 1 ? 20 : budget.scale >= 0.4 ? 5 : 1;
    progress(`checkpoint: PostgreSQL takeover after SIGKILL, ${runs} runs`);
    const takeovers: number[] = [];
    for (let i = 0; i < runs; i++) takeovers.push(await takeover(server.url));

    const rows: Row[] = [
      {
        suite: 'checkpoint',
        metric: 'PostgreSQL: persisted boundaries (paused sequential reactor)',
        value: cloacaPerSec,
        unit: 'boundaries/s',
        note: `${(cloacaPerSec / rawPerSec).toFixed(2)}x raw pg unnest inserts`,
      },
      { suite: 'checkpoint', metric: 'raw pg unnest inserts: the same rows', value: rawPerSec, unit: 'rows/s' },
      {
        suite: 'checkpoint',
        metric: `PostgreSQL: restart on ${queued.toLocaleString('en-US')} queued boundaries`,
        value: restartMs,
        unit: 'ms',
      },
      {
        suite: 'checkpoint',
        metric: 'PostgreSQL: push -> persisted, one event at a time',
        value: quantile(samples, 0.5),
        unit: 'ms p50',
        note: `p99 ${quantile(samples, 0.99).toFixed(2)} ms over ${samples.length}`,
      },
      {
        suite: 'checkpoint',
        metric: 'PostgreSQL: takeover after the owner is SIGKILLed',
        value: quantile(takeovers, 0.5),
        unit: 'ms p50',
        note: `max ${Math.max(...takeovers).toFixed(0)} ms over ${runs} runs`,
      },
    ];
    return {
      rows,
      data: {
        count,
        cloacaPerSec,
        rawPerSec,
        restart: { queued, ms: restartMs },
        persistedLatencyMs: { ...quantiles(samples), samples: samples.length },
        takeoverMs: { runs, p50: quantile(takeovers, 0.5), max: Math.max(...takeovers), all: takeovers },
      },
    };
  } finally {
    await server.remove();
  }
}
