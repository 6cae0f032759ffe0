/**
 * `graph.map(source, options)` (contract section 10), on both executors: order, completion order,
 * the concurrency bound, lazy reading of the source, failures with the input's index, leaving the
 * loop, abort, async and empty sources, and option checks. Executions in flight are observed by
 * wrapping the graph's own `execute` (counters and an event log), never by timing.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  ExecutorClosedError,
  GraphExecutionError,
  InvalidArgumentError,
  reactor,
  type ComputationGraph,
  type GraphResult,
} from 'cloaca';
import { executors, fixture, rejectionOf, useGraphHarness, type ExecutorName } from './support/executors.js';
import { cells, signal } from './support/cells.js';

const { buildGraph } = useGraphHarness();
const nodes = fixture('map.nodes.mjs');

interface Input {
  readonly i: number;
  readonly [key: string]: unknown;
}

/** Inputs `{ i, ...extra }` for i in [0, n). */
function inputs(n: number, extra: Record<string, unknown> = {}): Input[] {
  return Array.from({ length: n }, (_, i) => ({ i, ...extra }));
}

/**
 * Wraps `graph.execute` (which `map()` calls for each input) to log every start and settlement
 * and to count executions in flight.
 */
function watch(graph: ComputationGraph) {
  const log: string[] = [];
  const waiters = new Map<string, () => void>();
  const note = (entry: string) => {
    log.push(entry);
    waiters.get(entry)?.();
  };
  let inFlight = 0;
  let most = 0;
  const execute = graph.execute.bind(graph);
  vi.spyOn(graph, 'execute').mockImplementation((...args) => {
    const { i } = args[0] as Input;
    note(`start ${i}`);
    most = Math.max(most, ++inFlight);
    const running = execute(...args);
    running.then(
      () => {
        inFlight--;
        note(`done ${i}`);
      },
      () => {
        inFlight--;
        note(`fail ${i}`);
      },
    );
    return running;
  });
  return {
    log,
    inFlight: () => inFlight,
    most: () => most,
    /** Resolves once `entry` is in the log. */
    reached: (entry: string) =>
      log.includes(entry) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(entry, resolve)),
  };
}

/** The log entries after `entry` that start an execution. */
function startsAfter(log: readonly string[], entry: string): string[] {
  const at = log.indexOf(entry);
  expect(at).toBeGreaterThanOrEqual(0);
  return log.slice(at + 1).filter((e) => e.startsWith('start'));
}

/** A sync or async iterator over `items` that counts reads and notes a call of its `return()`. */
function source<T>(items: readonly T[], async = false) {
  const state = { read: 0, returned: false };
  let next = 0;
  const step = (): IteratorResult<T> => {
    if (next >= items.length) return { done: true, value: undefined };
    state.read++;
    return { done: false, value: items[next++]! };
  };
  const close = (): IteratorResult<T> => {
    state.returned = true;
    return { done: true, value: undefined };
  };
  const iterable = async
    ? {
        async next() {
          await null;
          return step();
        },
        async return() {
          return close();
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      }
    : {
        next: step,
        return: close,
        [Symbol.iterator]() {
          return this;
        },
      };
  return { state, iterable: iterable as Iterable<T> | AsyncIterable<T> };
}

async function collect<T>(iteration: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iteration) all.push(item);
  return all;
}

