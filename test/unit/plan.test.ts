/**
 * The compiled plan (src/model/plan.ts): levels by longest path, argument slots of fan-in,
 * chain fusion and its limits, and the text round trip the workers receive.
 */
import { describe, expect, it } from 'vitest';
import { compilePlan, planFromText, planToText } from '../../src/model/plan.js';
import type { ReactorDeclaration } from '../../src/model/reactor-declaration.js';
import type { Topology } from '../../src/model/topology.js';
import { validateTopology } from '../../src/model/validate.js';

const reactor: ReactorDeclaration = {
  name: 'r',
  accumulators: ['alpha', 'beta'],
  mode: 'when_any',
  strategy: 'latest',
};

function plan(topology: Topology, fuse = false) {
  return compilePlan('g', validateTopology('g', topology, reactor), fuse);
}

describe('compilePlan', () => {
  it('puts each node at the length of its longest path from a root', () => {
    const p = plan({
      a: { inputs: ['alpha'], next: ['b', 'd'] },
      b: { next: 'c' },
      c: { next: 'd' },
      d: {},
    });
    expect(p.levels).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(p.nodes.map((n) => n.level)).toEqual([0, 1, 2, 3]);
    expect(p.roots).toEqual([0]);
    expect(p.terminals).toEqual(['d']);
    expect(p.maxWidth).toBe(1);
  });

  it('counts the widest level and orders fan-in slots by upstream position in the topology', () => {
    const p = plan({
      left: { inputs: ['alpha'], next: 'join' },
      right: { inputs: ['beta'], next: 'join' },
      join: {},
    });
    expect(p.levels[0]).toEqual(['left', 'right']);
    expect(p.maxWidth).toBe(2);
    const join = p.nodes[2]!;
    expect(join.inEdges.map((e) => [p.nodes[e.from]!.name, e.slot])).toEqual([
      ['left', 0],
      ['right', 1],
    ]);
  });

  it('keeps routing variants in declaration order on their edges', () => {
    const p = plan({ decide: { inputs: ['alpha'], routes: { up: 'u', down: 'd' } }, u: {}, d: {} });
    expect(p.nodes[0]!.variants).toEqual(['up', 'down']);
    expect(p.nodes[0]!.outEdges.map((e) => e.variant)).toEqual(['up', 'down']);
    expect(p.nodes[1]!.inEdges[0]!.variant).toBe('up');
  });

  it('fuses a linear chain into one unit only when asked', () => {
    const chain: Topology = { a: { inputs: ['alpha'], next: 'b' }, b: { next: 'c' }, c: {} };
    expect(plan(chain, false).units).toHaveLength(3);
    const fused = plan(chain, true);
    expect(fused.units).toHaveLength(1);
    expect(fused.units[0]).toMatchObject({ nodes: [0, 1, 2], head: 0, tail: 2 });
    expect(fused.nodes.map((n) => n.unit)).toEqual([0, 0, 0]);
  });

  it('does not fuse across a time limit, a fan-out, a fan-in or a cache input', () => {
    expect(plan({ a: { inputs: ['alpha'], next: 'b' }, b: { timeoutMs: 10 } }, true).units).toHaveLength(2);
    expect(plan({ a: { inputs: ['alpha'], next: ['b', 'c'] }, b: {}, c: {} }, true).units).toHaveLength(3);
    expect(
      plan({ a: { inputs: ['alpha'], next: 'c' }, b: { inputs: ['beta'], next: 'c' }, c: {} }, true).units,
    ).toHaveLength(3);
    expect(plan({ a: { inputs: ['alpha'], next: 'b' }, b: { inputs: ['beta'] } }, true).units).toHaveLength(2);
  });

  it('survives the text round trip unchanged, typed arrays included', () => {
    const p = plan({ a: { inputs: ['alpha'], next: ['b', 'c'] }, b: { next: 'c' }, c: {} }, true);
    const back = planFromText(planToText(p));
    expect(back).toEqual(p);
    expect(back.inDegree).toBeInstanceOf(Int32Array);
    expect([...back.topologicalOrder]).toEqual([...p.topologicalOrder]);
  });
});
