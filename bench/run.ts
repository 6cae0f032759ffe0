/**
 * `npm run bench [-- --full] [--suite dispatch,parallel,map,keyed,...] [--threads N] [--out DIR]`: runs
 * the benchmark suites, each against its peer in the same process, prints one table, and writes
 * `<suite>.json` and SVG charts to `bench/results/` (or DIR). Quick mode (the default) finishes
 * in under a minute on 2 cores; `--tiny` only proves every suite runs (for the tests).
 */
import { availableParallelism } from 'node:os';
import {
  commandLine,
  expectSteps,
  machine,
  printTable,
  progressDone,
  refuse,
  setResultsDir,
  writeResult,
  type Budget,
  type Row,
} from './harness.js';
import { writeChart } from './svg.js';
import { chainSteps, chainSuite } from './suites/chain.js';
import { checkpointSteps, checkpointSuite } from './suites/checkpoint.js';
import { dispatchSteps, dispatchSuite } from './suites/dispatch.js';
import { keyedSteps, keyedSuite } from './suites/keyed.js';
import { mapSteps, mapSuite } from './suites/map.js';
import { observabilitySteps, observabilitySuite } from './suites/observability.js';
import { parallelSteps, parallelSuite } from './suites/parallel.js';
import { reactiveSteps, reactiveSuite } from './suites/reactive.js';
import { redisSteps, redisSuite } from './suites/redis.js';
import { runtimeSteps, runtimeSuite } from './suites/runtime.js';
import type { SuiteResult } from './suites/shared.js';

const usage = 'usage: npm run bench -- [--full | --tiny] [--suite NAME,...] [--threads N] [--out DIR]';

const { values } = commandLine('bench', usage, {
  options: {
    full: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    suite: { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(message: string): never {
  return refuse('bench', usage, message);
}
if (values.tiny && values.full) fail('--tiny and --full exclude each other');
const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got '${values.threads}'`);
if (values.out !== undefined) setResultsDir(values.out);

const mode = values.tiny ? 'tiny' : values.full ? 'full' : 'quick';
const budgets: Record<typeof mode, Budget> = {
  tiny: { measureMs: 100, runs: 1, maxTime: 0.05, scale: 0.05 },
  quick: { measureMs: 600, runs: 5, maxTime: 0.6, scale: 0.4 },
  full: { measureMs: 5000, runs: 21, maxTime: 5, scale: 3 },
};
const budget = budgets[mode];

const suites: Record<string, { steps: number; run: () => Promise<SuiteResult> }> = {
  dispatch: {
    steps: dispatchSteps(threads, mode === 'full'),
    run: () => dispatchSuite(threads, budget, mode === 'full'),
  },
  parallel: { steps: parallelSteps(threads), run: () => parallelSuite(threads, budget) },
  chain: { steps: chainSteps, run: () => chainSuite(threads, budget) },
  reactive: { steps: reactiveSteps, run: () => reactiveSuite(budget) },
  runtime: { steps: runtimeSteps, run: () => runtimeSuite(threads, budget) },
  map: { steps: mapSteps, run: () => mapSuite(threads, budget) },
  checkpoint: { steps: checkpointSteps, run: () => checkpointSuite(budget) },
  redis: { steps: redisSteps, run: () => redisSuite(budget) },
  observability: { steps: observabilitySteps, run: () => observabilitySuite(threads, budget) },
  keyed: { steps: keyedSteps(threads), run: () => keyedSuite(threads, budget) },
};
if (values.help) {
  console.log(`${usage}\nsuites: ${Object.keys(suites).join(', ')} (all by default)`);
  process.exit(0);
}
const selected = values.suite === undefined ? Object.keys(suites) : values.suite.split(',');
for (const name of selected) {
  if (!(name in suites)) fail(`unknown suite '${name}'; suites: ${Object.keys(suites).join(', ')}`);
}

console.log(`cloaca benchmarks, ${mode} mode, ${threads} threads, on`, machine());
expectSteps(selected.reduce((sum, name) => sum + suites[name]!.steps, 0));
const rows: Row[] = [];
const written: string[] = [];
for (const name of selected) {
  const result = await suites[name]!.run();
  rows.push(...result.rows);
  written.push(writeResult(name, { mode, ...result.data }));
  for (const { name: chartName, chart } of result.charts) written.push(writeChart(chartName, chart));
}
progressDone();
printTable(rows);
console.log(`\nwrote:\n  ${written.join('\n  ')}`);
