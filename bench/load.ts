/**
 * `npm run load [-- --full | --tiny] [--executor pool|inline] [--strategy sequential|latest]
 * [--duration SECONDS] [--rates 1000,5000,...] [--threads N] [--nice-increment N] [--queue-capacity N] [--out DIR]`
 *
 * With `--http` it runs the ops server's load test instead (`load/http.ts`): inject over HTTP
 * and WebSocket next to a bare `node:http`/`ws` server.
 *
 * A load test of the reactive runtime: events into passthrough `a` -> `when_any` reactor (the
 * chosen strategy) -> 3-node chain graph (the chosen executor), offered by a paced producer at
 * fixed rates, each step for a set duration:
 *
 * 1. warm-up (not reported), then the sweep: one step per `--rates` entry;
 * 2. probe (half a step): the producer offers as much as is accepted; its firings/s
 *    (`sequential`) or accepted events/s (`latest`, where a burst collapses into one firing) is
 *    the saturation rate;
 * 3. overload: 3x the saturation rate, twice as long as a step: queues must stay bounded and
 *    memory flat, because backpressure refuses what the runtime cannot take;
 * 4. sustained: 80% of the saturation rate, the target being p99 <= 2 ms with nothing lost.
 *
 * Per step it measures push -> fire record latency in an HDR histogram (p50, p90, p99, p99.9,
 * max), accepted events/s and firings/s, refused pushes (retried, not lost), the reactor's queue
 * depth, the main thread's event-loop delay, and RSS; RSS and heap are also sampled over the
 * whole run, and the overload step reads the live heap after forced full GCs (see
 * `load/memory.ts` for why). It prints a table, writes `load.json` and two SVG charts to `bench/results/` (or
 * DIR), and exits 1 naming the check that failed when an accepted `sequential` event never fired
 * (or fired twice or out of order), a queue outgrew its bound, a graph failed, a step did not
 * drain, or memory grew under overload. The sustained-load target is reported, not enforced:
 * latency on a shared machine is noisy, loss and unbounded memory are not.
 *
 * Quick mode (the default) takes well under a minute on 2 cores; `--full` runs longer steps over
 * more rates; `--tiny` only proves the whole run works (for the tests). `--soak` runs a long
 * steady load against raw Piscina instead, to see whether memory levels off (`load/soak.ts`).
 */
import { availableParallelism } from 'node:os';
import { commandLine, expectSteps, progress, progressDone, refuse, setResultsDir, writeResult } from './harness.js';
import { LoadDriver, kMaxQueueCapacity, type StepResult, type StepSpec } from './load/driver.js';
import { MemorySampler, growth, liveHeapMiB } from './load/memory.js';
import { printSteps, stepLine, writeCharts, type StepRecord } from './load/report.js';
import { soak, soakChild, type SoakOptions } from './load/soak.js';
import { httpLoad } from './load/http.js';

/** The overload step offers this many times the saturation rate. */
const kOverloadFactor = 3;
/** The sustained step offers this fraction of the saturation rate. */
const kSustainedFactor = 0.8;
/** The sustained-load target: p99 at most this, with nothing lost. */
const kP99TargetMs = 2;
/**
 * Most the main thread's live heap (after a full GC) may grow between the first and the last
 * reading of the overload step: what filling the bounded queue may still add (queueCapacity
 * boundaries of at most {@link kBoundaryBytes}, for a queue not yet full at the first reading)
 * plus this slack. With the queue full at both readings the live heap moved by under 0.1 MiB on
 * the 2-core machine; an unbounded queue grew it by ~3 MiB a second (+14 MiB in a quick step).
 */
const kLiveHeapSlackMiB = 2;
/** Upper bound of a queued boundary's heap footprint (measured ~60 bytes: object plus queue slot). */
const kBoundaryBytes = 128;
/**
 * Most the mean RSS of the overload step's last third may exceed that of its first third: a
 * backstop for what the live heap does not see (worker threads, off-heap buffers). RSS moves
 * with GC by tens of MiB between readings (V8's young generation alone is 16-32 MiB), so only a
 * gross leak shows: 64 MiB is twice the largest swing seen here.
 */
const kRssGrowthLimitMiB = 64;
/** How often RSS and heap are sampled. */
const kMemorySampleMs = 100;

const usage =
  'usage: npm run load -- [--full | --tiny] [--executor pool|inline] [--strategy sequential|latest] ' +
  '[--duration SECONDS] [--rates 1000,5000,...] [--threads N] [--nice-increment N] [--queue-capacity N] [--out DIR]\n' +
  '       npm run load -- --soak [--minutes 10] [--rate 2000] [--executor pool|inline] [--strategy sequential|latest] ' +
  '[--threads N] [--malloc-arenas N] [--out DIR]\n' +
  '       npm run load -- --http [--full | --tiny] [--out DIR]';

