/**
 * Reactive pipeline, inline executor vs RxJS and @most/core, on what a service runs: two sources
 * fed objects (`{ value: i }`, `{ estimate: i }`), a `when_any` reactor, a 3-node chain
 * `entry -> add10 -> publish` whose nodes return new objects, and a `fire` listener that reads
 * `outputs.publish.value`. The peers do the same with the same objects and a subscriber that
 * reads the same field, in the same process.
 *
 * - latest: a `latest` reactor with synchronous nodes vs `combineLatest`/`combine` + three maps.
 *   Events are fed in windows of 1,000 (the producer yields between windows, as a socket would);
 *   the reactor collapses each window into one firing on the newest values, the peers map every
 *   event.
 * - sequential, sync nodes: every event fires, in order (target: 1,000,000 firings/s).
 * - sequential, async nodes vs `concatMap(async)` x3 / `awaitPromises(map(async))` x3, fed in
 *   windows of 1,000 drained before the next (a large synchronous burst into concatMap is
 *   quadratic).
 * - the same `latest` pipeline on bare numbers, as an extra row.
 * - pushes alone: the same objects into accumulators no reactor reads, beside the peers' whole
 *   `latest` pipelines: what a push costs before a reactor sees it.
 *
 * The producer honours backpressure: a refused push waits for `whenWritable()` and is retried.
 * Each window is one benchmark.js operation; events/s = ops/s x window. Every pipeline is measured
 * in three rounds, interleaved with the others, and the medians are reported (a shared machine
 * drifts by tens of percent within a minute).
 */
import { awaitPromises, combine, map as mostMap, newStream, runEffects, tap } from '@most/core';
import { newDefaultScheduler } from '@most/scheduler';
import type { Scheduler, Sink, Stream } from '@most/types';
import { Subject, combineLatest, concatMap, map } from 'rxjs';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor, type FireRecord } from 'cloaca';
import { benchOps, progress, type Budget, type Row } from '../harness.js';
import type { SuiteResult } from './shared.js';

const kWindow = 1000;
export const reactiveSteps = 24;

interface Quote {
  readonly value: number;
}
interface Estimate {
  readonly estimate: number;
}
interface Priced {
  readonly value: number;
}
interface Published {
  readonly value: number;
  readonly at: number;
}

// The chain's three steps, shared by every pipeline so all of them do the same work.
const entry = (a: Quote | undefined, b: Estimate | undefined): Priced => ({
  value: (a?.value ?? 0) + (b?.estimate ?? 0),
});
const add10 = (x: Priced): Priced => ({ value: x.value + 10 });
const publish = (x: Priced): Published => ({ value: x.value, at: 1 });
const numberEntry = (a = 0, b = 0): number => a + b + 1;
const double = (x: number): number => x * 2;
const settle = (x: number): number => x - 3;

/** What every pipeline offers the measuring loop. */
interface Pipeline {
  /** Feeds one window; resolves once it is drained (`drain`) or the loop has turned. */
  window(drain: boolean): Promise<void>;
  /** Outputs the listener read. */
  outputs(): number;
  close(): Promise<void> | void;
}

/** Resolves `target` outputs later; shared by the pipelines' listeners. */
class Counter {
  count = 0;
  /** A checksum of what the listener read, so no work can be skipped. */
  sum = 0;
  #waiting: { target: number; resolve: () => void } | undefined;

  read(value: number): void {
    this.count++;
    this.sum += value;
    if (this.#waiting !== undefined && this.count >= this.#waiting.target) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve();
    }
  }