const outputsOf = (results: readonly GraphResult[], node: string) => results.map((r) => r.outputs[node]);

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  const build = (name: string, node: string) => buildGraph(name, executor, { nodes, graph: { [node]: {} } });

  describe('results', () => {
    it('yields one result per input, in input order, even when later inputs finish first', async () => {
      const g = await build('ordered', 'slow');
      // Input i finishes after 12 - i macrotasks: inline, completion order is the reverse.
      const results = await collect(
        g.map(
          inputs(12).map((x) => ({ ...x, turns: 12 - x.i })),
          { concurrency: 12 },
        ),
      );
      expect(outputsOf(results, 'slow')).toStrictEqual(Array.from({ length: 12 }, (_, i) => i));
    });

    it('with ordered: false, yields each result as it finishes', async () => {
      const g = await build('unordered', 'gated');
      const { sab, view } = cells();
      const iteration = g.map(inputs(2, { sab }), { ordered: false, concurrency: 2 });
      const first = iteration.next();
      signal(view, 1); // input 0 stays closed: only input 1 can finish
      expect((await first).value?.outputs).toStrictEqual({ gated: 1 });
      const second = iteration.next();
      signal(view, 0);
      expect((await second).value?.outputs).toStrictEqual({ gated: 0 });
      expect((await iteration.next()).done).toBe(true);
    });

    it('in order, holds a finished result until the ones before it are yielded', async () => {
      const g = await build('held', 'gated');
      const { sab, view } = cells();
      const iteration = g.map(inputs(2, { sab }), { concurrency: 2 });
      const first = iteration.next();
      signal(view, 1);
      const second = iteration.next();
      signal(view, 0);
      expect((await first).value?.outputs).toStrictEqual({ gated: 0 });
      expect((await second).value?.outputs).toStrictEqual({ gated: 1 });
      expect((await iteration.next()).done).toBe(true);
    });

    it('ends at once on an empty source, sync or async', async () => {
      const g = await build('empty', 'double');
      const seen = watch(g);
      expect(await collect(g.map([]))).toStrictEqual([]);
      expect(await collect(g.map(source([], true).iterable))).toStrictEqual([]);
      expect(seen.log).toStrictEqual([]);
    });

    it('reads an async source (an async generator) and keeps its order', async () => {
      const g = await build('async_source', 'double');
      async function* produce() {
        for (let i = 0; i < 20; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          yield { i };
        }
      }
      const results = await collect(g.map(produce(), { concurrency: 3 }));
      expect(outputsOf(results, 'double')).toStrictEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    });

    it('maps a large sync source with bounded reading', async () => {
      const g = await build('many', 'double');
      const { state, iterable } = source(inputs(2000));
      let count = 0;
      for await (const result of g.map(iterable, { concurrency: 8 })) {
        expect(result.outputs.double).toBe(count * 2);
        count++;
        expect(state.read - count).toBeLessThanOrEqual(8);
      }
      expect(count).toBe(2000);
    });
  });

  describe('concurrency and reading', () => {
    it.each([1, 3, 7])('runs at most concurrency (%i) executions at once, and reaches it', async (concurrency) => {
      const g = await build(`bound_${concurrency}`, 'slow');
      const seen = watch(g);
      const results = await collect(g.map(inputs(30, { turns: 2 }), { concurrency }));
      expect(results).toHaveLength(30);
      expect(seen.most()).toBe(concurrency);
      expect(seen.inFlight()).toBe(0);
    });

    it(`defaults to ${executor === 'pool' ? 'twice the pool threads (4)' : '16'} executions at once`, async () => {
      const g = await build('default_bound', 'slow');
      const seen = watch(g);
      await collect(g.map(inputs(40, { turns: 2 })));
      expect(seen.most()).toBe(executor === 'pool' ? 4 : 16);
    });

    it.each([false, true])('reads the source only as results are consumed (async source: %s)', async (async) => {
      const g = await build('lazy', 'double');
      const { state, iterable } = source(inputs(50), async);
      const concurrency = 4;
      let consumed = 0;
      for await (const _ of g.map(iterable, { concurrency })) {
        consumed++;
        // Never more than `concurrency` inputs read beyond the results handed out.
        expect(state.read - consumed).toBeLessThanOrEqual(concurrency);
        if (consumed === 10) {
          // A consumer that stops pulling stops the reading once the window is full.
          await new Promise((resolve) => setImmediate(resolve));
          expect(state.read).toBe(consumed + concurrency);
          await new Promise((resolve) => setImmediate(resolve));
          expect(state.read).toBe(consumed + concurrency);
        }
      }
      expect(consumed).toBe(50);
    });
  });

  describe('ending early', () => {
    it('ends with the first failure, its input index, and starts nothing after it', async () => {
      const g = await build('fails', 'fails_at');
      const seen = watch(g);
      const yielded: number[] = [];
      const error = await rejectionOf(
        (async () => {
          for await (const result of g.map(inputs(20, { failAt: 5 }), { concurrency: 3 })) {
            yielded.push(result.outputs.fails_at as number);
          }
        })(),
      );
      expect(error).toBeInstanceOf(GraphExecutionError);
      const e = error as GraphExecutionError;
      expect(e.index).toBe(5);
      expect(e.node).toBe('fails_at');
      expect(e.graph).toBe('fails');
      expect(e.message).toContain('map() input 5');
      expect((e.cause as Error).message).toBe('input 5 is bad');
      expect(yielded).toStrictEqual([0, 1, 2, 3, 4]);
      expect(startsAfter(seen.log, 'fail 5')).toStrictEqual([]);
      // Executions in flight were awaited before the iteration ended.
      expect(seen.inFlight()).toBe(0);
    });

    it('awaits executions in flight before ending with a failure', async () => {
      const g = await build('fails_while_gated', 'gated_or_fails');
      const seen = watch(g);
      const { sab, view } = cells();
      const iteration = g.map(
        [
          { i: 0, fail: true },
          { i: 1, sab },
          { i: 2, sab },
        ],
        { concurrency: 2 },
      );
      let settled = false;
      const ended = rejectionOf(iteration.next()).finally(() => (settled = true));
      await seen.reached('fail 0');
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false); // input 1 is still in flight behind its closed gate
      signal(view, 1);
      const error = (await ended) as GraphExecutionError;
      expect(error.index).toBe(0);
      expect(seen.inFlight()).toBe(0);
      expect(seen.log).toContain('done 1');
      expect(seen.log).not.toContain('start 2');
    });

    it('unordered, still yields the executions that succeed after a failure, then ends with it', async () => {
      const g = await build('fails_unordered', 'gated_or_fails');
      const seen = watch(g);
      const { sab, view } = cells();
      const iteration = g.map(
        [
          { i: 0, sab },
          { i: 1, fail: true },
          { i: 2, sab },
        ],
        {
          concurrency: 2,
          ordered: false,
        },
      );
      const first = iteration.next();
      await seen.reached('fail 1');
      signal(view, 0); // input 0 finishes after input 1 failed
      expect((await first).value?.outputs).toStrictEqual({ gated_or_fails: 0 });
      const error = (await rejectionOf(iteration.next())) as GraphExecutionError;
      expect(error).toBeInstanceOf(GraphExecutionError);
      expect(error.index).toBe(1);
      expect(seen.log).not.toContain('start 2');
    });

    it.each([false, true])(
      'leaving the loop stops reading and calls the source iterator’s return() (async source: %s)',
      async (async) => {
        const g = await build('leave', 'double');
        const seen = watch(g);
        const { state, iterable } = source(inputs(100), async);
        let consumed = 0;
        for await (const _ of g.map(iterable, { concurrency: 4 })) {
          if (++consumed === 3) break;
        }
        expect(state.returned).toBe(true);
        expect(state.read).toBeLessThanOrEqual(3 + 4);
        expect(seen.inFlight()).toBe(0);
        // An async read pending when the loop ended is dropped, never started.
        const starts = seen.log.filter((e) => e.startsWith('start')).length;
        expect(starts).toBeLessThanOrEqual(state.read);
        expect(starts).toBeGreaterThanOrEqual(state.read - 1);
      },
    );

    it('an abort ends the iteration with the signal’s reason; nothing starts after it', async () => {
      const g = await build('abort', 'double');
      const seen = watch(g);
      const { state, iterable } = source(inputs(100));
      const controller = new AbortController();
      const reason = new Error('stop now');
      let consumed = 0;
      const error = await rejectionOf(
        (async () => {
          for await (const _ of g.map(iterable, { concurrency: 4, signal: controller.signal })) {
            if (++consumed === 5) {
              seen.log.push('abort');
              controller.abort(reason);
            }
          }
        })(),
      );
      expect(error).toBe(reason);
      expect(consumed).toBe(5);
      expect(startsAfter(seen.log, 'abort')).toStrictEqual([]);
      expect(state.returned).toBe(true);
      expect(seen.inFlight()).toBe(0);
    });

    it('an already aborted signal ends the iteration before anything is read', async () => {
      const g = await build('aborted', 'double');
      const { state, iterable } = source(inputs(10));
      const error = await rejectionOf(collect(g.map(iterable, { signal: AbortSignal.abort() })));
      expect((error as Error).name).toBe('AbortError');
      expect(state.read).toBe(0);
    });

    it('ends with the source’s own error when the source throws, after executions in flight', async () => {
      const g = await build('source_throws', 'double');
      const seen = watch(g);
      const broken = new Error('source broke');
      async function* produce() {
        yield { i: 0 };
        yield { i: 1 };
        throw broken;
      }
      const yielded: unknown[] = [];
      const error = await rejectionOf(
        (async () => {
          for await (const result of g.map(produce())) yielded.push(result.outputs.double);
        })(),
      );
      expect(error).toBe(broken);
      // As a plain loop would: the inputs read before the source broke are all processed first.
      expect(yielded).toStrictEqual([0, 2]);
      expect(seen.inFlight()).toBe(0);
    });

    it('ends with an InvalidArgumentError when the source returns something that is not an iterator result', async () => {
      const g = await build('bad_iterator', 'double');
      const bad = { [Symbol.iterator]: () => ({ next: () => 42 }) } as unknown as Iterable<Input>;
      const error = await rejectionOf(collect(g.map(bad)));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain('got 42');
    });

    it('passes on an error that is not a node failure as it is (a closed graph)', async () => {
      const g = await build('closed', 'double');
      await g.close();
      const error = await rejectionOf(collect(g.map(inputs(3))));
      expect(error).toBeInstanceOf(ExecutorClosedError);
      expect((error as { index?: unknown }).index).toBeUndefined();
    });
  });
});

