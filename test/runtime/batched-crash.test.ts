/**
 * Batched firings and the checkpoint: a process killed with SIGKILL while a batch of firings is in
 * its worker loses no accepted boundary, and after the restart each boundary that was not yet
 * consumed fires again, in order, on exactly the snapshot it had (contract section 6). While a
 * batch is in flight the reactor's cache already holds all of the batch's boundaries; the
 * checkpoint must hold the state after the boundary firing then, or the restart would replay the
 * batch's boundaries over values from later ones.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spawnReporting } from '../support/child.js';
import { fixture, useRuntimes } from './support.js';

const { tmp } = useRuntimes();
const count = 150;
const holdAt = 120;

/** The snapshot boundary `n` fires on: `a` is the newest even number up to it, `b` the newest odd one. */
function expected(n: number): string {
  const a = n % 2 === 0 ? n : n - 1;
  const b = n % 2 === 1 ? n : n - 1;
  return `fired ${n} ${a < 0 ? -1 : a} ${b < 0 ? -1000 : b}`;
}

it('SIGKILL with a batch of firings in its worker: the restart fires every boundary not yet consumed, in order, each on its own snapshot', async () => {
  const file = join(tmp(), 'batched-crash.db');
  const child = (mode: 'produce' | 'recover') =>
    spawnReporting(fixture('batched-crash-child.mjs'), [mode, file, String(count)], {
      env: mode === 'produce' ? { CLOACA_HOLD_AT: String(holdAt) } : {},
    });

  const producer = child('produce');
  try {
    await producer.line((l) => l === 'held');
  } finally {
    producer.proc.kill('SIGKILL');
  }
  expect(await producer.exited).toStrictEqual({ code: null, signal: 'SIGKILL' });
  const first = producer.lines().filter((l) => l.startsWith('fired ') && Number(l.split(' ')[1]) >= 0);
  expect(first.length).toBeGreaterThan(0);
  expect(first).toStrictEqual(Array.from({ length: first.length }, (_, n) => expected(n)));

  const recovery = child('recover');
  const { code } = await recovery.exited;
  expect(code, recovery.stderr()).toBe(0);
  const second = recovery.lines();
  expect(second.at(-1)).toBe('done');
  const fired = second.filter((l) => l.startsWith('fired '));
  // The restart resumes at the first boundary whose firing was not reported (the batch in flight
  // was lost with the process), and fires each from there on its own snapshot.
  const resumeAt = Number(fired[0]!.split(' ')[1]);
  expect(resumeAt).toBeLessThanOrEqual(first.length);
  expect(resumeAt).toBeGreaterThan(0);
  expect(resumeAt).toBeLessThanOrEqual(holdAt);
  expect(fired).toStrictEqual(Array.from({ length: count - resumeAt }, (_, k) => expected(resumeAt + k)));
});
