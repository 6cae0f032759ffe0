/**
 * `npm run bench [-- --full] [--threads N]`: runs the benchmark suites, prints a table and writes
 * `bench/results/<suite>.json`. Quick mode (the default) finishes in well under a minute.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { machine, printTable, writeResult } from './harness.js';
import { engineSuite } from './suites/engine.js';
import { runtimeSuite } from './suites/runtime.js';

const { values } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    threads: { type: 'string' },
  },
});
const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`--threads must be a positive integer, got '${values.threads}'`);
  process.exit(2);
}
const options = values.full ? { threads, measureMs: 5000, runs: 21 } : { threads, measureMs: 1500, runs: 7 };

console.log(`cloaca benchmarks (${values.full ? 'full' : 'quick'} mode) on`, machine());
const engine = await engineSuite(options);
const runtime = await runtimeSuite(options);
printTable([...engine.rows, ...runtime.rows]);
console.log(`\nwrote ${writeResult('engine', engine.data)}`);
console.log(`wrote ${writeResult('runtime', runtime.data)}`);
