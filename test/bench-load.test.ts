/**
 * The load test runs end to end (tiny mode), passes its own checks, and writes valid JSON and
 * SVG; bad flags are refused with a usage line. Rates and latencies are measured by
 * `npm run load`, never asserted here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const script = new URL('../dist/bench/load.js', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'cloaca-load-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs the load test; on a non-zero exit, fails with everything it printed. */
async function load(...args: string[]): Promise<string> {
  try {
    return (await exec(process.execPath, [script, '--tiny', ...args], { timeout: 60_000 })).stdout;
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`load ${args.join(' ')} exited ${code}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

describe('npm run load (tiny mode)', () => {
  it.each([
    ['sequential', 'pool'],
    ['latest', 'inline'],
  ])(
    '%s on the %s executor: every check passes, JSON and charts are written',
    async (strategy, executor) => {
      const dir = join(out, `${strategy}-${executor}`);
      const stdout = await load('--strategy', strategy, '--executor', executor, '--out', dir);
      expect(stdout).toContain('p99.9 ms');

      const json = JSON.parse(readFileSync(join(dir, 'load.json'), 'utf8'));
      expect(json).toMatchObject({ name: 'load', mode: 'tiny', ok: true, config: { strategy, executor } });
      expect(json.machine.cores).toBeGreaterThan(0);
      expect(json.steps.map((s: { label: string }) => s.label)).toEqual([
        '500/s',
        '2,000/s',
        'probe',
        'overload',
        'sustained',
      ]);
      for (const step of json.steps) {
        expect(step).toMatchObject({ lost: 0, outOfOrder: 0, failed: 0, drained: true });
        expect(Object.keys(step.latencyMs)).toEqual(['p50', 'p90', 'p99', 'p99_9', 'max']);
        expect(step.maxQueued).toBeLessThanOrEqual(json.config.queueCapacity);
        // sequential fires every accepted event; latest may collapse them, never invent any.
        if (strategy === 'sequential') expect(step.fired).toBe(step.accepted);
        else expect(step.fired).toBeLessThanOrEqual(step.accepted);
      }
      expect(json.saturation.rate).toBeGreaterThan(0);
      expect(json.target.rate).toBeGreaterThan(0);
      expect(json.checks.length).toBeGreaterThan(0);
      expect(json.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
      expect(json.overloadMemory.liveHeapMiB.length).toBeGreaterThanOrEqual(2);
      expect(json.memory.length).toBeGreaterThan(3);
      for (const chart of ['load-latency.svg', 'load-memory.svg']) {
        expect(readFileSync(join(dir, chart), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
      }
    },
    60_000,
  );

  it('--http: inject over HTTP and WebSocket next to the bare server; every event acknowledged and counted', async () => {
    const dir = join(out, 'http');
    const stdout = await load('--http', '--out', dir);
    expect(stdout).toContain('POST inject, saturation');
    expect(stdout).toContain('WebSocket events, saturation');
    const json = JSON.parse(readFileSync(join(dir, 'load-http.json'), 'utf8'));
    expect(json).toMatchObject({ name: 'load-http', mode: 'tiny', ok: true });
    for (const transport of ['http', 'ws']) {
      expect(json.comparisons[transport].bare).toBeGreaterThan(0);
      expect(json.comparisons[transport].cloaca).toBeGreaterThan(0);
    }
    const labels = json.steps.map(
      (s: { transport: string; target: string; label: string }) => `${s.transport} ${s.target} ${s.label}`,
    );
    expect(labels.filter((l: string) => l.endsWith('saturation')).length).toBe(12);
    for (const step of json.steps) {
      expect(step.errors).toBe(0);
      expect(Object.keys(step.latencyMs)).toEqual(['p50', 'p90', 'p99', 'p999', 'max']);
    }
  }, 60_000);

  it('--help prints the usage and exits 0', async () => {
    const { stdout } = await exec(process.execPath, [script, '--help']);
    expect(stdout).toContain('usage: npm run load');
  });

  it('refuses a bad flag with exit code 2 and the usage line', async () => {
    const error = await exec(process.execPath, [script, '--executor', 'gpu']).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(error?.code).toBe(2);
    expect(error?.stderr).toContain("--executor must be pool or inline, got 'gpu'");
    expect(error?.stderr).toContain('usage: npm run load');
  });
});
