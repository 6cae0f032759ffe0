/**
 * Value semantics (contract 3.1): a value behaves as if it were structured-cloned at every node
 * boundary, identically on the inline executor, the pool with fused chains and the pool without.
 * Also the faults of section 5 that come from values: a too-deep value or a throwing getter fails
 * the run cleanly, and an uncloneable `execute()` input is refused before anything runs.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  ComputationGraphBuilder,
  GraphExecutionError,
  TopologyError,
  UncloneableValueError,
  reactor,
  type Topology,
} from 'cloaca';
import { cells } from './support/cells.js';
import { fixture, rejectionOf, useGraphHarness } from './support/executors.js';
// The fixture's own describer: what the caller received is described exactly as a node would.
import { describeValues, makeValues, Matrix } from './fixtures/values.nodes.mjs';

const { buildGraph, pool } = useGraphHarness();
const nodes = fixture('values.nodes.mjs');
const Sources = reactor({ name: 'value_sources', accumulators: ['alpha', 'beta'] });

const variants = [
  { name: 'inline', executor: 'inline', fuse: true },
  { name: 'pool, fused', executor: 'pool', fuse: true },
  { name: 'pool, unfused', executor: 'pool', fuse: false },
] as const;

/** What `makeValues()` must look like wherever it arrives. */
const expected = {
  buffer: { isBuffer: true, text: '68656c6c6f' },
  map: [['k', { deep: [1] }]],
  set: [1, 'two'],
  date: '1970-01-02T00:00:00.000Z',
  regexp: '/ab+c/gi',
  bigint: '12345678901234567890',
  f64: [1.5, 2.5],
  i64: ['3'],
  error: {
    class: 'Error',
    name: 'QuoteError',
    message: 'bad quote',
    code: 'E_QUOTE',
    keys: ['code', 'name'],
    stackNamesMessage: true,
    cause: {
      class: 'RangeError',
      name: 'RangeError',
      message: 'spread out of range',
      code: null,
      keys: [],
      stackNamesMessage: true,
      cause: null,
    },
  },
  typeError: {
    class: 'TypeError',
    name: 'TypeError',
    message: 'wrong type',
    code: 'E_TYPE',
    keys: ['code'],
    stackNamesMessage: true,
    cause: null,
  },
  subclassed: {
    class: 'RangeError',
    name: 'RangeError',
    message: 'too wide',
    code: null,
    keys: [],
    stackNamesMessage: true,
    cause: null,
  },
  nestedBuffer: [1, 2],
};

