/**
 * Scale-out over Redis Streams: N cloaca processes in one consumer group share a stream that a
 * producer fills. Prints each process's share and the total rate every second, kills one process
 * with SIGKILL part-way, lets the others claim what it had read and not acknowledged, restarts it
 * on its own checkpoint file so the boundaries it had accepted fire too, and checks that every
 * entry fired at least once.
 *
 *     npm run example:scale -- [--processes 3] [--entries 200000] [--kill-at 0.4] [--url redis://host:port]
 *
 * Without --url it starts a private redis-server (when one is installed) on a free port.
 * On several machines: the same stream and group, each process its own consumer name and
 * checkpoint file (see the README).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { freePort, killRedisServer, redisServerBinary, redisServerInstall, startRedisServer } from './redis-server.js';
import type { ProducerConfig } from './producer.js';
import type { WorkerConfig, WorkerReport } from './worker.js';

const { values } = parseArgs({
  options: {
    processes: { type: 'string', default: '3' },
    entries: { type: 'string', default: '200000' },
    'kill-at': { type: 'string', default: '0.4' },
    url: { type: 'string' },
  },
});
const processes = Number(values.processes);
const entries = Number(values.entries);
const killAt = Number(values['kill-at']);
if (
  !(Number.isInteger(processes) && processes >= 2) ||
  !(Number.isInteger(entries) && entries > 0) ||
  !(killAt > 0 && killAt < 1)
) {
  console.error(
    'usage: npm run example:scale -- [--processes N>=2] [--entries N] [--kill-at 0..1] [--url redis://...]',
  );
  process.exit(2);
}

let server: ChildProcess | undefined;
let url = values.url;
if (url === undefined) {
  if (redisServerBinary === undefined) {
    console.error(`no redis-server here: install one (${redisServerInstall}) or pass --url redis://host:port`);
    process.exit(2);
  }
  const port = await freePort();
  server = await startRedisServer(port);
  url = `redis://127.0.0.1:${port}`;
  console.log(`started redis-server on port ${port} (no persistence)`);
}

const admin = createClient({ url });
admin.on('error', () => {});
await admin.connect();
const stream = `cloaca:scale:${Date.now()}`;
const group = 'scale';
await admin.xGroupCreate(stream, group, '$', { MKSTREAM: true });
const dir = mkdtempSync(join(tmpdir(), 'cloaca-scale-'));
const here = new URL('.', import.meta.url);

interface Worker {
  readonly name: string;
  readonly config: WorkerConfig;
  child: ChildProcess;
  fired: number;
  /** Fired count at the last status line. */
  lastFired: number;
  killed: boolean;
}

function spawnWorker(config: WorkerConfig): ChildProcess {
  return fork(new URL('./worker.js', here), [JSON.stringify(config)], { stdio: 'inherit' });
}

/** Starts a worker and resolves once its stream accumulator is live. */
function startWorker(worker: Worker): Promise<void> {
  worker.child = spawnWorker(worker.config);
  return new Promise((resolve) =>
    worker.child.on('message', (report: WorkerReport) => {
      if (report.type === 'live') resolve();
      else worker.fired = report.count;
    }),
  );
}

const workers: Worker[] = Array.from({ length: processes }, (_, i) => {
  const name = `worker-${i + 1}`;
  return {
    name,
    config: {
      url: url!,
      stream,
      group,
      consumer: name,
      checkpoint: join(dir, `${name}.db`),
      fired: join(dir, `${name}.fired`),
    },
    child: undefined as unknown as ChildProcess,
    fired: 0,
    lastFired: 0,
    killed: false,
  };
});
await Promise.all(workers.map(startWorker));
console.log(
  `${processes} cloaca processes live in group '${group}' on stream '${stream}'; producing ${entries} entries`,
);

fork(new URL('./producer.js', here), [JSON.stringify({ url, stream, entries } satisfies ProducerConfig)], {
  stdio: 'inherit',
});

