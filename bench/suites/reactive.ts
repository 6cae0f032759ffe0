/**
 * Reactive pipeline, inline executor vs RxJS: two sources -> a `when_any` reactor -> a 3-node
 * chain, against `Subject`s -> `combineLatest` -> three maps, in the same process.
 *
 * - latest-collapsing: a `latest` reactor and synchronous nodes vs synchronous RxJS maps. Events
 *   are fed in windows of 1,000 (the producer yields between windows, as a socket would); the
 *   reactor collapses each window into one firing on the newest values, RxJS maps every event.
 * - every-event: a `sequential` reactor (every event fires, in order) vs `concatMap(async ...)`
 *   x3, both with async maps, fed in windows of 1,000 that are drained before the next (a large
 *   synchronous burst into concatMap is quadratic). The same with synchronous nodes is shown for
 *   reference.
 *
 * Each window is one benchmark.js operation; events/s = ops/s x window. Every pipeline is measured
 * in three rounds, interleaved with the others, and the medians are reported (a shared machine
 * drifts by tens of percent within a minute).
 */
import { Subject, combineLatest, concatMap, map } from 'rxjs';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor, type FireRecord } from 'cloaca';
import { benchOps, progress, type Budget, type Row } from '../harness.js';
import type { SuiteResult } from './shared.js';

const kWindow = 1000;
export const reactiveSteps = 15;

const pass = (x: number): number => x + 1;
const double = (x: number): number => x * 2;
const settle = (x: number): number => x - 3;

/** A runtime with sources a and b feeding a reactor that fires a 3-node inline chain. */
async function cloacaPipeline(strategy: 'latest' | 'sequential', asyncNodes: boolean) {
  const declaration = reactor({ name: `reactive_${strategy}`, accumulators: ['a', 'b'], mode: 'when_any', strategy });
  const nodes = asyncNodes
    ? {
        first: async (a = 0, b = 0) => pass(a + b),
        second: async (x: number) => double(x),
        third: async (x: number) => settle(x),
      }
    : { first: (a = 0, b = 0) => pass(a + b), second: double, third: settle };
  const graph = await new ComputationGraphBuilder(`reactive_${strategy}`, {
    reactor: declaration,
    nodes,
    graph: { first: { inputs: ['a', 'b'], next: 'second' }, second: { next: 'third' }, third: {} },
  }).build();
  const runtime = new Runtime({ queueCapacity: kWindow * 2 });
  runtime.register(passthroughAccumulator({ name: 'a' }), passthroughAccumulator({ name: 'b' }), declaration, graph);
  await runtime.start();
  let fired = 0;
  let waiting: { target: number; resolve: () => void } | undefined;
  runtime.on('fire', (_record: FireRecord) => {
    fired++;
    if (waiting !== undefined && fired >= waiting.target) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve();
    }
  });
  let pushed = 0;
  return {
    runtime,
    firings: () => fired,
    /** Pushes one window; resolves once the window is drained (every-event) or the loop has turned (latest). */
    window: (drain: boolean): Promise<void> => {
      for (let i = 0; i < kWindow; i++) runtime.push(i & 1 ? 'b' : 'a', pushed++);
      if (!drain) return new Promise((resolve) => setImmediate(resolve));
      return fired >= pushed ? Promise.resolve() : new Promise((resolve) => (waiting = { target: pushed, resolve }));
    },
  };
}

/** The RxJS pipeline; `asyncMaps` uses concatMap(async ...) for every stage. */
function rxPipeline(asyncMaps: boolean) {
  const a = new Subject<number>();
  const b = new Subject<number>();
  let out = 0;
  let waiting: { target: number; resolve: () => void } | undefined;
  const source = combineLatest([a, b]);
  const piped = asyncMaps
    ? source.pipe(
        concatMap(async ([x, y]) => pass(x + y)),
        concatMap(async (x) => double(x)),
        concatMap(async (x) => settle(x)),
      )
    : source.pipe(
        map(([x, y]) => pass(x + y)),
        map(double),
        map(settle),
      );
  const subscription = piped.subscribe(() => {
    out++;
    if (waiting !== undefined && out >= waiting.target) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve();
    }
  });
  // combineLatest emits once both have a value: prime b so every later event emits.
  b.next(0);
  let pushed = 0;
  return {
    close: () => subscription.unsubscribe(),
    outputs: () => out,
    window: (drain: boolean): Promise<void> => {
      for (let i = 0; i < kWindow; i++) (i & 1 ? b : a).next(pushed++);
      if (!drain) return new Promise((resolve) => setImmediate(resolve));
      return out >= pushed ? Promise.resolve() : new Promise((resolve) => (waiting = { target: pushed, resolve }));
    },
  };
}

/** Rounds of each measurement, interleaved across the pipelines so drift hits all alike; medians reported. */
const kRounds = 3;

