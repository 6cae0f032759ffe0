/**
 * A keyed reactor killed with SIGKILL mid-stream (contract sections 6 and 11): after a restart
 * on the same checkpoint file every key resumes its queue, and each boundary accepted before the
 * last resolved persisted() fires at least once, in order per key.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnReporting } from '../support/child.js';
import { fixture, useRuntimes } from './support.js';

const { tmp } = useRuntimes();

describe('keyed reactor crash', () => {
  const child = (mode: 'produce' | 'recover', file: string) =>
    spawnReporting(fixture('keyed-crash-child.mjs'), [mode, file]);

  /** Key -> the n of its firings, in the order reported. */
  const firings = (lines: string[]) => {
    const byKey = new Map<string, number[]>();
    for (const line of lines) {
      const [word, key, n] = line.split(' ');
      if (word !== 'fired') continue;
      byKey.set(key!, [...(byKey.get(key!) ?? []), Number(n)]);
    }
    return byKey;
  };

  it('SIGKILL loses no accepted boundary of any key; each key resumes in order after the restart', async () => {
    const file = join(tmp(), 'keyed-crash.db');
    const producer = child('produce', file);
    try {
      await producer.line((l) => l.startsWith('persisted ') && Number(l.slice(10)) >= 3_000);
    } finally {
      producer.proc.kill('SIGKILL');
    }
    expect(await producer.exited).toStrictEqual({ code: null, signal: 'SIGKILL' });
    const produced = producer.lines();
    const watermark = Math.max(...produced.filter((l) => l.startsWith('persisted ')).map((l) => Number(l.slice(10))));
    expect(produced.filter((l) => l.startsWith('failed '))).toStrictEqual([]);

    const recovery = child('recover', file);
    const { code } = await recovery.exited;
    expect(code, recovery.stderr()).toBe(0);
    const recovered = recovery.lines();
    expect(recovered.at(-1)).toBe('done');

    const first = firings(produced);
    const second = firings(recovered);
    expect([...second.values()].flat().length).toBeGreaterThan(0);
    for (let k = 0; k < 4; k++) {
      const key = `k${k}`;
      const before = first.get(key) ?? [];
      const after = second.get(key) ?? [];
      for (let i = 1; i < before.length; i++) expect(before[i]).toBe(before[i - 1]! + 4);
      for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 4);
      const fired = new Set([...before, ...after]);
      const missing: number[] = [];
      for (let n = k; n <= watermark; n += 4) if (!fired.has(n)) missing.push(n);
      expect(missing).toStrictEqual([]);
    }
  });
});
