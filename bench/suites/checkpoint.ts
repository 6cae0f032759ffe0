/**
 * Checkpoint suite: what durability costs, against raw better-sqlite3 doing the same writes.
 *
 * - persisted boundaries/s: a paused `sequential` reactor (nothing fires, so every boundary is
 *   written) takes bursts of 1,000 events, each followed by `await runtime.persisted()`; the peer
 *   inserts the same `v8.serialize`d values into a WAL database with `synchronous=NORMAL`, one
 *   transaction per burst. The runtime's work beyond the peer's: the event check, the reactor,
 *   staging, the row checksums and the reactor's state row.
 * - restart: `start()` on a file holding that many queued boundaries (open and lock, quick_check,
 *   load with checksums, match against the registrations) against the peer opening the file and
 *   reading and deserialising every row.
 * - push -> persisted latency, one event at a time (p50, p99): the group commit of one turn.
 *
 * The same on PostgreSQL, with a takeover after SIGKILL, in `checkpoint-postgres.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';
import { progress, quantile, quantiles, type Budget, type Row } from '../harness.js';
import { postgresCheckpoint, postgresSteps } from './checkpoint-postgres.js';
import type { SuiteResult } from './shared.js';

export const checkpointSteps = 5 + postgresSteps;

const kBurst = 1000;

/** An event of a realistic small size: a few fields, a string, a short array. */
const event = (n: number) => ({ n, symbol: 'ACME', price: 100 + (n % 17) / 4, sizes: [n % 5, n % 7, n % 11] });

async function runtimeOn(file: string) {
  const R = reactor({ name: 'cp_reactor', accumulators: ['a'], strategy: 'sequential' });
  const graph = await new ComputationGraphBuilder('cp_graph', {
    reactor: R,
    nodes: { take: (a: unknown) => a },
    graph: { take: { inputs: ['a'] } },
  }).build();
  const runtime = new Runtime({ threads: 1, checkpoint: file, queueCapacity: 1 << 20 });
  runtime.register(passthroughAccumulator({ name: 'a' }), R, graph);
  return runtime;
}

export async function checkpointSuite(budget: Budget): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cloaca-bench-checkpoint-'));
  const count = Math.max(kBurst, Math.round((100_000 * budget.scale) / kBurst) * kBurst);
  const rows: Row[] = [];
  try {
    progress('checkpoint: cloaca, persisted boundaries');
    const file = join(dir, 'cloaca.db');
    const runtime = await runtimeOn(file);
    await runtime.start();
    runtime.reactor('cp_reactor').pause();
    let start = performance.now();
    for (let n = 0; n < count;) {
      for (const end = n + kBurst; n < end; n++) runtime.push('a', event(n));
      await runtime.persisted();
    }
    const cloacaPerSec = count / ((performance.now() - start) / 1000);
    await runtime.shutdown();

    progress('checkpoint: raw better-sqlite3, the same rows');
    const rawFile = join(dir, 'raw.db');
    const db = new Database(rawFile);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      'CREATE TABLE q (k TEXT NOT NULL, seq INTEGER NOT NULL, v BLOB NOT NULL, PRIMARY KEY (k, seq)) WITHOUT ROWID',
    );
    const insert = db.prepare('INSERT INTO q (k, seq, v) VALUES (?, ?, ?)');
    const burst = db.transaction((from: number) => {
      for (let n = from; n < from + kBurst; n++) insert.run('cp_reactor', n, serialize(event(n)));
    });
    start = performance.now();
    for (let n = 0; n < count; n += kBurst) {
      burst(n);
      await new Promise((resolve) => setImmediate(resolve)); // a turn per burst, as the runtime takes
    }
    const rawPerSec = count / ((performance.now() - start) / 1000);
    db.close();

    progress('checkpoint: restart on a file of queued boundaries');
    start = performance.now();
    const again = await runtimeOn(file);
    await again.start();
    const restartMs = performance.now() - start;
    const queued = again.reactor('cp_reactor').getState().queued;
    await again.shutdown();
    start = performance.now();
    const reader = new Database(rawFile);
    let read = 0;
    for (const row of reader.prepare('SELECT seq, v FROM q ORDER BY k, seq').iterate() as Iterable<{ v: Buffer }>) {
      deserialize(row.v);
      read++;
    }
    reader.close();
    const rawReadMs = performance.now() - start;

    progress('checkpoint: push -> persisted latency, one event at a time');
    const paced = await runtimeOn(join(dir, 'latency.db'));
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
    const postgres = await postgresCheckpoint(budget, count, event);
    progress('checkpoint: done');

    rows.push(
      {
        suite: 'checkpoint',
        metric: 'persisted boundaries (paused sequential reactor)',
        value: cloacaPerSec,
        unit: 'boundaries/s',
        note: `${(cloacaPerSec / rawPerSec).toFixed(2)}x raw better-sqlite3 inserts`,
      },
      { suite: 'checkpoint', metric: 'raw better-sqlite3: the same rows', value: rawPerSec, unit: 'rows/s' },
      {
        suite: 'checkpoint',
        metric: `restart on ${queued.toLocaleString('en-US')} queued boundaries`,
        value: restartMs,
        unit: 'ms',
        note: `raw open + read + deserialise of ${read.toLocaleString('en-US')} rows: ${rawReadMs.toFixed(0)} ms`,
      },
      {
        suite: 'checkpoint',
        metric: 'push -> persisted, one event at a time',
        value: quantile(samples, 0.5),
        unit: 'ms p50',
        note: `p99 ${quantile(samples, 0.99).toFixed(2)} ms over ${samples.length}`,
      },
      ...postgres.rows,
    );
    return {
      rows,
      data: {
        count,
        cloacaPerSec,
        rawPerSec,
        restart: { queued, ms: restartMs, rawRows: read, rawMs: rawReadMs },
        persistedLatencyMs: { ...quantiles(samples), samples: samples.length },
        postgres: postgres.data,
      },
      charts: [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
