/**
 * What the pool needs of a unit it runs: the pool executor's units (`pool-executor.ts`) and
 * batches of firings (`firing-batch.ts`) both implement it, and the pool's parts (gate, slots,
 * fault attribution, time limits) see nothing else of them.
 */
import type { Culprit } from '../model/errors.js';
import type { FiringsReply, FiringsRequest, UnitReply, UnitRequest } from './protocol.js';

/** The two kinds of pool unit, which travel in messages of their own kind (see {@link PoolUnit.lot}). */
export const UnitLot = {
  /** A unit of a graph run: one or more fused nodes. */
  Nodes: 'nodes',
  /** A batch of a reactor's queued firings, each a whole traversal. */
  Firings: 'firings',
} as const;
export type UnitLot = (typeof UnitLot)[keyof typeof UnitLot];

/** A ready unit as the pool runs it. */
export interface PoolUnit {
  /** Older runs first. */
  readonly seq: number;
  /** Longer remaining path first. */
  readonly rank: number;
  /** Measured cheap: may be pipelined behind other light work. */
  readonly light: boolean;
  /**
   * What it may share one worker message with: a node unit with other node units, a batch of
   * firings with other batches of firings (of other keys or reactors), never the two mixed.
   */
  readonly lot: UnitLot;
  /** Estimated cost in ms (NaN until measured): bounds what one batch carries. */
  readonly cost: number;
  /** The node's time limit (units with one are never fused). */
  readonly timeoutMs: number | undefined;
  /** True once the run failed: the unit is dropped instead of started. */
  readonly cancelled: boolean;
  /** Times the unit went back to the queue because its worker died before it started. */
  redispatched: number;
  /** The worker message, for the unit table's `slot`; `token` tells this dispatch's late reply apart. */
  request(slot: number, token?: number): UnitRequest | FiringsRequest;
  /** Node `offset` of the unit, as errors name it. */
  culprit(offset: number): Culprit;
  /**
   * Takes the unit's reply; may return what is left to do once the pool has started what is
   * ready (a batch of firings reports its firings then, with the next batch already sent).
   */
  settle(reply: UnitReply | FiringsReply): void | (() => void);
  /** Node `offset` failed with `cause` (closed pool, timeout, worker death). */
  fail(offset: number, cause: unknown): void;
}

/**
 * The pool's queue order: older run first, then longest remaining path first, so a burst of
 * cheap side branches never delays the critical path.
 */
export function runsBefore(a: PoolUnit, b: PoolUnit): boolean {
  return a.seq !== b.seq ? a.seq < b.seq : a.rank > b.rank;
}
