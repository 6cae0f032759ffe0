/**
 * `npm run load [-- --full | --tiny] [--executor pool|inline] [--strategy sequential|latest]
 * [--duration SECONDS] [--rates 1000,5000,...] [--threads N] [--queue-capacity N] [--out DIR]`
 *
 * A load test of the reactive runtime: events into passthrough `a` -> `when_any` reactor (the
 * chosen strategy) -> 3-node chain graph (the chosen executor), offered by a paced producer at
 * fixed rates, each step for a set duration:
 *
 * 1. warm-up (not reported), then the sweep: one step per `--rates` entry;
 * 2. probe: the producer offers as much as is accepted; its firings/s is the saturation rate;
 * 3. overload: 3x the saturation rate, twice as long as a step: queues must stay bounded and
 *    memory flat, because backpressure refuses what the runtime cannot take;
 * 4. sustained: 80% of the saturation rate, the target being p99 <= 5 ms with nothing lost.
 *
 * Per step it measures push -> fire record latency in an HDR histogram (p50, p90, p99, p99.9,
 * max), accepted events/s and firings/s, refused pushes (retried, not lost), the reactor's queue
 * depth, the main thread's event-loop delay, and RSS; RSS and heap are also sampled over the
 * whole run. It prints a table, writes `load.json` and two SVG charts to `bench/results/` (or
 * DIR), and exits 1 naming the check that failed when an accepted `sequential` event never fired
 * (or fired twice or out of order), a queue outgrew its bound, a graph failed, a step did not
 * drain, or memory grew under overload. The sustained-load target is reported, not enforced:
 * latency on a shared machine is noisy, loss and unbounded memory are not.
 *
 * Quick mode (the default) takes well under a minute on 2 cores; `--full` runs longer steps over
 * more rates; `--tiny` only proves the whole run works (for the tests).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { expectSteps, progress, progressDone, setResultsDir, writeResult } from './harness.js';
import { LoadDriver, kMaxQueueCapacity, type StepResult, type StepSpec, type Strategy } from './load/driver.js';
import { MemorySampler, growth } from './load/memory.js';
import { printSteps, stepLine, writeCharts, type StepRecord } from './load/report.js';

/** The overload step offers this many times the saturation rate. */
const kOverloadFactor = 3;
/** The sustained step offers this fraction of the saturation rate. */
const kSustainedFactor = 0.8;
/** The sustained-load target: p99 at most this, with nothing lost. */
const kP99TargetMs = 5;
/**
 * Most the mean RSS of the overload step's last third may exceed that of its first third.
 * With bounded queues RSS settles within the first moments of overload (the queue fills in
 * milliseconds) and only moves with GC afterwards; V8's young generation alone can swing the
 * heap by its semi-space size (16-32 MiB on 64-bit) between readings. 64 MiB is above that noise
 * and below what an unbounded queue accumulates: at 3x saturation two events in three would
 * pile up, ~60 bytes each queued (boundary + slot), i.e. several hundred MiB over a quick
 * overload step on the inline executor, tens of MiB a second on the pool.
 */
const kMemoryGrowthLimitMiB = 64;
/** How often RSS and heap are sampled. */
const kMemorySampleMs = 100;

const usage =
  'usage: npm run load -- [--full | --tiny] [--executor pool|inline] [--strategy sequential|latest] ' +
  '[--duration SECONDS] [--rates 1000,5000,...] [--threads N] [--queue-capacity N] [--out DIR]';

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        full: { type: 'boolean', default: false },
        tiny: { type: 'boolean', default: false },
        executor: { type: 'string', default: 'pool' },
        strategy: { type: 'string', default: 'sequential' },
        duration: { type: 'string' },
        rates: { type: 'string' },
        threads: { type: 'string' },
        'queue-capacity': { type: 'string', default: '10000' },
        out: { type: 'string' },
      },
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
})();

function fail(message: string): never {
  console.error(`load: ${message}\n${usage}`);
  process.exit(2);
}

const mode = values.tiny ? 'tiny' : values.full ? 'full' : 'quick';
if (values.tiny && values.full) fail('--tiny and --full exclude each other');
/** Per mode: step and warm-up length (ms), and the default sweep. */
const plans = {
  tiny: { stepMs: 300, warmUpMs: 200, rates: [500, 2000] },
  quick: { stepMs: 4000, warmUpMs: 1000, rates: [1000, 5000, 20_000, 50_000] },
  full: { stepMs: 20_000, warmUpMs: 3000, rates: [1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000] },
} as const;
const plan = plans[mode];

