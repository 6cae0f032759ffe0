/**
 * Checkpoints (contract section 6): reactor caches, dirty flags and sequential queues, batch
 * buffers, the last polling output and state windows survive a restart on the same file; a
 * restarted runtime drains a restored backlog by itself; and a process killed with SIGKILL
 * loses none of the boundaries accepted before its last resolved `persisted()`.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  batchAccumulator,
  passthroughAccumulator,
  pollingAccumulator,
  reactor,
  stateAccumulator,
  type ComputationGraph,
  type Runtime,
} from 'cloaca';
import { spawnReporting } from '../support/child.js';
import { FireLog, executors, fixture, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph, tmp } = useRuntimes();

/**
 * What a crash right now would leave of a checkpoint file that a live runtime holds (locked):
 * a copy of the file and its write-ahead log, taken while nothing writes (the test is
 * synchronous here), under a new name.
 */
function crashCopy(file: string): string {
  const copy = join(tmp(), `crashed-${unique('copy')}.db`);
  copyFileSync(file, copy);
  if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
  return copy;
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  /** Names shared by both runs of one test. */
  function names() {
    return {
      p1: unique('p1'),
      p2: unique('p2'),
      L: unique('latest_all'),
      q: unique('q'),
      S: unique('seq'),
      pl: unique('pl'),
      P: unique('polled'),
      st: unique('st'),
      T: unique('windowed'),
      bt: unique('bt'),
      B: unique('batched'),
    };
  }
  type Names = ReturnType<typeof names>;

  /** Registers the same components (fresh graphs) on `rt`; `poll` configures the polling accumulator. */
  async function wire(rt: Runtime, n: Names, poll: { interval: string; poll: () => unknown }) {
    const L = reactor({ name: n.L, accumulators: [n.p1, n.p2], mode: 'when_all' });
    const S = reactor({ name: n.S, accumulators: [n.q], strategy: 'sequential' });
    const P = reactor({ name: n.P, accumulators: [n.pl] });
    const T = reactor({ name: n.T, accumulators: [n.st], strategy: 'sequential' });
    const B = reactor({ name: n.B, accumulators: [n.bt] });
    const graphs: ComputationGraph[] = [];
    for (const [R, inputs] of [
      [L, [n.p1, n.p2]],
      [S, [n.q]],
      [P, [n.pl]],
      [T, [n.st]],
      [B, [n.bt]],
    ] as const) {
      graphs.push(await graph(`g_${R.name}`, executor, { reactor: R, graph: { snap: { inputs: [...inputs] } } }));
    }
    rt.register(
      passthroughAccumulator({ name: n.p1 }),
      passthroughAccumulator({ name: n.p2 }),
      passthroughAccumulator({ name: n.q }),
      pollingAccumulator({ name: n.pl, ...poll }),
      stateAccumulator({ name: n.st, capacity: 3 }),
      batchAccumulator({ name: n.bt }),
      L,
      S,
      P,
      T,
      B,
      ...graphs,
    );
    const log = new FireLog(rt);
    /** What `snap` returned for reactor `name`'s firings. */
    const fired = (name: string) => log.records.filter((r) => r.reactor === name).map((r) => r.outputs?.snap);
    return { log, fired };
  }

  it('a restart on the same file restores caches, dirty flags, the sequential backlog, the last polled value and state windows', async () => {
    const file = join(tmp(), 'restore.db');
    const n = names();

    const first = runtime({ checkpoint: file });
    let polls = 0;
    const one = await wire(first, n, { interval: '10ms', poll: () => (++polls === 1 ? 'v1' : undefined) });
    await first.start();
    first.push(n.p1, 'x'); // when_all: waits for p2
    first.reactor(n.S).pause();
    for (let v = 1; v <= 3; v++) first.push(n.q, v);
    for (let v = 1; v <= 4; v++) first.push(n.st, v);
    await one.log.until(1, (r) => r.reactor === n.P);
    await first.idle();
    expect(one.fired(n.L)).toStrictEqual([]);
    expect(one.fired(n.S)).toStrictEqual([]);
    expect(one.fired(n.P)).toStrictEqual([['v1']]);
    expect(one.fired(n.T).at(-1)).toStrictEqual([[2, 3, 4]]);
    expect(first.reactor(n.S).getState().queued).toBe(3);
    await first.shutdown();
    expect(existsSync(file)).toBe(true);

    const second = runtime({ checkpoint: file });
    let secondPolls = 0;
    const two = await wire(second, n, { interval: '1h', poll: () => ++secondPolls });
    await second.start();
    await second.idle();
    // The reactor was paused when the first runtime stopped, and still is: its backlog waits.
    expect(second.reactor(n.S).getState()).toMatchObject({ paused: true, queued: 3 });
    expect(two.fired(n.S)).toStrictEqual([]);
    second.reactor(n.S).resume();
    await second.idle();
    // The sequential backlog drained, in order.
    expect(two.fired(n.S)).toStrictEqual([[1], [2], [3]]);
    expect(second.reactor(n.S).getState()).toMatchObject({ queued: 0, cache: { [n.q]: 3 } });
    // The last polled value was delivered again at start (no poll ran: the interval is an hour).
    expect(secondPolls).toBe(0);
    expect(two.fired(n.P)).toStrictEqual([['v1']]);
    // The state window was restored and delivered once.
    expect(two.fired(n.T)).toStrictEqual([[[2, 3, 4]]]);
    // The latest reactor's cache and dirty flags are back: p2 alone now completes when_all.
    expect(second.reactor(n.L).getState()).toMatchObject({
      cache: { [n.p1]: 'x' },
      dirty: { [n.p1]: true, [n.p2]: false },
    });
    expect(two.fired(n.L)).toStrictEqual([]);
    second.push(n.p2, 'y');
    second.push(n.st, 5);
    await second.idle();
    expect(two.fired(n.L)).toStrictEqual([['x', 'y']]);
    expect(two.fired(n.T).at(-1)).toStrictEqual([[3, 4, 5]]);
  });

  it('after persisted(), another runtime on the file sees the queued backlog and the batch buffer (as after a crash)', async () => {
    const file = join(tmp(), 'crashlike.db');
    const n = names();
    const first = runtime({ checkpoint: file });
    const one = await wire(first, n, { interval: '1h', poll: () => undefined });
    await first.start();
    first.reactor(n.S).pause();
    for (let v = 1; v <= 4; v++) first.push(n.q, v);
    first.push(n.bt, 'e1');
    first.push(n.bt, 'e2');
    await first.persisted();
    // `first` is never shut down: `second` reads what a crash at this point would leave.
    const second = runtime({ checkpoint: crashCopy(file) });
    const two = await wire(second, n, { interval: '1h', poll: () => undefined });
    await second.start();
    // Paused at the crash, paused after it.
    expect(second.reactor(n.S).getState()).toMatchObject({ paused: true, queued: 4 });
    second.reactor(n.S).resume();
    await second.idle();
    expect(two.fired(n.S)).toStrictEqual([[1], [2], [3], [4]]);
    // The restored batch buffer waits for a trigger; a firing of its reactor flushes it.
    expect(two.fired(n.B)).toStrictEqual([]);
    await second.reactor(n.B).forceFire();
    await second.idle();
    expect(two.fired(n.B)).toStrictEqual([[undefined], [['e1', 'e2']]]);
    expect(one.fired(n.S)).toStrictEqual([]);
  });
});

