/**
 * The `cloaca` command and `npm start`'s entry: usage on --help for every command (exit 0),
 * usage on a bad command line (exit 2), and `cloaca serve` running a module's runtime behind the
 * ops server until SIGTERM, then shutting down gracefully (the batch it held is delivered).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { http } from './support.js';

const cli = fileURLToPath(new URL('../../dist/bin/cloaca.js', import.meta.url));
const demo = fileURLToPath(new URL('../../dist/examples/main.js', import.meta.url));
const app = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url));

function run(file: string, args: string[]) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
  return { status, stdout, stderr };
}

describe('cloaca --help', () => {
  it('prints usage for the command and each subcommand, and usage with exit 2 for a bad command line', () => {
    for (const args of [['--help'], ['-h'], [], ['help']]) {
      const out = run(cli, args);
      expect([args, out.status]).toStrictEqual([args, 0]);
      expect(out.stdout).toMatch(/^usage: cloaca <command>/);
      expect(out.stdout).toContain('serve <module>');
    }
    for (const args of [
      ['serve', '--help'],
      ['serve', '-h'],
      ['help', 'serve'],
    ]) {
      const out = run(cli, args);
      expect([args, out.status]).toStrictEqual([args, 0]);
      expect(out.stdout).toMatch(
        /^usage: cloaca serve <module> \[--port 8080\] \[--host 127\.0\.0\.1\] \[--api-key KEY\]/,
      );
    }
    for (const args of [['launch'], ['serve'], ['serve', app, '--port', 'x'], ['serve', app, '--colour']]) {
      const out = run(cli, args);
      expect([args, out.status]).toStrictEqual([args, 2]);
      expect(out.stderr).toMatch(/^cloaca: .*\n\nusage: cloaca/);
    }
    expect(run(cli, ['serve', fileURLToPath(import.meta.url).replace(/\.ts$/, '.nothing.mjs')]).status).toBe(1);
  });

  it('npm start --help prints the demo usage instead of a stack trace', () => {
    const help = run(demo, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm start -- \[options\]/);
    const bad = run(demo, ['--bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage: npm start/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('cloaca serve', () => {
  it('serves the runtime a module returns, and SIGTERM shuts it down gracefully', async () => {
    const child = spawn(process.execPath, [cli, 'serve', app, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lines: string[] = [];
    const waiters: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    });
    const line = (match: RegExp) =>
      new Promise<string>((resolve) => {
        const seen = lines.find((l) => match.test(l));
        if (seen !== undefined) resolve(seen);
        else waiters.push({ match, resolve });
      });

    const banner = await line(/^cloaca: serving /);
    const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!;
    expect((await http(url, 'GET', '/ready')).json).toStrictEqual({ status: 'ready' });
    for (let i = 0; i < 3; i++) {
      const injected = await http(
        url,
        'POST',
        '/v1/health/accumulators/fills/inject',
        JSON.stringify({ event: { qty: i } }),
      );
      expect(injected.status).toBe(200);
    }
    expect(lines.some((l) => l.startsWith('fired'))).toBe(false);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines).toContain('fired {"count":3}');
    expect(lines.at(-1)).toBe('cloaca: stopped');
  });
});