const { values } = commandLine('load', usage, {
  options: {
    full: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    executor: { type: 'string', default: 'pool' },
    strategy: { type: 'string', default: 'sequential' },
    duration: { type: 'string' },
    rates: { type: 'string' },
    threads: { type: 'string' },
    'nice-increment': { type: 'string', default: '0' },
    'queue-capacity': { type: 'string', default: '10000' },
    out: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-child': { type: 'string' },
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    'malloc-arenas': { type: 'string' },
    http: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(message: string): never {
  return refuse('load', usage, message);
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}

function signed(n: number): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;
}

const mode = values.tiny ? 'tiny' : values.full ? 'full' : 'quick';
if (values.tiny && values.full) fail('--tiny and --full exclude each other');
/** Per mode: step and warm-up length (ms), the warm-up rate (low: a cold runtime is slow), and the default sweep. */
const plans = {
  tiny: { stepMs: 300, warmUpMs: 200, warmUpRate: 500, rates: [500, 2000] },
  quick: { stepMs: 4000, warmUpMs: 1000, warmUpRate: 1000, rates: [1000, 5000, 20_000, 50_000] },
  full: {
    stepMs: 20_000,
    warmUpMs: 3000,
    warmUpRate: 1000,
    rates: [1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000],
  },
} as const;
const plan = plans[mode];
if (values.http) {
  if (values.out !== undefined) setResultsDir(values.out);
  process.exit(await httpLoad(mode));
}

const executor = values.executor;
if (executor !== 'pool' && executor !== 'inline') fail(`--executor must be pool or inline, got '${executor}'`);
const strategy = values.strategy;
if (strategy !== 'sequential' && strategy !== 'latest')
  fail(`--strategy must be sequential or latest, got '${strategy}'`);
const stepMs = values.duration === undefined ? plan.stepMs : Number(values.duration) * 1000;
if (!(stepMs > 0) || !Number.isFinite(stepMs))
  fail(`--duration must be a positive number of seconds, got '${values.duration}'`);
const rates = values.rates === undefined ? [...plan.rates] : values.rates.split(',').map(Number);
if (rates.length === 0 || !rates.every((r) => Number.isInteger(r) && r > 0))
  fail(`--rates must be positive integers separated by commas, got '${values.rates}'`);
const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got '${values.threads}'`);
const niceIncrement = Number(values['nice-increment']);
if (!Number.isInteger(niceIncrement) || niceIncrement < 0 || niceIncrement > 19) {
  fail(`--nice-increment must be an integer from 0 to 19, got '${values['nice-increment']}'`);
}
const queueCapacity = Number(values['queue-capacity']);
if (!Number.isInteger(queueCapacity) || queueCapacity < 1 || queueCapacity > kMaxQueueCapacity) {
  fail(`--queue-capacity must be an integer from 1 to ${kMaxQueueCapacity}, got '${values['queue-capacity']}'`);
}
if (values.out !== undefined) setResultsDir(values.out);

if (values.soak || values['soak-child'] !== undefined) {
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  if (!(minutes > 0)) fail(`--minutes must be a positive number, got '${values.minutes}'`);
  if (!(Number.isInteger(rate) && rate > 0)) fail(`--rate must be a positive integer, got '${values.rate}'`);
  const arenas = values['malloc-arenas'] === undefined ? undefined : Number(values['malloc-arenas']);
  if (arenas !== undefined && !(Number.isInteger(arenas) && arenas > 0)) {
    fail(`--malloc-arenas must be a positive integer, got '${values['malloc-arenas']}'`);
  }
  const options: SoakOptions = { minutes, rate, executor, strategy, threads, mallocArenas: arenas };
  const child = values['soak-child'];
  if (child === undefined) await soak(options, process.argv[1]!);
  else if (child === 'cloaca' || child === 'piscina') await soakChild(child, options);
  else fail(`--soak-child must be cloaca or piscina, got '${child}'`);
  process.exit(0);
}

const title = `${strategy}, ${executor}${executor === 'pool' ? `, ${threads} threads, niceIncrement ${niceIncrement}` : ''}`;
console.log(
  `cloaca load test (${mode} mode): ${title}, queueCapacity ${queueCapacity}, ${stepMs / 1000} s per step, sweep ${rates.join(', ')} events/s`,
);

// --- the run -----------------------------------------------------------------------------------
const sampler = new MemorySampler(kMemorySampleMs);
const driver = await LoadDriver.start({ executor, strategy, threads, niceIncrement, queueCapacity });
const steps: StepRecord[] = [];
let stuck: StepRecord | undefined;
expectSteps(rates.length + 4);

/** Runs a step with its memory readings at the edges; a step that did not drain ends the run. */
async function run(spec: StepSpec): Promise<StepRecord | undefined> {
  if (stuck !== undefined) return undefined;
  progress(
    `load: ${spec.label}, ${Number.isFinite(spec.rate) ? `${Math.round(spec.rate).toLocaleString('en-US')} events/s` : 'as many events as accepted'} for ${spec.durationMs / 1000} s`,
  );
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
await run({ label: 'warm-up', rate: plan.warmUpRate, durationMs: plan.warmUpMs });
for (const rate of rates) {
  const step = await run({ label: `${rate.toLocaleString('en-US')}/s`, rate, durationMs: stepMs });
  if (step !== undefined) steps.push(step);
}
const probe = await run({
  label: 'probe',
  rate: Number.POSITIVE_INFINITY,
  durationMs: Math.max(stepMs / 2, plan.warmUpMs),
});
if (probe !== undefined) steps.push(probe);
// `sequential` fires every event, so its ceiling is the firing rate. `latest` collapses what
// arrives together (one producer tick) into one firing by design, so its ceiling is how many
// events the runtime takes in.
const saturation =
  probe === undefined ? Number.NaN : strategy === 'sequential' ? probe.firingsPerSec : probe.eventsPerSec;
const saturationUnit = strategy === 'sequential' ? 'firings/s' : 'events/s accepted';
/** Live-heap readings during the overload step, a third of the way in, two thirds, and at its end. */
const liveHeap: number[] = [];
let overload: StepRecord | undefined;
if (Number.isFinite(saturation)) {
  const durationMs = stepMs * 2;
  // The last reading just before the producer stops, while the queue is still as full as at the first.
  const timers = [1 / 3, 2 / 3, 0.97].map((at) => setTimeout(() => liveHeap.push(liveHeapMiB()), durationMs * at));
  overload = await run({ label: 'overload', rate: Math.max(1, Math.round(saturation * kOverloadFactor)), durationMs });
  for (const timer of timers) clearTimeout(timer);
  if (overload !== undefined) steps.push(overload);
}
const sustained = Number.isFinite(saturation)
  ? await run({ label: 'sustained', rate: Math.max(1, Math.round(saturation * kSustainedFactor)), durationMs: stepMs })
  : undefined;
if (sustained !== undefined) steps.push(sustained);

// A stuck runtime would never finish shutting down; the failed check's exit ends the process.
if (stuck === undefined) await driver.shutdown();
sampler.stop();

// --- checks ------------------------------------------------------------------------------------
interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
const checks: Check[] = [];
const all = stuck !== undefined && !steps.includes(stuck) ? [...steps, stuck] : steps;
const failing = (pick: (s: StepRecord) => boolean, say: (s: StepRecord) => string) =>
  all.filter(pick).map(say).join('; ');

const drainFailures = failing(
  (s) => !s.drained,
  (s) =>
    `${s.label}: the runtime stopped firing with work left, ${(s.drainMs / 1000).toFixed(0)} s after its producer stopped (the run stopped there)`,
);
checks.push({
  name: 'every step drained',
  ok: drainFailures === '',
  detail: drainFailures || 'each step went idle after its producer stopped',
});

if (strategy === 'sequential') {
  const lost = failing(
    (s) => s.lost !== 0 || s.outOfOrder !== 0,
    (s) =>
      `${s.label}: ${s.lost} of ${s.accepted} accepted events never fired in order, ${s.outOfOrder} fired out of order or twice`,
  );
  checks.push({
    name: 'sequential: nothing lost',
    ok: lost === '',
    detail: lost || 'every accepted event fired exactly once, in order',
  });
} else {
  const lost = failing(
    (s) => s.lost !== 0 || s.outOfOrder !== 0,
    (s) =>
      `${s.label}: ${s.lost === 0 ? '' : 'the newest accepted value never fired; '}${s.outOfOrder} firings saw an older value than one before`,
  );
  checks.push({
    name: 'latest: newest value fired',
    ok: lost === '',
    detail: lost || 'every step ended on a firing of its newest value, never going back',
  });
}

const graphFailures = failing(
  (s) => s.failed > 0,
  (s) => `${s.label}: ${s.failed} firings failed`,
);
checks.push({ name: 'no graph failed', ok: graphFailures === '', detail: graphFailures || 'every firing succeeded' });

const overflow = failing(
  (s) => s.maxQueued > queueCapacity,
  (s) => `${s.label}: ${s.maxQueued} boundaries queued, over queueCapacity ${queueCapacity}`,
);
checks.push({
  name: 'queues bounded',
  ok: overflow === '',
  detail: overflow || `the reactor's queue never held more than queueCapacity (${queueCapacity})`,
});