describe.each(variants)('$name', ({ executor, fuse }) => {
  const build = (name: string, graph: Topology, extra: { reactor?: typeof Sources } = {}) =>
    buildGraph(name, executor, { nodes, graph, fuse, ...extra });

  describe('a node that mutates its argument changes nothing anyone else sees', () => {
    it('a cache input: not the sibling reading the same input, nor the caller', async () => {
      const g = await build(
        'mutate_input',
        { mutate_input: { inputs: ['alpha'] }, read_input: { inputs: ['alpha'] } },
        { reactor: Sources },
      );
      const input = { alpha: { read: 1, list: [1] } };
      const { outputs } = await g.execute(input);
      expect(outputs).toStrictEqual({ mutate_input: 'mutated', read_input: { read: 1, list: [1] } });
      expect(input).toStrictEqual({ alpha: { read: 1, list: [1] } });
    });

    it('an upstream value: not a sibling on another out-edge', async () => {
      const g = await build('mutate_arg', { src: { next: ['mutate_arg', 'read_arg'] }, mutate_arg: {}, read_arg: {} });
      const { outputs } = await g.execute();
      expect(outputs).toStrictEqual({ mutate_arg: 'mutated', read_arg: { read: 1, list: [1] } });
    });

    it('an upstream value: not the node that returned it and kept it (a chain)', async () => {
      const g = await build('keeper', { keeper: { next: 'bump' }, bump: {} });
      for (let i = 0; i < 4; i++) expect((await g.execute()).outputs).toStrictEqual({ bump: 2 });
    });

    it('an output: the caller mutating it does not reach the node that returned it', async () => {
      const g = await build('keeper_out', { keeper_out: {} });
      for (let i = 0; i < 4; i++) {
        const { outputs } = await g.execute();
        expect(outputs).toStrictEqual({ keeper_out: { count: 1 } });
        (outputs.keeper_out as { count: number }).count = 50;
      }
    });
  });

  describe('types arrive as the same types', () => {
    it('values a node makes: in the next node, after another hop, and in outputs', async () => {
      const described = await build('made', { make_values: { next: 'pass' }, pass: { next: 'inspect' }, inspect: {} });
      expect((await described.execute()).outputs.inspect).toStrictEqual(expected);
      const returned = await build('made_out', { make_values: { next: 'pass' }, pass: { next: 'pass_2' }, pass_2: {} });
      expect(describeValues((await returned.execute()).outputs.pass_2)).toStrictEqual(expected);
    });

    it('values in an execute() input: in the root, downstream, and in outputs', async () => {
      const described = await build('given', { pass: { next: 'inspect' }, inspect: {} });
      expect((await described.execute(makeValues())).outputs.inspect).toStrictEqual(expected);
      const returned = await build('given_out', { pass: { next: 'pass_2' }, pass_2: {} });
      expect(describeValues((await returned.execute(makeValues())).outputs.pass_2)).toStrictEqual(expected);
    });

    it('values in a cache input', async () => {
      const g = await build(
        'cached',
        { pass: { inputs: ['alpha'], next: 'inspect' }, inspect: {} },
        { reactor: Sources },
      );
      expect((await g.execute({ alpha: makeValues() })).outputs.inspect).toStrictEqual(expected);
    });
  });

  describe('class instances are refused, naming the path', () => {
    it('returned by a node (also mid-chain)', async () => {
      const g = await build('matrix', { make_matrix: { next: 'use_matrix' }, use_matrix: {} });
      const error = await rejectionOf(g.execute());
      expect(error).toBeInstanceOf(GraphExecutionError);
      const e = error as GraphExecutionError;
      expect(e.node).toBe('make_matrix');
      expect(e.cause).toBeInstanceOf(UncloneableValueError);
      const cause = e.cause as UncloneableValueError;
      expect({ node: cause.node, path: cause.path, valueType: cause.valueType }).toStrictEqual({
        node: 'make_matrix',
        path: 'value.m',
        valueType: 'Matrix',
      });
      expect(cause.message).toContain('value.m is an instance of class Matrix');
    });

    it('given in an execute() input', async () => {
      const g = await build('matrix_in', { use_matrix: {} });
      const error = await rejectionOf(g.execute({ m: new Matrix(1) }));
      expect(error).toBeInstanceOf(UncloneableValueError);
      expect((error as UncloneableValueError).path).toBe('inputs.m');
      expect((error as UncloneableValueError).graph).toBe('matrix_in');
    });
  });

  it('refuses an execute() input that cannot be cloned before any node runs, naming the path', async () => {
    const g = await build(
      'refused_input',
      { count_run: { inputs: ['beta'] }, read_alpha: { inputs: ['alpha'] } },
      { reactor: Sources },
    );
    const { sab, view } = cells();
    const error = await rejectionOf(g.execute({ beta: { sab }, alpha: { cb() {} } }));
    expect(error).toBeInstanceOf(UncloneableValueError);
    const e = error as UncloneableValueError;
    expect({ graph: e.graph, node: e.node, path: e.path, valueType: e.valueType }).toStrictEqual({
      graph: 'refused_input',
      node: undefined,
      path: 'inputs.alpha.cb',
      valueType: 'function',
    });
    expect(e.message).toContain('inputs.alpha.cb is a function');
    if (executor === 'pool') await vi.waitFor(() => expect(pool().stats).toMatchObject({ inFlight: 0, queued: 0 }));
    expect(Atomics.load(view, 0)).toBe(0);
    // The same graph with a good input runs.
    expect((await g.execute({ beta: { sab }, alpha: { ok: true } })).outputs).toStrictEqual({
      count_run: 'ran',
      read_alpha: 'object',
    });
  });

  describe('values that break a naive walk fail the run cleanly', () => {
    it('a 10,000-deep return value: UncloneableValueError naming the node', async () => {
      const g = await build('deep', { too_deep: { next: 'pass' }, pass: {} });
      const error = await rejectionOf(g.execute());
      expect(error).toBeInstanceOf(GraphExecutionError);
      const e = error as GraphExecutionError;
      expect(e.node).toBe('too_deep');
      expect(e.cause).toBeInstanceOf(UncloneableValueError);
      expect((e.cause as UncloneableValueError).valueType).toBe('too deep');
      expect((e.cause as UncloneableValueError).path).toMatch(/^value\.c\.c\.c/);
    });

    it('a getter that throws: UncloneableValueError naming the node, with the getter error as cause', async () => {
      const g = await build('getter', { throwing_getter: { next: 'pass' }, pass: {} });
      const error = await rejectionOf(g.execute());
      expect(error).toBeInstanceOf(GraphExecutionError);
      const e = error as GraphExecutionError;
      expect(e.node).toBe('throwing_getter');
      const cause = e.cause as UncloneableValueError;
      expect(cause).toBeInstanceOf(UncloneableValueError);
      expect({ path: cause.path, valueType: cause.valueType }).toStrictEqual({
        path: 'value.boom',
        valueType: 'throwing getter',
      });
      expect((cause.cause as Error).message).toBe('getter boom');
    });

    it('a 10,000-deep or getter-throwing execute() input is refused before anything runs', async () => {
      const g = await build('deep_in', { pass: {} });
      const deep: Record<string, unknown> = {};
      let at = deep;
      for (let i = 0; i < 10_000; i++) at = at.c = {};
      const tooDeep = await rejectionOf(g.execute(deep));
      expect(tooDeep).toBeInstanceOf(UncloneableValueError);
      expect((tooDeep as UncloneableValueError).valueType).toBe('too deep');
      const getter = await rejectionOf(
        g.execute({
          get boom() {
            throw new Error('input getter boom');
          },
        }),
      );
      expect(getter).toBeInstanceOf(UncloneableValueError);
      expect((getter as UncloneableValueError).path).toBe('inputs.boom');
      expect(((getter as UncloneableValueError).cause as Error).message).toBe('input getter boom');
    });
  });
});

