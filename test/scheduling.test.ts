/**
 * The pool starts the ready unit with the longest remaining path first, whatever order the
 * topology lists the ready units in (issue: critical-path dispatch). Read from the order in which
 * nodes start (a shared counter), not from timings.
 */
import { describe, expect, it } from 'vitest';
import { cells } from './support/cells.js';
import { fixture, useGraphHarness } from './support/executors.js';

const { buildGraph } = useGraphHarness();
const sides = ['s1', 's2', 's3', 's4', 's5', 's6'];

/** root -> { the sides, then a chain c1..c4 } -> join: the chain is the critical path. */
function unbalanced(next: string[]) {
  return {
    root: { next },
    c1: { next: 'c2' },
    c2: { next: 'c3' },
    c3: { next: 'c4' },
    c4: { next: 'join' },
    ...Object.fromEntries(sides.map((s) => [s, { next: 'join' }])),
    join: {},
  };
}

describe('pool dispatch order', () => {
  for (const [label, next] of [
    ['listed after the short branches', [...sides, 'c1']],
    ['listed first', ['c1', ...sides]],
  ] as const) {
    it(`starts the critical path among the first units when it is ${label}, before and after costs are measured`, async () => {
      const g = await buildGraph(`unbalanced_${label.length}`, 'pool', {
        nodes: fixture('scheduling.nodes.mjs'),
        graph: unbalanced([...next]),
      });
      for (let round = 0; round < 2; round++) {
        const { sab } = cells();
        const { outputs } = await g.execute({ sab, chainMs: 20, sideMs: 5 });
        const { chain, sides: sideOrders } = outputs.join as { chain: number; sides: number[] };
        // Two threads: the chain's head must be one of the first two nodes to start.
        expect(chain).toBeLessThan(2);
        expect([chain, ...sideOrders].sort((a, b) => a - b)).toStrictEqual([0, 1, 2, 3, 4, 5, 6]);
      }
    });
  }
});