describe('map() checks its arguments at once', () => {
  const graph = () => buildGraph('checked', 'inline', { nodes, graph: { double: {} } });

  it.each([
    ['concurrency 0', { concurrency: 0 }, "'concurrency' must be a positive integer, got 0"],
    ['a negative concurrency', { concurrency: -2 }, "'concurrency' must be a positive integer, got -2"],
    ['a fractional concurrency', { concurrency: 1.5 }, "'concurrency' must be a positive integer, got 1.5"],
    ['a string concurrency', { concurrency: '4' }, "'concurrency' must be a positive integer, got '4'"],
    ['a non-boolean ordered', { ordered: 'yes' }, "'ordered' must be a boolean, got 'yes'"],
    ['a signal that is not an AbortSignal', { signal: { aborted: false } }, "'signal' must be an AbortSignal"],
    ['an unknown option', { concurency: 4 }, "unknown option 'concurency'"],
    ['options that are not an object', 'fast', 'expected an options object'],
  ])('rejects %s with a ConfigurationError naming the graph', async (_what, options, message) => {
    const g = await graph();
    const error = (() => {
      try {
        g.map([], options as never);
      } catch (caught) {
        return caught;
      }
      throw new Error('map() accepted bad options');
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain("graph 'checked': map()");
    expect((error as Error).message).toContain(message);
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['a plain object', { i: 1 }],
  ])('rejects a source that is %s with an InvalidArgumentError', async (_what, bad) => {
    const g = await graph();
    expect(() => g.map(bad as never)).toThrow(InvalidArgumentError);
    expect(() => g.map(bad as never)).toThrow(/takes an iterable or async iterable of inputs/);
  });

  it('rejects a non-object input of a reactor-bound graph as execute() does, without an index', async () => {
    const Sources = reactor({ name: 'map_sources', accumulators: ['alpha'] });
    const g = await buildGraph('cache_graph', 'inline', {
      nodes,
      reactor: Sources,
      graph: { double: { inputs: ['alpha'] } },
    });
    const error = await rejectionOf(collect(g.map([{ alpha: { i: 1 } }, 5])));
    expect(error).toBeInstanceOf(InvalidArgumentError);
  });
});