it('the dirty flags a manual firing cleared are what a restart sees', async () => {
  const file = join(tmp(), 'manual.db');
  const a = unique('a');
  const b = unique('b');
  const name = unique('r');
  const start = async (path: string) => {
    const R = reactor({ name, accumulators: [a, b], mode: 'when_all' });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [a, b] } } });
    const rt = runtime({ checkpoint: path });
    rt.register(passthroughAccumulator({ name: a }), passthroughAccumulator({ name: b }), R, g);
    const log = new FireLog(rt);
    await rt.start();
    return { rt, log };
  };
  const first = await start(file);
  first.rt.push(a, 1);
  await first.rt.persisted();
  expect(await first.rt.reactor(name).forceFire()).toMatchObject({ manual: true, inputs: { [a]: 1 } });
  await first.rt.persisted();
  expect(first.rt.reactor(name).getState().dirty).toStrictEqual({ [a]: false, [b]: false });
  // `first` is never shut down: `second` reads what a crash at this point would leave.
  const second = await start(crashCopy(file));
  expect(second.rt.reactor(name).getState()).toMatchObject({ cache: { [a]: 1 }, dirty: { [a]: false, [b]: false } });
  second.rt.push(b, 2);
  await second.rt.idle();
  expect(second.log.records).toHaveLength(0); // a has not delivered since the manual firing
});

it('persisted() resolves at once without a checkpoint', async () => {
  const rt = runtime();
  const a = unique('a');
  rt.register(passthroughAccumulator({ name: a }), reactor({ name: unique('r'), accumulators: [a] }));
  await rt.start();
  rt.push(a, 1);
  await rt.persisted();
});

describe('crash', () => {
  const child = (mode: 'produce' | 'recover', file: string) => spawnReporting(fixture('crash-child.mjs'), [mode, file]);

  const numbers = (lines: string[], prefix: string) =>
    lines.filter((l) => l.startsWith(`${prefix} `)).map((l) => Number(l.slice(prefix.length + 1)));

  it('SIGKILL mid-stream loses no boundary accepted before the last resolved persisted(); the restart fires each, in order', async () => {
    const file = join(tmp(), 'crash.db');
    const producer = child('produce', file);
    try {
      // Kill it mid-stream, once a backlog (queue capacity 2000) is certainly on disk.
      await producer.line((l) => l.startsWith('persisted ') && Number(l.slice(10)) >= 6_000);
    } finally {
      producer.proc.kill('SIGKILL');
    }
    expect(await producer.exited).toStrictEqual({ code: null, signal: 'SIGKILL' });
    const produced = producer.lines();
    const watermark = Math.max(...numbers(produced, 'persisted'));
    const firedFirst = numbers(produced, 'fired');
    expect(watermark).toBeGreaterThanOrEqual(6_000);
    expect(produced.filter((l) => l.startsWith('failed '))).toStrictEqual([]);

    const recovery = child('recover', file);
    const { code } = await recovery.exited;
    expect(code, recovery.stderr()).toBe(0);
    const recovered = recovery.lines();
    expect(recovered.at(-1)).toBe('done');
    const firedSecond = numbers(recovered, 'fired');

    // The backlog was real: the restart had something to fire, and fired it in order.
    expect(firedSecond.length).toBeGreaterThan(0);
    for (let i = 1; i < firedSecond.length; i++) expect(firedSecond[i]).toBeGreaterThan(firedSecond[i - 1]!);
    // Every boundary up to the watermark fired in one run or the other.
    const fired = new Set([...firedFirst, ...firedSecond]);
    const missing: number[] = [];
    for (let v = 0; v <= watermark; v++) if (!fired.has(v)) missing.push(v);
    expect(missing).toStrictEqual([]);
    // The first run's firings were in order too, and the restart resumed where they stopped
    // (at-least-once: it may repeat the one in flight at the kill).
    for (let i = 1; i < firedFirst.length; i++) expect(firedFirst[i]).toBe(firedFirst[i - 1]! + 1);
    expect(firedSecond[0]).toBeLessThanOrEqual(Math.max(-1, ...firedFirst) + 1);
  });
});
