/** A fake pool unit for the pool's pure parts: its nodes are named `<name>.<offset>`. */
import { UnitLot, type PoolUnit } from '../../../src/exec/pool-unit.js';

export function poolUnit(name: string, fields: Partial<PoolUnit> = {}): PoolUnit {
  return {
    seq: 0,
    rank: 0,
    light: true,
    lot: UnitLot.Nodes,
    cost: 0.01,
    timeoutMs: undefined,
    cancelled: false,
    redispatched: 0,
    request: () => {
      throw new Error('not sent anywhere');
    },
    culprit: (offset) => ({ graph: 'g', node: `${name}.${offset}` }),
    settle: () => {},
    fail: () => {},
    ...fields,
  };
}