describe('sharedValues: values handed over without copies (inline executor, opt-in)', () => {
  it('gives a node the very objects others hold, and its result goes on as it is', async () => {
    const input = { quote: { value: 1 } };
    let received: unknown;
    let returned: unknown;
    let next: unknown;
    const g = await new ComputationGraphBuilder('shared_values', {
      nodes: {
        first: (context: unknown) => {
          received = context;
          return (returned = { value: 2 });
        },
        second: (value: unknown) => (next = value),
      },
      graph: { first: { next: 'second' }, second: {} },
      sharedValues: true,
    }).build();
    const { outputs } = await g.execute(input);
    expect(received).toBe(input);
    expect(next).toBe(returned);
    expect(outputs.second).toBe(returned);
    await g.close();
  });

  it('copies by default: the same graph without the option gives every reader its own copy', async () => {
    const input = { quote: { value: 1 } };
    let received: unknown;
    const g = await new ComputationGraphBuilder('copied_values', {
      nodes: { only: (context: unknown) => (received = context) },
      graph: { only: {} },
    }).build();
    const { outputs } = await g.execute(input);
    expect(received).not.toBe(input);
    expect(received).toStrictEqual(input);
    expect(outputs.only).not.toBe(received);
    await g.close();
  });

  it('still refuses a result that could not cross a thread, naming the node', async () => {
    const g = await new ComputationGraphBuilder('shared_refusal', {
      nodes: { leaky: () => ({ cb: () => 1 }) },
      graph: { leaky: {} },
      sharedValues: true,
    }).build();
    const error = await rejectionOf(g.execute());
    expect(error).toBeInstanceOf(GraphExecutionError);
    expect((error as GraphExecutionError).node).toBe('leaky');
    expect((error as GraphExecutionError).cause).toBeInstanceOf(UncloneableValueError);
    expect(((error as GraphExecutionError).cause as UncloneableValueError).path).toBe('value.cb');
    await g.close();
  });

  it('is refused on the pool, where every value crosses a thread, and when it is not a boolean', async () => {
    const onPool = new ComputationGraphBuilder('shared_pool', {
      nodes,
      graph: { pass: {} },
      executor: 'pool',
      sharedValues: true,
    });
    await expect(onPool.build()).rejects.toThrow(
      /graph 'shared_pool': 'sharedValues' applies to the inline executor only/,
    );
    await expect(onPool.build()).rejects.toBeInstanceOf(TopologyError);
    const notBoolean = new ComputationGraphBuilder('shared_yes', {
      nodes: { pass: (x: unknown) => x },
      graph: { pass: {} },
      sharedValues: 'yes' as unknown as boolean,
    });
    await expect(notBoolean.build()).rejects.toThrow(/'sharedValues' must be a boolean, got 'yes'/);
  });
});
