/**
 * The benchmark suites run (tiny mode) and write valid JSON and SVG. Speed itself is measured by
 * `npm run bench`, never asserted here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'cloaca-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const benchScript = new URL('../dist/bench/run.js', import.meta.url).pathname;

/** Runs the bench script with `args`; resolves with its exit code and output (it fails by exiting). */
async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [benchScript, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe('npm run bench (command line)', () => {
  it('--help prints the usage and the suites, and exits 0', async () => {
    const { code, stdout } = await bench(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: npm run bench');
    expect(stdout).toContain('suites: dispatch, parallel, chain, reactive, runtime');
  });

  it('refuses an unknown flag, an unknown suite and two modes with exit code 2 and the usage line', async () => {
    for (const [args, message] of [
      [['--suites', 'reactive'], "Unknown option '--suites'"],
      [['--suite', 'reactiv'], "unknown suite 'reactiv'"],
      [['--tiny', '--full'], '--tiny and --full exclude each other'],
      [['--threads', 'two'], "--threads must be a positive integer, got 'two'"],
    ] as const) {
      const { code, stderr } = await bench([...args]);
      expect(code).toBe(2);
      expect(stderr).toContain(`bench: ${message}`);
      expect(stderr).toContain('usage: npm run bench');
      expect(stderr).not.toContain('    at ');
    }
  });
});

describe('npm run bench (tiny mode)', () => {
  it('runs every suite and writes JSON and charts', async () => {
    const { stdout } = await run(process.execPath, [benchScript, '--tiny', '--out', out], { timeout: 120_000 });
    expect(stdout).toContain('suite');
    const files = readdirSync(out);
    for (const suite of [
      'dispatch',
      'parallel',
      'chain',
      'reactive',
      'runtime',
      'map',
      'checkpoint',
      'redis',
      'keyed',
    ]) {
      expect(files).toContain(`${suite}.json`);
      const json = JSON.parse(readFileSync(join(out, `${suite}.json`), 'utf8'));
      expect(json.name).toBe(suite);
      expect(json.machine.cores).toBeGreaterThan(0);
      expect(json.mode).toBe('tiny');
    }
    const parallel = JSON.parse(readFileSync(join(out, 'parallel.json'), 'utf8'));
    expect(parallel.sweep.length).toBeGreaterThan(0);
    expect(parallel.sweep[0].speedup).toBeGreaterThan(0);
    const map = JSON.parse(readFileSync(join(out, 'map.json'), 'utf8'));
    expect(map.memory.inputs).toBeGreaterThan(0);
    // map's default concurrency (twice the threads), then 64.
    expect(map.throughput.map((t: { concurrency: number }) => t.concurrency)).toStrictEqual([map.threads * 2, 64]);
    const runtime = JSON.parse(readFileSync(join(out, 'runtime.json'), 'utf8'));
    expect(runtime.latency.pool.fired).toBe(runtime.latency.pool.events);
    const keyed = JSON.parse(readFileSync(join(out, 'keyed.json'), 'utf8'));
    expect(keyed.sweep[0].speedup).toBe(1);
    expect(keyed.idle.restored).toBe(keyed.idle.keys);
    for (const chart of ['dispatch.svg', 'parallel-speedup.svg', 'reactive.svg', 'runtime-latency.svg']) {
      expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
  }, 150_000);
});
