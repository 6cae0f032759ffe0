/**
 * Every example in examples/ runs with the command its header documents and prints what it
 * promises, so an API change that breaks one fails here.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { postgresBinDir } from '../examples/failover/postgres-server.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Runs `node <file> ...args` from the repository root; returns stdout split into lines. An
 * example that fails, or is still running after 50 s (SIGTERM), fails with what it printed.
 */
async function example(file: string, ...args: string[]): Promise<string[]> {
  try {
    const { stdout } = await exec(process.execPath, [file, ...args], { cwd: root, timeout: 50_000 });
    return stdout.trimEnd().split('\n');
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    throw new Error(`${(error as Error).message}\nstdout:\n${stdout ?? ''}`, { cause: error });
  }
}

// Each example is a fresh process, some with worker threads: slow on a busy machine.
describe.concurrent('examples', { timeout: 60_000 }, () => {
  it('accumulators/passthrough: one firing per kept tick, in order; a tick without a price is dropped', async () => {
    expect(await example('dist/examples/accumulators/passthrough.js')).toStrictEqual([
      'fired: {"ignore":null}',
      'fired: {"alert":"ACME reached 101"}',
      'fired: {"ignore":null}',
      'fires: 3',
    ]);
  });

  it('accumulators/stream: the memory topic is consumed to its end and the group commits every offset', async () => {
    const lines = await example('dist/examples/accumulators/stream.js');
    // `latest` may merge a burst into one firing, so only the last firing is certain.
    expect(lines.at(-2)).toBe('fired on {"seq":3,"bid":100,"ask":100.5}: {"mid":100.25,"spread":0.5}');
    expect(lines.at(-1)).toBe("committed offset of group 'pricing': 3 of 3");
  });

  it('accumulators/polling: each new settings version fires once; unchanged polls fire nothing', async () => {
    expect(await example('dist/examples/accumulators/polling.js')).toStrictEqual([
      'applied threshold 10 (version 1)',
      'applied threshold 12 (version 2)',
      'applied threshold 15 (version 3)',
      'fired 3 times',
    ]);
  });

  it('accumulators/batch: full batches of three, then the remainder at shutdown', async () => {
    expect(await example('dist/examples/accumulators/batch.js')).toStrictEqual([
      'booked 3 fills, 20 @ 100',
      'booked 3 fills, 40 @ 100.75',
      'booked 1 fill, 1 @ 103',
      'batches booked: 3',
    ]);
  });

  it('accumulators/state: every write delivers the window of the last three readings', async () => {
    expect(await example('dist/examples/accumulators/state.js')).toStrictEqual([
      'window [20] -> average 20.00',
      'window [20,21] -> average 20.50',
      'window [20,21,23] -> average 21.33',
      'window [21,23,22] -> average 22.00',
      'window [23,22,26] -> average 23.67',
    ]);
  });

  it('host-feedback: pool nodes push alerts through host.push, and feedback fills the history window', async () => {
    const lines = await example('dist/examples/host-feedback.js');
    // Three reactors fire concurrently, so only each graph's own lines keep their order.
    const of = (graph: string) => lines.filter((line) => line.startsWith(`${graph}: `));
    expect(of('notify')).toStrictEqual(['notify: ALERT ACME at 101', 'notify: ALERT ACME at 103']);
    expect(of('trend')).toStrictEqual([
      'trend: last 1 prices: 98',
      'trend: last 2 prices: 98, 101',
      'trend: last 3 prices: 98, 101, 99',
      'trend: last 3 prices: 101, 99, 103',
    ]);
    const inspected = of('inspect').map((line) => /^inspect: (\d+) on worker thread (\d+)$/.exec(line));
    expect(inspected.map((m) => Number(m?.[1]))).toStrictEqual([98, 101, 99, 103]);
    for (const m of inspected) expect(Number(m![2])).toBeGreaterThan(0); // a worker, not the main thread (0)
    expect(lines).toHaveLength(10);
  });

  it('service: orders injected over HTTP fire; SIGTERM drains, persists, closes and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloaca-service-'));
    try {
      const child = spawn(
        process.execPath,
        ['dist/examples/service.js', '--port', '0', '--checkpoint', join(dir, 'orders.db')],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const lines: string[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          lines.push(line);
          const served = /^serving orders at (\S+) /.exec(line);
          if (served) resolve(served[1]!);
        });
        child.on('exit', (code) => reject(new Error(`service exited (${code}) before serving`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      for (const event of [
        { id: 1, qty: 5 },
        { id: 2, qty: 0 },
      ]) {
        const answer = await fetch(`${url}/v1/health/accumulators/orders/inject`, {
          method: 'POST',
          body: JSON.stringify({ event }),
        });
        expect(answer.status).toBe(200);
      }
      const fires = async () =>
        ((await (await fetch(`${url}/v1/health/reactors/orders_reactor/fires`)).json()) as { total: number }).total;
      while ((await fires()) < 2) await new Promise((resolve) => setImmediate(resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines).toContain('runtime stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('commonjs.cjs: require("cloaca") from CommonJS builds and runs a graph on the pool', async () => {
    expect(await example('examples/commonjs.cjs')).toStrictEqual(['words: 9, longest: quick']);
  });

  it('graphs: the market-maker routes both ways and the diamond gives the same count inline and on the pool', async () => {
    const lines = await example('dist/examples/graphs.js', '--limit', '100000');
    expect(lines.filter((line) => line.includes(' -> '))).toStrictEqual([
      expect.stringContaining('-> {"signal_handler":{"published":true}}'),
      expect.stringContaining('-> {"audit_logger":{"logged":true}}'),
    ]);
    for (const executor of ['inline', 'pool']) {
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^ {2}${executor} +primes below 100000: {"primes":9592}`)),
      );
    }
  });

  // Needs PostgreSQL's server programs, like the tests in test/postgres (skipped without them).
  it.skipIf(postgresBinDir === undefined && process.env.CLOACA_REQUIRE_SERVERS !== '1')(
    'failover: the standby owns the id within 5 s of the owner being killed, and no order is lost',
    async () => {
      const lines = await example('dist/examples/failover/main.js', '--orders', '2000');
      const takeover = lines.map((line) => /^standby owned the id (\d+) ms after the kill/.exec(line)).find(Boolean);
      expect(Number(takeover![1])).toBeLessThan(5000);
      expect(lines.at(-1)).toMatch(/^pushed: 2000, booked before the kill: \d+, booked after: \d+ .*, lost: 0$/);
    },
  );
});
