/**
 * The process default pool: the pool a pool graph binds to when it executes without a runtime
 * and without a `pool` option of its own. It is created on first use, sized
 * `os.availableParallelism()`, shared by every such graph, and closed when the last of them
 * lets go of it (`graph.close()`); its idle workers are unref'd, so a script that never closes
 * its graphs still exits.
 */
import { NodePool } from './node-pool.js';

let pool: NodePool | null = null;
let holders = 0;

/** A hold on a pool; `release()` gives it back once. */
export interface PoolLease {
  readonly pool: NodePool;
  release(): Promise<void>;
}

/** Takes a hold on the process default pool, creating it if needed. */
export function leaseDefaultPool(): PoolLease {
  if (pool === null || pool.closed) {
    pool = new NodePool();
    holders = 0;
  }
  const held = pool;
  holders++;
  let released = false;
  return {
    pool: held,
    async release() {
      if (released) return;
      released = true;
      if (held !== pool || --holders > 0) return;
      pool = null;
      await held.close();
    },
  };
}