export async function reactiveSuite(budget: Budget): Promise<SuiteResult> {
  const rows: Row[] = [];
  const data: Record<string, unknown> = { window: kWindow, rounds: kRounds };
  const rxLatest = rxPipeline(false);
  const latest = await cloacaPipeline('latest', false);
  const rxEvery = rxPipeline(true);
  const every = await cloacaPipeline('sequential', true);
  const everySync = await cloacaPipeline('sequential', false);
  const subjects = [
    { label: 'RxJS combineLatest + 3 sync maps', run: () => rxLatest.window(false) },
    { label: 'cloaca latest, sync nodes, inline', run: () => latest.window(false) },
    { label: 'RxJS combineLatest + 3 concatMap(async)', run: () => rxEvery.window(true) },
    { label: 'cloaca sequential, async nodes, inline', run: () => every.window(true) },
    { label: 'cloaca sequential, sync nodes, inline', run: () => everySync.window(true) },
  ];
  const samples = subjects.map(() => [] as Array<{ eventsPerSec: number; rme: number }>);
  for (let round = 0; round < kRounds; round++) {
    for (const [k, subject] of subjects.entries()) {
      progress(`reactive: ${subject.label}, round ${round + 1} of ${kRounds}`);
      const ops = await benchOps(subject.label, subject.run, budget.maxTime / kRounds);
      samples[k]!.push({ eventsPerSec: ops.hz * kWindow, rme: ops.rme });
    }
  }
  const median = (k: number) => {
    const sorted = [...samples[k]!].sort((x, y) => x.eventsPerSec - y.eventsPerSec);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const [rxLatestResult, latestResult, rxEveryResult, everyResult, everySyncResult] = subjects.map((_, k) =>
    median(k),
  ) as [
    { eventsPerSec: number; rme: number },
    { eventsPerSec: number; rme: number },
    { eventsPerSec: number; rme: number },
    { eventsPerSec: number; rme: number },
    { eventsPerSec: number; rme: number },
  ];
  data.rounds = Object.fromEntries(subjects.map((s, k) => [s.label, samples[k]!.map((x) => x.eventsPerSec)]));
  rxLatest.close();
  rxEvery.close();
  const latestFirings = latest.firings();
  const latestEvents = latest.runtime.stats().pushed;
  await latest.runtime.shutdown();
  await every.runtime.shutdown();
  await everySync.runtime.shutdown();

  const latestRatio = latestResult.eventsPerSec / rxLatestResult.eventsPerSec;
  const everyRatio = everyResult.eventsPerSec / rxEveryResult.eventsPerSec;
  data.latestCollapsing = {
    rxjs: rxLatestResult,
    cloaca: latestResult,
    ratio: latestRatio,
    cloacaFiringsPerEvent: latestFirings / latestEvents,
  };
  data.everyEvent = { rxjs: rxEveryResult, cloaca: everyResult, ratio: everyRatio, cloacaSyncNodes: everySyncResult };
  rows.push(
    {
      suite: 'reactive',
      metric: 'latest-collapsing: RxJS (sync maps)',
      value: rxLatestResult.eventsPerSec,
      unit: 'events/s',
      note: `±${rxLatestResult.rme.toFixed(1)}%`,
    },
    {
      suite: 'reactive',
      metric: 'latest-collapsing: cloaca inline',
      value: latestResult.eventsPerSec,
      unit: 'events/s',
      note: `${latestRatio.toFixed(2)}x RxJS (target >= 1.5x); ${latestFirings} firings for ${latestEvents} events`,
    },
    {
      suite: 'reactive',
      metric: 'every-event: RxJS concatMap(async) x3',
      value: rxEveryResult.eventsPerSec,
      unit: 'events/s',
      note: `±${rxEveryResult.rme.toFixed(1)}%`,
    },
    {
      suite: 'reactive',
      metric: 'every-event: cloaca sequential, async nodes',
      value: everyResult.eventsPerSec,
      unit: 'events/s',
      note: `${everyRatio.toFixed(2)}x RxJS (target >= 1.0x)`,
    },
    {
      suite: 'reactive',
      metric: 'every-event: cloaca sequential, sync nodes',
      value: everySyncResult.eventsPerSec,
      unit: 'events/s',
      note: `${(everySyncResult.eventsPerSec / rxEveryResult.eventsPerSec).toFixed(2)}x RxJS async maps; every event fires (target >= 1,000,000 firings/s)`,
    },
  );
  return {
    rows,
    data,
    charts: [
      {
        name: 'reactive',
        chart: {
          title: 'Reactive pipeline, events/s (inline executor vs RxJS)',
          xLabel: 'workload: 1 = latest-collapsing, 2 = every-event (async maps)',
          yLabel: 'events per second',
          logY: true,
          series: [
            {
              name: 'RxJS',
              points: [
                [1, rxLatestResult.eventsPerSec],
                [2, rxEveryResult.eventsPerSec],
              ],
            },
            {
              name: 'cloaca',
              points: [
                [1, latestResult.eventsPerSec],
                [2, everyResult.eventsPerSec],
              ],
            },
          ],
        },
      },
    ],
  };
}
