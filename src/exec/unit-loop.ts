/**
 * The loop that runs one ready unit (one node, or a fused chain): shared by the inline executor
 * and the pool worker, so both call nodes, time them, hand values on and report outcomes alike.
 *
 * It stays synchronous while the nodes are, so a unit of synchronous nodes costs no promise, and
 * continues asynchronously from the first node that returns a thenable. Between nodes, and after
 * the last, the runner's `handoff` applies the value rules (a copy for the next node, a check
 * before the result leaves the thread); a refused value ends the unit as `refused`.
 */
import { performance } from 'node:perf_hooks';
import type { NodeFunction } from '../model/topology.js';
import { isThenable } from '../model/own-properties.js';
import { ValueFault } from '../model/value-fault.js';

/** What runs the unit's nodes for one executor; `U` is its per-unit context, `R` its outcome. */
export interface UnitRunner<U, R> {
  /** The function of node `k` of the unit. */
  fn(unit: U, k: number): NodeFunction;
  /** Node `k` is about to be called; false when its run has failed meanwhile (start nothing more). */
  enter(unit: U, k: number): boolean;
  /** Node `k`'s synchronous part returned or threw. */
  leave(unit: U, k: number): void;
  /** Waits for node `k`'s thenable (the inline executor races it against the node's time limit). */
  settle(unit: U, k: number, pending: PromiseLike<unknown>): PromiseLike<unknown>;
  /** What node `k`'s result becomes: the next node's argument or (`last`) the unit's result; or a fault. */
  handoff(unit: U, k: number, value: unknown, last: boolean): unknown;
  done(unit: U, value: unknown, durations: number[]): R;
  /** Node `k` threw (or its thenable rejected) `error`. */
  failed(unit: U, k: number, durations: number[], error: unknown): R;
  /** Node `k` returned a value the rules refuse. */
  refused(unit: U, k: number, durations: number[], fault: ValueFault): R;
  /** The run failed elsewhere before node `k` started. */
  stopped(unit: U, k: number, durations: number[]): R;
}

/** What an untimed unit reports: no durations (never written to). */
const kUntimed: number[] = [];

/**
 * Runs a unit of `length` nodes, the head called with `args`. Untimed (`timed` false), it reads
 * no clock and reports no durations: the inline executor times nodes only for a trace.
 */
export function runUnit<U, R>(
  runner: UnitRunner<U, R>,
  unit: U,
  length: number,
  args: readonly unknown[],
  timed = true,
): R | Promise<R> {
  const durations: number[] = timed ? [] : kUntimed;
  let value: unknown;
  for (let k = 0; k < length; k++) {
    if (!runner.enter(unit, k)) return runner.stopped(unit, k, durations);
    const start = timed ? performance.now() : 0;
    try {
      const fn = runner.fn(unit, k);
      value = k === 0 ? fn(...args) : fn(value);
    } catch (error) {
      runner.leave(unit, k);
      if (timed) durations.push(performance.now() - start);
      return runner.failed(unit, k, durations, error);
    }
    runner.leave(unit, k);
    if (isThenable(value)) return continueAsync(runner, unit, length, k, start, value, durations, timed);
    if (timed) durations.push(performance.now() - start);
    value = runner.handoff(unit, k, value, k === length - 1);
    if (value instanceof ValueFault) return runner.refused(unit, k, durations, value);
  }
  return runner.done(unit, value, durations);
}

/** The rest of a unit from node `from`, whose thenable is `pending`. */
async function continueAsync<U, R>(
  runner: UnitRunner<U, R>,
  unit: U,
  length: number,
  from: number,
  start: number,
  pending: PromiseLike<unknown>,
  durations: number[],
  timed: boolean,
): Promise<R> {
  let value: unknown;
  for (let k = from; k < length; k++) {
    let begin = start;
    if (k > from) {
      if (!runner.enter(unit, k)) return runner.stopped(unit, k, durations);
      begin = timed ? performance.now() : 0;
    }
    try {
      if (k === from) {
        value = await runner.settle(unit, k, pending);
      } else {
        const result = runner.fn(unit, k)(value);
        runner.leave(unit, k);
        value = isThenable(result) ? await runner.settle(unit, k, result) : result;
      }
    } catch (error) {
      runner.leave(unit, k);
      if (timed) durations.push(performance.now() - begin);
      return runner.failed(unit, k, durations, error);
    }
    if (timed) durations.push(performance.now() - begin);
    value = runner.handoff(unit, k, value, k === length - 1);
    if (value instanceof ValueFault) return runner.refused(unit, k, durations, value);
  }
  return runner.done(unit, value, durations);
}