const executor = values.executor;
if (executor !== 'pool' && executor !== 'inline') fail(`--executor must be pool or inline, got '${executor}'`);
const strategy = values.strategy;
if (strategy !== 'sequential' && strategy !== 'latest') fail(`--strategy must be sequential or latest, got '${strategy}'`);
const stepMs = values.duration === undefined ? plan.stepMs : Number(values.duration) * 1000;
if (!(stepMs > 0) || !Number.isFinite(stepMs)) fail(`--duration must be a positive number of seconds, got '${values.duration}'`);
const rates = values.rates === undefined ? [...plan.rates] : values.rates.split(',').map(Number);
if (rates.length === 0 || !rates.every((r) => Number.isInteger(r) && r > 0)) fail(`--rates must be positive integers separated by commas, got '${values.rates}'`);
const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got '${values.threads}'`);
const queueCapacity = Number(values['queue-capacity']);
if (!Number.isInteger(queueCapacity) || queueCapacity < 1 || queueCapacity > kMaxQueueCapacity) {
  fail(`--queue-capacity must be an integer from 1 to ${kMaxQueueCapacity}, got '${values['queue-capacity']}'`);
}
if (values.out !== undefined) setResultsDir(values.out);

const title = `${strategy}, ${executor}${executor === 'pool' ? `, ${threads} threads` : ''}`;
console.log(`cloaca load test (${mode} mode): ${title}, queueCapacity ${queueCapacity}, ${stepMs / 1000} s per step, sweep ${rates.join(', ')} events/s`);

// --- the run -----------------------------------------------------------------------------------
const sampler = new MemorySampler(kMemorySampleMs);
const driver = await LoadDriver.start({ executor, strategy: strategy as Strategy, threads, queueCapacity });
const steps: StepRecord[] = [];
let stuck: StepRecord | undefined;
expectSteps(rates.length + 4);

/** Runs a step with its memory readings at the edges; a step that did not drain ends the run. */
async function run(spec: StepSpec): Promise<StepRecord | undefined> {
  if (stuck !== undefined) return undefined;
  progress(`load: ${spec.label}, ${Number.isFinite(spec.rate) ? `${Math.round(spec.rate).toLocaleString('en-US')} events/s` : 'as many events as accepted'} for ${spec.durationMs / 1000} s`);
  sampler.step = spec.label;
  const before = sampler.sample();
  const result: StepResult = await driver.run(spec);
  const after = sampler.sample();
  sampler.step = '';
  const record: StepRecord = {
    ...result,
    window: { startS: before.t / 1000, endS: before.t / 1000 + result.seconds },
    rssMiB: { start: before.rssMiB, end: after.rssMiB },
    heapUsedMiB: { start: before.heapUsedMiB, end: after.heapUsedMiB },
  };
  progressDone();
  console.log(stepLine(record));
  // Later steps would measure a runtime still busy with this one's backlog.
  if (!record.drained) stuck = record;
  return record;
}

// Loads the pool's workers and the node module, and gets the hot paths compiled, before measuring.
await run({ label: 'warm-up', rate: rates[0]!, durationMs: plan.warmUpMs });
for (const rate of rates) {
  const step = await run({ label: `${rate.toLocaleString('en-US')}/s`, rate, durationMs: stepMs });
  if (step !== undefined) steps.push(step);
}
const probe = await run({ label: 'probe', rate: Number.POSITIVE_INFINITY, durationMs: Math.max(stepMs / 2, plan.warmUpMs) });
if (probe !== undefined) steps.push(probe);
const saturation = probe?.firingsPerSec ?? Number.NaN;
const overload = Number.isFinite(saturation) ? await run({ label: 'overload', rate: Math.max(1, Math.round(saturation * kOverloadFactor)), durationMs: stepMs * 2 }) : undefined;
if (overload !== undefined) steps.push(overload);
const sustained = Number.isFinite(saturation) ? await run({ label: 'sustained', rate: Math.max(1, Math.round(saturation * kSustainedFactor)), durationMs: stepMs }) : undefined;
if (sustained !== undefined) steps.push(sustained);

await driver.shutdown();
sampler.stop();

// --- checks ------------------------------------------------------------------------------------
interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
const checks: Check[] = [];
const all = stuck !== undefined && !steps.includes(stuck) ? [...steps, stuck] : steps;
const failing = (pick: (s: StepRecord) => boolean, say: (s: StepRecord) => string) => all.filter(pick).map(say).join('; ');

const drainFailures = failing((s) => !s.drained, (s) => `${s.label} still busy ${(s.drainMs / 1000).toFixed(0)} s after its producer stopped (the run stopped there)`);
checks.push({ name: 'every step drained', ok: drainFailures === '', detail: drainFailures || 'each step went idle after its producer stopped' });

if (strategy === 'sequential') {
  const lost = failing(
    (s) => s.lost !== 0 || s.outOfOrder !== 0,
    (s) => `${s.label}: ${s.lost} of ${s.accepted} accepted events never fired in order, ${s.outOfOrder} fired out of order or twice`,
  );
  checks.push({ name: 'sequential: nothing lost', ok: lost === '', detail: lost || 'every accepted event fired exactly once, in order' });
} else {
  const lost = failing(
    (s) => s.lost !== 0 || s.outOfOrder !== 0,
    (s) => `${s.label}: ${s.lost === 0 ? '' : 'the newest accepted value never fired; '}${s.outOfOrder} firings saw an older value than one before`,
  );
  checks.push({ name: 'latest: newest value fired', ok: lost === '', detail: lost || 'every step ended on a firing of its newest value, never going back' });
}

const graphFailures = failing((s) => s.failed > 0, (s) => `${s.label}: ${s.failed} firings failed`);
checks.push({ name: 'no graph failed', ok: graphFailures === '', detail: graphFailures || 'every firing succeeded' });

const overflow = failing((s) => s.maxQueued > queueCapacity, (s) => `${s.label}: ${s.maxQueued} boundaries queued, over queueCapacity ${queueCapacity}`);
checks.push({ name: 'queues bounded', ok: overflow === '', detail: overflow || `the reactor's queue never held more than queueCapacity (${queueCapacity})` });

