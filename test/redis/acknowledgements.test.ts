/**
 * A stream accumulator acknowledges a message only once the boundary made of it is durable: a
 * process killed (SIGKILL) at the very moment of its first acknowledgement still has every
 * acknowledged message in its checkpoint, and a restart fires each of them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./fixtures/ack-child.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cloaca-acks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(mode: 'consume' | 'recover', checkpoint: string, progress: string) {
  const proc = spawn(process.execPath, [child, mode, checkpoint, progress], { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
}

it('what was acknowledged was durable: killed at its first acknowledgement, a restart fires every acknowledged message', async () => {
  const checkpoint = join(dir, 'cp.db');
  const progress = join(dir, 'progress.log');
  const consumed = await run('consume', checkpoint, progress);
  expect(consumed, consumed.stderr).toMatchObject({ code: null, signal: 'SIGKILL' });
  const acked = readFileSync(progress, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('acked '))
    .flatMap((line) => line.slice('acked '.length).split(' ').map(Number));
  expect(acked.length).toBeGreaterThan(0);
  expect(acked).toStrictEqual(Array.from({ length: acked.length }, (_, i) => i)); // in order, from the first

  const recovered = await run('recover', checkpoint, progress);
  expect(recovered, recovered.stderr).toMatchObject({ code: 0, signal: null });
  const lines = readFileSync(progress, 'utf8').split('\n');
  expect(lines).toContain('done');
  const fired = new Set(lines.filter((line) => line.startsWith('fired ')).map((line) => Number(line.slice(6))));
  expect(acked.filter((n) => !fired.has(n))).toStrictEqual([]);
});
