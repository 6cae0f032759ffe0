/**
 * `npm start` (the market-maker pipeline) stops gracefully on SIGTERM: it prints its summary,
 * delivers the last batch, persists and closes the checkpoint, and exits 0.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cloaca-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('SIGTERM to the pipeline prints the summary, closes the checkpoint (no WAL left) and exits 0', async () => {
  const checkpoint = join(dir, 'market-maker.db');
  const script = new URL('../dist/examples/main.js', import.meta.url).pathname;
  const proc = spawn(process.execPath, [script, '--duration', '120', '--checkpoint', checkpoint], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = new Promise<void>((resolve) =>
    createInterface({ input: proc.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('t=')) resolve(); // the first status line: events are flowing
    }),
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  await started;
  proc.kill('SIGTERM');
  expect(await exited, stderr).toStrictEqual({ code: 0, signal: null });
  const output = lines.join('\n');
  expect(output).toMatch(/summary/);
  expect(output).toMatch(/firings\s+\d+/);
  expect(existsSync(checkpoint)).toBe(true);
  expect(existsSync(`${checkpoint}-wal`)).toBe(false);
});