  until(target: number): Promise<void> {
    return this.count >= target ? Promise.resolve() : new Promise((resolve) => (this.#waiting = { target, resolve }));
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A runtime with sources a and b feeding a reactor that fires the 3-node inline chain. */
async function cloacaPipeline(
  strategy: 'latest' | 'sequential',
  payload: 'objects' | 'numbers',
  asyncNodes: boolean,
  sharedValues = false,
): Promise<Pipeline> {
  const name = `reactive_${strategy}_${payload}${asyncNodes ? '_async' : ''}`;
  const declaration = reactor({ name, accumulators: ['a', 'b'], mode: 'when_any', strategy });
  const sync =
    payload === 'objects' ? { entry, add10, publish } : { entry: numberEntry, add10: double, publish: settle };
  const nodes = asyncNodes
    ? {
        entry: async (a: Quote | undefined, b: Estimate | undefined) => entry(a, b),
        add10: async (x: Priced) => add10(x),
        publish: async (x: Priced) => publish(x),
      }
    : sync;
  const graph = await new ComputationGraphBuilder(name, {
    reactor: declaration,
    nodes,
    graph: { entry: { inputs: ['a', 'b'], next: 'add10' }, add10: { next: 'publish' }, publish: {} },
    sharedValues,
  }).build();
  const runtime = new Runtime();
  runtime.register(passthroughAccumulator({ name: 'a' }), passthroughAccumulator({ name: 'b' }), declaration, graph);
  await runtime.start();
  const counter = new Counter();
  runtime.on(
    'fire',
    payload === 'objects'
      ? (record: FireRecord) => counter.read((record.outputs!.publish as Published).value)
      : (record: FireRecord) => counter.read(record.outputs!.publish as number),
  );
  let pushed = 0;
  const event = payload === 'objects' ? (i: number) => (i & 1 ? { estimate: i } : { value: i }) : (i: number) => i;
  return {
    outputs: () => counter.count,
    close: () => runtime.shutdown(),
    async window(drain) {
      for (let i = 0; i < kWindow; i++) {
        const source = pushed & 1 ? 'b' : 'a';
        while (!runtime.push(source, event(pushed))) await runtime.whenWritable(source);
        pushed++;
      }
      return drain ? counter.until(pushed) : turn();
    },
  };
}

/**
 * Pushes alone: the same objects into two passthrough accumulators that no reactor reads. What
 * every cloaca pipeline pays per event before a reactor sees it (the lookup, the copy the value
 * rules make of the event, the accumulator), to compare with a peer's whole pipeline.
 */
async function pushPipeline(): Promise<Pipeline> {
  const runtime = new Runtime();
  runtime.register(passthroughAccumulator({ name: 'a' }), passthroughAccumulator({ name: 'b' }));
  await runtime.start();
  let pushed = 0;
  return {
    outputs: () => runtime.stats().pushed,
    close: () => runtime.shutdown(),
    async window() {
      for (let i = 0; i < kWindow; i++) {
        const n = pushed;
        const source = n & 1 ? 'b' : 'a';
        while (!runtime.push(source, n & 1 ? { estimate: n } : { value: n })) await runtime.whenWritable(source);
        pushed++;
      }
      return turn();
    },
  };
}

/** The RxJS pipeline; `asyncMaps` uses concatMap(async ...) for every stage. */
function rxPipeline(payload: 'objects' | 'numbers', asyncMaps: boolean): Pipeline {
  const counter = new Counter();
  let subscription: { unsubscribe(): void };
  let feed: (i: number) => void;
  if (payload === 'numbers') {
    const a = new Subject<number>();
    const b = new Subject<number>();
    subscription = combineLatest([a, b])
      .pipe(
        map(([x, y]) => numberEntry(x, y)),
        map(double),
        map(settle),
      )
      .subscribe((x) => counter.read(x));
    b.next(0);
    feed = (i) => (i & 1 ? b : a).next(i);
  } else {
    const a = new Subject<Quote>();
    const b = new Subject<Estimate>();
    const source = combineLatest([a, b]);
    const piped = asyncMaps
      ? source.pipe(
          concatMap(async ([x, y]) => entry(x, y)),
          concatMap(async (x) => add10(x)),
          concatMap(async (x) => publish(x)),
        )
      : source.pipe(
          map(([x, y]) => entry(x, y)),
          map(add10),
          map(publish),
        );
    subscription = piped.subscribe((x) => counter.read(x.value));
    // combineLatest emits once both have a value: prime b so every later event emits.
    b.next({ estimate: 0 });
    feed = (i) => (i & 1 ? b.next({ estimate: i }) : a.next({ value: i }));
  }
  let pushed = 0;
  return {
    outputs: () => counter.count,
    close: () => subscription.unsubscribe(),
    window(drain) {
      const target = counter.count + kWindow;
      for (let i = 0; i < kWindow; i++) feed(pushed++);
      return drain ? counter.until(target) : turn();
    },
  };
}

/** A @most/core stream whose events are pushed from outside, with the scheduler's clock. */
function pushedStream<A>(scheduler: Scheduler): { stream: Stream<A>; next(value: A): void } {
  let sink: Sink<A> | undefined;
  const stream = newStream<A>((s) => {
    sink = s;
    return { dispose: () => (sink = undefined) };
  });
  return { stream, next: (value) => sink?.event(scheduler.currentTime(), value) };
}

/** The @most/core pipeline; `asyncMaps` uses awaitPromises(map(async ...)) for every stage. */
function mostPipeline(asyncMaps: boolean): Pipeline {
  const counter = new Counter();
  const scheduler = newDefaultScheduler();
  const a = pushedStream<Quote>(scheduler);
  const b = pushedStream<Estimate>(scheduler);
  const combined = combine((x: Quote, y: Estimate) => [x, y] as const, a.stream, b.stream);
  const piped = asyncMaps
    ? awaitPromises(
        mostMap(
          async (x: Priced) => publish(x),
          awaitPromises(
            mostMap(async (x: Priced) => add10(x), awaitPromises(mostMap(async ([x, y]) => entry(x, y), combined))),
          ),
        ),
      )
    : mostMap(
        publish,
        mostMap(
          add10,
          mostMap(([x, y]) => entry(x, y), combined),
        ),
      );
  let done = false;
  // runEffects subscribes synchronously; its promise settles only when the stream ends (never).
  void runEffects(
    tap((x) => counter.read(x.value), piped),
    scheduler,
  ).catch(() => (done = true));
  b.next({ estimate: 0 });
  let pushed = 0;
  return {
    outputs: () => counter.count,
    close: () => {
      done = true;
    },
    window(drain) {
      if (done) return Promise.reject(new Error('the @most/core pipeline failed'));
      const target = counter.count + kWindow;
      for (let i = 0; i < kWindow; i++) {
        const n = pushed++;
        if (n & 1) b.next({ estimate: n });
        else a.next({ value: n });
      }
      return drain ? counter.until(target) : turn();
    },
  };
}

/** Rounds of each measurement, interleaved across the pipelines so drift hits all alike; medians reported. */
const kRounds = 3;

interface Measured {
  readonly eventsPerSec: number;
  readonly rme: number;
}

export async function reactiveSuite(budget: Budget): Promise<SuiteResult> {
  const subjects: Array<{ key: string; label: string; pipeline: Pipeline; drain: boolean }> = [
    { key: 'rxLatest', label: 'RxJS combineLatest + 3 maps', pipeline: rxPipeline('objects', false), drain: false },
    { key: 'mostLatest', label: '@most/core combine + 3 maps', pipeline: mostPipeline(false), drain: false },
    {
      key: 'latest',
      label: 'cloaca latest, inline',
      pipeline: await cloacaPipeline('latest', 'objects', false),
      drain: false,
    },
    {
      key: 'latestShared',
      label: 'cloaca latest, inline, shared values',
      pipeline: await cloacaPipeline('latest', 'objects', false, true),
      drain: false,
    },
    { key: 'pushAlone', label: 'cloaca pushes alone, no reactor', pipeline: await pushPipeline(), drain: false },
    {
      key: 'sequentialSync',
      label: 'cloaca sequential, sync nodes, inline',
      pipeline: await cloacaPipeline('sequential', 'objects', false),
      drain: true,
    },
    {
      key: 'sequentialSyncShared',
      label: 'cloaca sequential, sync nodes, inline, shared values',
      pipeline: await cloacaPipeline('sequential', 'objects', false, true),
      drain: true,
    },
    { key: 'rxAsync', label: 'RxJS 3 x concatMap(async)', pipeline: rxPipeline('objects', true), drain: true },
    { key: 'mostAsync', label: '@most/core 3 x awaitPromises(map(async))', pipeline: mostPipeline(true), drain: true },
    {
      key: 'sequentialAsync',
      label: 'cloaca sequential, async nodes, inline',
      pipeline: await cloacaPipeline('sequential', 'objects', true),
      drain: true,
    },
    {
      key: 'rxNumbers',
      label: 'RxJS combineLatest + 3 maps, numbers',
      pipeline: rxPipeline('numbers', false),
      drain: false,
    },
    {
      key: 'latestNumbers',
      label: 'cloaca latest, inline, numbers',
      pipeline: await cloacaPipeline('latest', 'numbers', false),
      drain: false,
    },
  ];
  const samples = subjects.map(() => [] as Measured[]);
  for (let round = 0; round < kRounds; round++) {
    for (const [k, subject] of subjects.entries()) {
      if (round === 0 || k % 2 === 0) progress(`reactive: ${subject.label}, round ${round + 1} of ${kRounds}`);
      const ops = await benchOps(subject.label, () => subject.pipeline.window(subject.drain), budget.maxTime / kRounds);
      samples[k]!.push({ eventsPerSec: ops.hz * kWindow, rme: ops.rme });
    }
  }
  const result: Record<string, Measured> = {};
  for (const [k, subject] of subjects.entries()) {
    const sorted = [...samples[k]!].sort((x, y) => x.eventsPerSec - y.eventsPerSec);
    result[subject.key] = sorted[Math.floor(sorted.length / 2)]!;
  }
  const outputs = Object.fromEntries(subjects.map((s) => [s.key, s.pipeline.outputs()]));
  for (const subject of subjects) await subject.pipeline.close();

  const r = (key: string): Measured => result[key]!;
  const ratio = (key: string, peer: string): number => r(key).eventsPerSec / r(peer).eventsPerSec;
  const peers = (key: string, rx: string, most: string): string =>
    `${ratio(key, rx).toFixed(2)}x RxJS, ${ratio(key, most).toFixed(2)}x @most/core`;
  const row = (metric: string, key: string, note: string, unit = 'events/s'): Row => ({
    suite: 'reactive',
    metric,
    value: r(key).eventsPerSec,
    unit,
    note: `${note}; ±${r(key).rme.toFixed(1)}%`,
  });
  const rows: Row[] = [
    row('latest: RxJS combineLatest + 3 maps', 'rxLatest', 'objects, subscriber reads the output'),
    row('latest: @most/core combine + 3 maps', 'mostLatest', 'objects, tap reads the output'),
    row('latest: cloaca inline', 'latest', `${peers('latest', 'rxLatest', 'mostLatest')} (target >= 1.5x RxJS)`),
    row('latest: cloaca inline, shared values', 'latestShared', peers('latestShared', 'rxLatest', 'mostLatest')),
    row(
      'pushes alone: cloaca, no reactor',
      'pushAlone',
      `${peers('pushAlone', 'rxLatest', 'mostLatest')}: the copy and the accumulator, no reactor or graph`,
    ),
    row(
      'sequential, sync nodes: cloaca inline',
      'sequentialSync',
      'every event fires (target >= 1,000,000 firings/s)',
      'firings/s',
    ),
    row(
      'sequential, sync nodes: cloaca inline, shared values',
      'sequentialSyncShared',
      'every event fires',
      'firings/s',
    ),
    row('sequential, async nodes: RxJS 3 x concatMap(async)', 'rxAsync', 'objects'),
    row('sequential, async nodes: @most/core 3 x awaitPromises', 'mostAsync', 'objects'),
    row(
      'sequential, async nodes: cloaca inline',
      'sequentialAsync',
      `${peers('sequentialAsync', 'rxAsync', 'mostAsync')} (target >= 1.0x RxJS)`,
    ),
    row('latest, numbers: RxJS', 'rxNumbers', 'bare numbers, for reference'),
    row('latest, numbers: cloaca inline', 'latestNumbers', `${ratio('latestNumbers', 'rxNumbers').toFixed(2)}x RxJS`),
  ];
  const data = {
    window: kWindow,
    rounds: Object.fromEntries(subjects.map((s, k) => [s.key, samples[k]!.map((x) => x.eventsPerSec)])),
    medians: result,
    outputs,
    ratios: {
      latestVsRxjs: ratio('latest', 'rxLatest'),
      latestVsMost: ratio('latest', 'mostLatest'),
      latestSharedVsRxjs: ratio('latestShared', 'rxLatest'),
      pushAloneVsRxjs: ratio('pushAlone', 'rxLatest'),
      sequentialAsyncVsRxjs: ratio('sequentialAsync', 'rxAsync'),
      sequentialAsyncVsMost: ratio('sequentialAsync', 'mostAsync'),
    },
  };
  const point = (x: number, key: string) => [x, r(key).eventsPerSec] as const;
  return {
    rows,
    data,
    charts: [
      {
        name: 'reactive',
        chart: {
          title: 'Reactive pipeline on objects with a listener, events/s (inline executor vs RxJS and @most/core)',
          xLabel: 'workload: 1 = latest, 2 = sequential with async nodes',
          yLabel: 'events per second',
          logY: true,
          series: [
            { name: 'RxJS', points: [point(1, 'rxLatest'), point(2, 'rxAsync')] },
            { name: '@most/core', points: [point(1, 'mostLatest'), point(2, 'mostAsync')] },
            { name: 'cloaca', points: [point(1, 'latest'), point(2, 'sequentialAsync')] },
          ],
        },
      },
    ],
  };
}