/** Numbers of the entries each worker fired, from the files the workers append to. */
function firedSets(): Array<Map<number, number>> {
  return workers.map((w) => {
    const counts = new Map<number, number>();
    for (const line of readFileSync(w.config.fired, 'utf8').split('\n')) {
      if (line !== '') counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1);
    }
    return counts;
  });
}

const started = performance.now();
let last = started;
let victim: Worker | undefined;
let firstPhaseEnd: number | undefined;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const now = performance.now();
  const added = await admin.xLen(stream);
  const total = workers.reduce((sum, w) => sum + w.fired, 0);
  const delta = workers.reduce((sum, w) => sum + w.fired - w.lastFired, 0);
  const shares = workers
    .map(
      (w) =>
        `${w.name} ${w.killed ? 'killed' : `${((100 * (w.fired - w.lastFired)) / Math.max(1, delta)).toFixed(0)}%`}`,
    )
    .join('  ');
  console.log(
    `t=${((now - started) / 1000).toFixed(0)}s  added ${added}  fired ${total}  ${(delta / (now - last)).toFixed(1)}k/s  | ${shares}`,
  );
  for (const w of workers) w.lastFired = w.fired;
  last = now;
  if (victim === undefined && total >= killAt * entries) {
    victim = workers[workers.length - 1]!;
    victim.killed = true;
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim!.child.once('exit', resolve));
    const pending = (await admin.xInfoConsumers(stream, group)).find((c) => c.name === victim!.name)?.pending ?? 0;
    console.log(
      `killed ${victim.name} with SIGKILL: ${pending} entries it had read are unacknowledged; the others claim them after claimIdle (1s)`,
    );
  }
  const info = (await admin.xInfoGroups(stream)).find((g) => g.name === group);
  if (victim !== undefined && added === entries && info?.lag === 0 && info.pending === 0) {
    firstPhaseEnd = now;
    break;
  }
}

if (victim === undefined || firstPhaseEnd === undefined) throw new Error('unreachable: the loop ends after the kill');
const overallRate = entries / ((firstPhaseEnd - started) / 1000);
console.log(
  `stream drained: nothing pending or unread in the group (${(overallRate / 1000).toFixed(1)}k entries/s overall)`,
);
console.log(`restarting ${victim.name} on its checkpoint file: the boundaries it had accepted and not fired fire now`);
victim.killed = false;
await startWorker(victim);

// The restarted worker fires its backlog from the file; wait until every entry fired somewhere.
let missing: number[] = [];
for (let tries = 0; tries < 60; tries++) {
  const sets = firedSets();
  missing = [];
  for (let n = 0; n < entries; n++) if (!sets.some((s) => s.has(n))) missing.push(n);
  if (missing.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 250));
}

for (const w of workers) w.child.kill('SIGTERM');
await Promise.all(
  workers.map(
    (w) => new Promise((resolve) => (w.child.exitCode === null ? w.child.once('exit', resolve) : resolve(undefined))),
  ),
);
const sets = firedSets();
const fires = sets.reduce((sum, s) => sum + [...s.values()].reduce((a, b) => a + b, 0), 0);
console.log('\nper process (fires, share):');
for (const [i, w] of workers.entries()) {
  const count = [...sets[i]!.values()].reduce((a, b) => a + b, 0);
  console.log(`  ${w.name}  ${String(count).padStart(8)}  ${((100 * count) / fires).toFixed(1)}%`);
}
console.log(
  missing.length === 0
    ? `every one of the ${entries} entries fired at least once; ${fires - entries} fires were repeats (at least once, not exactly once)`
    : `LOST ${missing.length} entries, e.g. ${missing.slice(0, 10).join(', ')}`,
);

await admin.del(stream);
await admin.close();
if (server !== undefined) await killRedisServer(server);
rmSync(dir, { recursive: true, force: true });
process.exit(missing.length === 0 ? 0 : 1);
