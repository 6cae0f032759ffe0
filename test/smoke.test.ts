import { describe, expect, it } from 'vitest';
import { ComputationGraphBuilder } from 'cloaca';

describe('smoke', () => {
  it('runs an inline graph', async () => {
    const g = await new ComputationGraphBuilder('g', { nodes: { a: (x: number) => x + 1 }, graph: { a: {} } }).build();
    expect((await g.execute(1)).outputs).toEqual({ a: 2 });
  });
});