const overloadMemory = overload === undefined ? undefined : growth(sampler.samples.filter((s) => s.t / 1000 >= overload.window.startS && s.t / 1000 <= overload.window.endS));
checks.push(
  overloadMemory === undefined
    ? { name: 'memory flat under overload', ok: false, detail: 'no overload step ran, or it was too short to sample (fewer than 3 readings)' }
    : {
        name: 'memory flat under overload',
        ok: overloadMemory.rssGrowthMiB < kMemoryGrowthLimitMiB,
        detail:
          `RSS ${overloadMemory.firstThirdRssMiB.toFixed(0)} -> ${overloadMemory.lastThirdRssMiB.toFixed(0)} MiB (first to last third of the step, ` +
          `${overloadMemory.rssGrowthMiB >= 0 ? '+' : ''}${overloadMemory.rssGrowthMiB.toFixed(1)} MiB, limit +${kMemoryGrowthLimitMiB}); heap ${overloadMemory.heapGrowthMiB >= 0 ? '+' : ''}${overloadMemory.heapGrowthMiB.toFixed(1)} MiB`,
      },
);

const target = sustained === undefined
  ? undefined
  : {
      description: `${kSustainedFactor * 100}% of saturation sustained with p99 <= ${kP99TargetMs} ms and zero loss`,
      rate: sustained.offered,
      p99Ms: sustained.latencyMs.p99,
      lost: sustained.lost,
      keptUp: sustained.eventsPerSec >= 0.95 * sustained.offered!,
      met: sustained.latencyMs.p99 <= kP99TargetMs && sustained.lost === 0 && sustained.eventsPerSec >= 0.95 * sustained.offered!,
    };

// --- report ------------------------------------------------------------------------------------
console.log('');
printSteps(steps);
console.log('');
console.log(`saturation (probe): ${Number.isFinite(saturation) ? `${Math.round(saturation).toLocaleString('en-US')} firings/s` : 'not measured'}`);
if (target !== undefined) {
  console.log(
    `target: ${target.description}: ${target.met ? 'met' : 'MISSED'} ` +
      `(${target.rate!.toLocaleString('en-US')} events/s offered, ${target.keptUp ? 'kept up' : 'fell behind'}, p99 ${target.p99Ms.toFixed(2)} ms, lost ${target.lost})`,
  );
}
for (const check of checks) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);

const ok = checks.every((c) => c.ok);
const json = writeResult('load', {
  mode,
  ok,
  config: {
    executor,
    strategy,
    threads,
    queueCapacity,
    stepSeconds: stepMs / 1000,
    rates,
    overloadFactor: kOverloadFactor,
    sustainedFactor: kSustainedFactor,
    p99TargetMs: kP99TargetMs,
    memoryGrowthLimitMiB: kMemoryGrowthLimitMiB,
  },
  saturation: { firingsPerSec: Number.isFinite(saturation) ? saturation : null, from: 'probe' },
  steps: all,
  overloadMemory: overloadMemory ?? null,
  target: target ?? null,
  checks,
  memory: sampler.samples.map((s) => ({ t: +(s.t / 1000).toFixed(2), rssMiB: +s.rssMiB.toFixed(1), heapUsedMiB: +s.heapUsedMiB.toFixed(1), step: s.step })),
});
const charts = writeCharts(title, steps, sampler.samples, overload, kP99TargetMs);
console.log(`\nwrote ${json}`);
for (const chart of charts) console.log(`wrote ${chart}`);

if (!ok) {
  for (const check of checks.filter((c) => !c.ok)) console.error(`load: check failed: ${check.name}: ${check.detail}`);
  process.exit(1);
}
