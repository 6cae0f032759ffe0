/**
 * One pool per runtime, bound lazily: building a graph starts no worker, and `threads: N` means
 * N workers in all, each importing a node module once, however many graphs use it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { passthroughAccumulator, reactor, type FireRecord } from 'cloaca';
import { fixture, unique, useRuntimes } from './support.js';

const { runtime, graph, tmp } = useRuntimes();
const nodes = fixture('imports.nodes.mjs');

afterEach(() => {
  delete process.env.CLOACA_IMPORT_LOG;
});

/** The worker threads (not this one) that imported the module, one entry per import. */
function workerImports(log: string): number[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && Number(line) !== 0)
    .map(Number);
}

it('threads: 2 is two workers in all: building starts none; each imports the module once for two graphs', async () => {
  const log = join(tmp(), 'imports.log');
  process.env.CLOACA_IMPORT_LOG = log;
  const a = unique('a');
  const R = reactor({ name: unique('r'), accumulators: [a], strategy: 'sequential' });
  const topology = { left: { inputs: [a] }, right: { inputs: [a] } };
  const first = await graph(unique('g'), 'pool', { nodes, reactor: R, graph: topology }, { sharedPool: true });
  const second = await graph(unique('g'), 'pool', { nodes, reactor: R, graph: topology }, { sharedPool: true });
  expect(workerImports(log)).toStrictEqual([]);

  const rt = runtime({ threads: 2 });
  const records: FireRecord[] = [];
  rt.on('fire', (record) => records.push(record));
  rt.register(passthroughAccumulator({ name: a }), R, first, second);
  await rt.start();
  // Until both workers have run nodes (a worker still starting may leave a firing to the other).
  const threads = new Set<number>();
  for (let i = 0; i < 20 && threads.size < 2; i++) {
    rt.push(a, { sab: new SharedArrayBuffer(4), count: 2 });
    await rt.idle();
    for (const { ok, outputs } of records.splice(0)) {
      expect(ok).toBe(true);
      threads.add(outputs!.left as number).add(outputs!.right as number);
    }
  }
  expect(threads.size).toBe(2);
  expect(threads.has(0)).toBe(false);
  // Two graphs of one module, and every worker imported it once: no other worker exists.
  const imports = workerImports(log);
  expect(imports).toHaveLength(2);
  expect(new Set(imports)).toStrictEqual(threads);
});
