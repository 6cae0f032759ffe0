/**
 * Tracing with OpenTelemetry (`new Runtime({ tracing: true })`), against the 2.x SDK (the line
 * that supports Node 20): a span per graph run of a firing, a child span per node that ran
 * (timed by the duration measured where it ran), errors on the span, and trace context carried
 * through `host.push` so a graph feeding another reactor is one trace. On both executors.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { passthroughAccumulator, reactor } from 'cloaca';
import { executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';

const nodes = fileURLToPath(new URL('./fixtures/ops.nodes.mjs', import.meta.url));
const { runtime, graph } = useRuntimes();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});
afterEach(() => exporter.reset());

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
const childrenOf = (parent: ReadableSpan): ReadableSpan[] =>
  spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  /** Graphs on the default pool, which the runtime replaces with its own (whose workers reach `host`). */
  const build = (name: string, options: Parameters<typeof graph>[2]) =>
    graph(name, executor, { nodes, ...options }, { sharedPool: true });

  it('one span per graph run with a child span per node that ran; a failed run has an ERROR span', async () => {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a], strategy: 'sequential' });
    const g = await build(unique('g'), {
      reactor: R,
      graph: { decide: { inputs: [a], routes: { Big: 'big', Small: 'small' } }, big: {}, small: {} },
    });
    const f = await build(unique('f'), { reactor: R, graph: { maybe_fail: { inputs: [a] } } });
    const rt = runtime({ tracing: true });
    rt.register(passthroughAccumulator({ name: a }), R, g, f);
    await rt.start();
    rt.push(a, { value: 20, n: 1 });
    rt.push(a, { value: 1, n: 2, fail: true });
    await rt.idle();

    const fires = named(`fire ${g.name}`);
    expect(fires.length).toBe(2);
    const [first, second] = fires;
    expect(first!.attributes).toMatchObject({
      'cloaca.reactor': name,
      'cloaca.graph': g.name,
      'cloaca.manual': false,
      'cloaca.ok': true,
    });
    expect(
      childrenOf(first!)
        .map((s) => s.name)
        .sort(),
    ).toStrictEqual(['node big', 'node decide']);
    expect(
      childrenOf(second!)
        .map((s) => s.name)
        .sort(),
    ).toStrictEqual(['node decide', 'node small']);
    for (const child of childrenOf(first!)) {
      expect(child.spanContext().traceId).toBe(first!.spanContext().traceId);
      expect(child.attributes).toMatchObject({ 'cloaca.graph': g.name, 'thread.id': expect.any(Number) });
    }
    // Separate firings are separate traces.
    expect(second!.spanContext().traceId).not.toBe(first!.spanContext().traceId);

    const failed = named(`fire ${f.name}`).find((s) => s.status.code === SpanStatusCode.ERROR)!;
    expect(failed.status.message).toMatch(/asked to fail at 2/);
    expect(failed.attributes['cloaca.ok']).toBe(false);
    expect(failed.events.some((e) => e.name === 'exception')).toBe(true);

    await rt.reactor(name).forceFire();
    expect(named(`fire ${g.name}`).at(-1)!.attributes['cloaca.manual']).toBe(true);
  });

  it.each(['latest', 'sequential'] as const)(
    'a node that host.pushes into a %s reactor carries its trace: the firing it causes is a child of the pushing one',
    async (strategy) => {
      const a = unique('a');
      const up = reactor({ name: unique('up'), accumulators: [a], strategy: 'sequential' });
      const down = reactor({ name: unique('down'), accumulators: ['b_in'], strategy });
      const feeder = await build(unique('feeder'), { reactor: up, graph: { feed: { inputs: [a] } } });
      const receiver = await build(unique('receiver'), { reactor: down, graph: { downstream: { inputs: ['b_in'] } } });
      const rt = runtime({ tracing: true });
      rt.register(
        passthroughAccumulator({ name: a }),
        passthroughAccumulator({ name: 'b_in' }),
        up,
        down,
        feeder,
        receiver,
      );
      await rt.start();
      const received = new Promise<void>((resolve) => rt.on('fire', (r) => r.graph === receiver.name && resolve()));
      rt.push(a, { n: 5 });
      await received;
      await rt.idle();

      const pushing = named(`fire ${feeder.name}`);
      const caused = named(`fire ${receiver.name}`);
      expect([pushing.length, caused.length]).toStrictEqual([1, 1]);
      expect(caused[0]!.spanContext().traceId).toBe(pushing[0]!.spanContext().traceId);
      expect(caused[0]!.parentSpanContext?.spanId).toBe(pushing[0]!.spanContext().spanId);
      expect(childrenOf(caused[0]!).map((s) => s.name)).toStrictEqual(['node downstream']);
    },
  );
});

describe('tracing is off by default', () => {
  it('a runtime without tracing: true makes no spans', async () => {
    const a = unique('a');
    const R = reactor({ name: unique('r'), accumulators: [a] });
    const g = await graph(unique('g'), 'inline', { nodes, reactor: R, graph: { seen: { inputs: [a] } } });
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), R, g);
    await rt.start();
    rt.push(a, { n: 1 });
    await rt.idle();
    expect(spans()).toStrictEqual([]);
  });
});