const liveHeapLimitMiB = kLiveHeapSlackMiB + (queueCapacity * kBoundaryBytes) / 2 ** 20;
const liveHeapGrowthMiB = liveHeap.length >= 2 ? liveHeap[liveHeap.length - 1]! - liveHeap[0]! : undefined;
checks.push(
  liveHeapGrowthMiB === undefined
    ? {
        name: 'live heap flat under overload',
        ok: false,
        detail: 'no overload step ran, or it ended before the heap was read',
      }
    : {
        name: 'live heap flat under overload',
        ok: liveHeapGrowthMiB < liveHeapLimitMiB,
        detail: `${liveHeap.map((m) => m.toFixed(1)).join(' -> ')} MiB after full GCs across the step (${signed(liveHeapGrowthMiB)} MiB, limit +${liveHeapLimitMiB.toFixed(1)})`,
      },
);
const overloadWindow = overload?.window;
const overloadMemory =
  overloadWindow === undefined
    ? undefined
    : growth(sampler.samples.filter((s) => s.t / 1000 >= overloadWindow.startS && s.t / 1000 <= overloadWindow.endS));
checks.push(
  overloadMemory === undefined
    ? {
        name: 'RSS flat under overload',
        ok: false,
        detail: 'no overload step ran, or it was too short to sample (fewer than 3 readings)',
      }
    : {
        name: 'RSS flat under overload',
        ok: overloadMemory.rssGrowthMiB < kRssGrowthLimitMiB,
        detail:
          `${overloadMemory.firstThirdRssMiB.toFixed(0)} -> ${overloadMemory.lastThirdRssMiB.toFixed(0)} MiB, mean of the first to the last third of the step ` +
          `(${signed(overloadMemory.rssGrowthMiB)} MiB, limit +${kRssGrowthLimitMiB}; heap used ${signed(overloadMemory.heapGrowthMiB)} MiB)`,
      },
);

