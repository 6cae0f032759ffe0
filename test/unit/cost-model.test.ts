/** The cost model (src/exec/cost-model.ts): measured costs, light units and critical-path ranks. */
import { describe, expect, it } from 'vitest';
import { CostModel } from '../../src/exec/cost-model.js';
import { compilePlan, type GraphPlan } from '../../src/model/plan.js';
import type { NormalizedNode } from '../../src/model/topology.js';

/** a -> b -> c, and a -> d: a long path and a side branch, one unit per node. */
function plan(): GraphPlan {
  const node = (name: string, next: string[]): NormalizedNode => ({
    name,
    inputs: [],
    next,
    routes: null,
    timeoutMs: undefined,
  });
  return compilePlan('g', [node('a', ['b', 'd']), node('b', ['c']), node('c', []), node('d', [])], false);
}

function unitOf(p: GraphPlan, name: string): number {
  return p.nodes.find((n) => n.name === name)!.unit;
}

function nodeOf(p: GraphPlan, name: string): number {
  return p.nodes.find((n) => n.name === name)!.index;
}

describe('CostModel', () => {
  it('ranks by node count before anything is measured, and counts every unit heavy', () => {
    const p = plan();
    const costs = new CostModel(p);
    expect(costs.rank(unitOf(p, 'a'))).toBe(3);
    expect(costs.rank(unitOf(p, 'b'))).toBe(2);
    expect(costs.rank(unitOf(p, 'd'))).toBe(1);
    expect(costs.isLight(unitOf(p, 'a'))).toBe(false);
    expect(costs.estimate(unitOf(p, 'a'))).toBeNaN();
  });

  it('counts an unmeasured node as the mean of the measured ones', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'a'), 2);
    costs.observe(nodeOf(p, 'd'), 4);
    // b and c count 3 ms each (the mean), so a's longest path is 2 + 3 + 3.
    expect(costs.rank(unitOf(p, 'a'))).toBe(8);
    expect(costs.rank(unitOf(p, 'd'))).toBe(4);
    expect(costs.estimate(unitOf(p, 'a'))).toBe(2);
  });

  it('prefers the branch that is measured slower, whatever its node count', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'b'), 0.1);
    costs.observe(nodeOf(p, 'c'), 0.1);
    costs.observe(nodeOf(p, 'd'), 10);
    expect(costs.rank(unitOf(p, 'd'))).toBeGreaterThan(costs.rank(unitOf(p, 'b')));
  });

  it('moves the estimate a fifth of the way toward each new sample', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'c'), 10);
    costs.observe(nodeOf(p, 'c'), 20);
    expect(costs.estimate(unitOf(p, 'c'))).toBeCloseTo(12);
  });

  it('moves by at most four times the estimate for one slow sample: a light unit held up once stays light', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'c'), 0.05);
    costs.observe(nodeOf(p, 'c'), 40); // one run held up 40 ms
    expect(costs.estimate(unitOf(p, 'c'))).toBeCloseTo(0.05 + 0.2 * (0.25 - 0.05));
    expect(costs.isLight(unitOf(p, 'c'))).toBe(true);
    // A unit that really became slow gets there in a few samples.
    for (let i = 0; i < 6; i++) costs.observe(nodeOf(p, 'c'), 40);
    expect(costs.isLight(unitOf(p, 'c'))).toBe(false);
  });

  it('follows a slow drift: a cold first call fades out of the estimate in steps each too small to count', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'c'), 0.2); // the first call: code not yet compiled, caches cold
    expect(costs.estimate(unitOf(p, 'c'))).toBeCloseTo(0.2);
    // Each step down is under 0.05 ms; together they take the estimate to the warm cost.
    for (let i = 0; i < 30; i++) costs.observe(nodeOf(p, 'c'), 0.005);
    expect(costs.estimate(unitOf(p, 'c'))).toBeLessThan(0.01);
    expect(costs.rank(unitOf(p, 'b'))).toBeLessThan(costs.rank(unitOf(p, 'd')) + 0.01);
  });

  it('counts a unit measured under 1 ms as light', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'c'), 0.5);
    costs.observe(nodeOf(p, 'd'), 1);
    expect(costs.isLight(unitOf(p, 'c'))).toBe(true);
    expect(costs.isLight(unitOf(p, 'd'))).toBe(false);
  });

  it('does not recompute for a move under the threshold', () => {
    const p = plan();
    const costs = new CostModel(p);
    costs.observe(nodeOf(p, 'c'), 10);
    expect(costs.estimate(unitOf(p, 'c'))).toBe(10);
    // 10 -> 10.04 moves less than a tenth: the estimates stay as they were.
    costs.observe(nodeOf(p, 'c'), 10.2);
    expect(costs.estimate(unitOf(p, 'c'))).toBe(10);
    // 10.04 -> 12.032 moves more: everything is recomputed.
    costs.observe(nodeOf(p, 'c'), 20);
    expect(costs.estimate(unitOf(p, 'c'))).toBeCloseTo(12.032);
  });
});
