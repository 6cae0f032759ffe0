/**
 * Build-time validation of a topology (src/model/validate.ts): every mistake is a TopologyError
 * naming the graph and the nodes at fault; a valid topology comes back normalised.
 */
import { describe, expect, it } from 'vitest';
import { thrown } from './support/thrown.js';
import { TopologyError } from '../../src/model/errors.js';
import type { ReactorDeclaration } from '../../src/model/reactor-declaration.js';
import type { Topology } from '../../src/model/topology.js';
import { validateTopology } from '../../src/model/validate.js';

const market: ReactorDeclaration = {
  name: 'market',
  accumulators: ['alpha', 'beta'],
  mode: 'when_any',
  strategy: 'latest',
};

const refusal = (topology: unknown, reactor: ReactorDeclaration | null = market): TopologyError =>
  thrown(TopologyError, () => validateTopology('g', topology as Topology, reactor));

describe('validateTopology', () => {
  it('normalises a valid topology in declaration order: targets as arrays, routes as pairs', () => {
    const nodes = validateTopology(
      'g',
      {
        entry: { inputs: ['alpha'], next: 'decide' },
        decide: { routes: { buy: 'buy', sell: ['sell', 'log'] } },
        buy: { timeoutMs: 50 },
        sell: {},
        log: {},
      },
      market,
    );
    expect(nodes.map((n) => n.name)).toEqual(['entry', 'decide', 'buy', 'sell', 'log']);
    expect(nodes[0]).toEqual({
      name: 'entry',
      inputs: ['alpha'],
      next: ['decide'],
      routes: null,
      timeoutMs: undefined,
    });
    expect(nodes[1]!.routes).toEqual([
      ['buy', ['buy']],
      ['sell', ['sell', 'log']],
    ]);
    expect(nodes[2]!.timeoutMs).toBe(50);
  });

  it('refuses a topology that is not an object, or is empty, naming the graph', () => {
    expect(refusal([]).message).toContain("graph 'g': 'graph' must be an object");
    const empty = refusal({});
    expect(empty.graph).toBe('g');
    expect(empty.nodes).toEqual([]);
    expect(empty.message).toContain('is empty');
  });

  it('refuses an unknown key, and next beside routes, naming the node', () => {
    const unknown = refusal({ a: { nxt: 'b' } });
    expect(unknown.nodes).toEqual(['a']);
    expect(unknown.message).toContain("unknown key 'nxt'");
    expect(refusal({ a: { next: 'b', routes: { x: 'b' } }, b: {} }).message).toContain("both 'next' and 'routes'");
  });

  it('refuses an edge to a node that does not exist', () => {
    const error = refusal({ a: { next: 'ghost' } });
    expect(error.nodes).toEqual(['a']);
    expect(error.message).toContain("edge to 'ghost'");
  });

  it('refuses a cycle and names its nodes in edge order', () => {
    const error = refusal({ a: { next: 'b' }, b: { next: 'c' }, c: { next: 'a' } });
    expect(error.nodes).toEqual(['a', 'b', 'c']);
    expect(error.message).toContain('a -> b -> c -> a');
  });

  it('refuses inputs that are not the reactor accumulators, and inputs without a reactor', () => {
    const foreign = refusal({ a: { inputs: ['gamma'] } });
    expect(foreign.message).toContain("reads input 'gamma'");
    expect(foreign.message).toContain('[alpha, beta]');
    expect(refusal({ a: { inputs: ['alpha'] } }, null).message).toContain('has no reactor');
  });

  it('refuses duplicated and empty targets, an empty routes object and a bad timeout, printing the value', () => {
    expect(refusal({ a: { next: ['b', 'b'] }, b: {} }).message).toContain("lists 'b' twice");
    expect(refusal({ a: { next: [] } }).message).toContain('non-empty array');
    expect(refusal({ a: { next: [''] } }).message).toContain('non-empty strings');
    expect(refusal({ a: { routes: {} } }).message).toContain("empty 'routes'");
    const timeout = refusal({ a: { timeoutMs: -5 } });
    expect(timeout.message).toContain("'timeoutMs' must be a positive number");
    expect(timeout.message).toContain('-5');
  });
});