/** The sustained step against the target; reported, not enforced. */
const target = (() => {
  if (sustained === undefined || sustained.offered === null) return undefined;
  const keptUp = sustained.eventsPerSec >= 0.95 * sustained.offered;
  return {
    description: `${kSustainedFactor * 100}% of saturation sustained with p99 <= ${kP99TargetMs} ms and zero loss`,
    rate: sustained.offered,
    p99Ms: sustained.latencyMs.p99,
    lost: sustained.lost,
    keptUp,
    met: keptUp && sustained.latencyMs.p99 <= kP99TargetMs && sustained.lost === 0,
  };
})();

// --- report ------------------------------------------------------------------------------------
console.log('');
printSteps(steps);
console.log('');
console.log(
  `saturation (probe): ${Number.isFinite(saturation) ? `${Math.round(saturation).toLocaleString('en-US')} ${saturationUnit}` : 'not measured'}`,
);
if (target !== undefined) {
  console.log(
    `target: ${target.description}: ${target.met ? 'met' : 'MISSED'} ` +
      `(${target.rate.toLocaleString('en-US')} events/s offered, ${target.keptUp ? 'kept up' : 'fell behind'}, p99 ${target.p99Ms.toFixed(2)} ms, lost ${target.lost})`,
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
    niceIncrement,
    queueCapacity,
    stepSeconds: stepMs / 1000,
    rates,
    overloadFactor: kOverloadFactor,
    sustainedFactor: kSustainedFactor,
    p99TargetMs: kP99TargetMs,
    liveHeapLimitMiB,
    rssGrowthLimitMiB: kRssGrowthLimitMiB,
  },
  saturation: { rate: Number.isFinite(saturation) ? saturation : null, unit: saturationUnit, from: 'probe' },
  steps: all,
  overloadMemory: overloadMemory === undefined ? null : { ...overloadMemory, liveHeapMiB: liveHeap },
  target: target ?? null,
  checks,
  memory: sampler.samples.map((s) => ({
    t: +(s.t / 1000).toFixed(2),
    rssMiB: +s.rssMiB.toFixed(1),
    heapUsedMiB: +s.heapUsedMiB.toFixed(1),
    step: s.step,
  })),
});
const charts = writeCharts(title, steps, sampler.samples, overload, kP99TargetMs);
console.log(`\nwrote ${json}`);
for (const chart of charts) console.log(`wrote ${chart}`);

if (!ok) {
  for (const check of checks.filter((c) => !c.ok)) console.error(`load: check failed: ${check.name}: ${check.detail}`);
  process.exit(1);
}
