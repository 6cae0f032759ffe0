/** Fault attribution (src/exec/worker-fault.ts): what becomes of each unit a dead worker held. */
import { describe, expect, it } from 'vitest';
import { NodeTimeoutError, WorkerExitError } from '../../src/model/errors.js';
import {
  DeathLog,
  decideFault,
  kMaxDispatches,
  timeoutDeath,
  workerDeath,
  type FaultDecision,
} from '../../src/exec/worker-fault.js';
import { poolUnit } from './support/pool-units.js';

const crash = new Error('process.exit(3) called');

function failure(decision: FaultDecision): Extract<FaultDecision, { action: 'fail' }> {
  if (decision.action !== 'fail') throw new Error(`expected a failure, got ${decision.action}`);
  return decision;
}

describe('decideFault', () => {
  it('retries a unit that had not started, while dispatches are left', () => {
    const unit = poolUnit('a', { redispatched: kMaxDispatches - 2 });
    expect(decideFault(unit, crash, null, 0)).toEqual({ action: 'retry' });
  });

  it('fails a unit that never started once its workers died on every dispatch', () => {
    const unit = poolUnit('a', { redispatched: kMaxDispatches - 1 });
    const decision = failure(decideFault(unit, crash, null, 0));
    expect(decision.as).toBe('exhausted');
    expect(decision.offset).toBe(0);
    expect(decision.error).toBeInstanceOf(WorkerExitError);
    expect(decision.error.message).toBe(
      `the worker running node 'a.0' died: it was dispatched ${kMaxDispatches} times and its worker died each time before starting it: process.exit(3) called`,
    );
    expect((decision.error as WorkerExitError).culprit).toBeNull();
    expect(decision.error.cause).toBe(crash);
  });

  it('fails the unit that ended its worker as the culprit, at the node it was in', () => {
    const unit = poolUnit('a');
    const death = workerDeath(7, crash, { unit, offset: 2 });
    const decision = failure(decideFault(unit, crash, death, 3));
    expect(decision.as).toBe('culprit');
    expect(decision.offset).toBe(2);
    const error = decision.error as WorkerExitError;
    expect(error).toBeInstanceOf(WorkerExitError);
    expect(error.node).toBe('a.2');
    expect(error.culprit).toEqual({ graph: 'g', node: 'a.2' });
    expect(error.message).toBe("the worker running node 'a.2' died: process.exit(3) called");
  });

  it('fails the unit that ran past its limit with NodeTimeoutError', () => {
    const unit = poolUnit('slow', { timeoutMs: 50 });
    const decision = failure(decideFault(unit, crash, timeoutDeath(7, unit, 50), 1));
    expect(decision.as).toBe('culprit');
    expect(decision.offset).toBe(0);
    expect(decision.error).toBeInstanceOf(NodeTimeoutError);
    expect(decision.error.message).toBe("node 'slow.0' did not finish within 50 ms");
  });

  it('fails a unit that had started on the dead worker as a bystander, naming the culprit', () => {
    const culprit = poolUnit('bad');
    const bystander = poolUnit('b');
    const death = workerDeath(7, crash, { unit: culprit, offset: 1 });
    const decision = failure(decideFault(bystander, crash, death, 2));
    expect(decision.as).toBe('bystander');
    expect(decision.offset).toBe(1);
    const error = decision.error as WorkerExitError;
    expect(error.node).toBe('b.1');
    expect(error.culprit).toEqual({ graph: 'g', node: 'bad.1' });
    expect(error.message).toBe(
      "the worker running node 'b.1' was replaced because of node 'bad.1' of graph 'g': process.exit(3) called",
    );
  });

  it('blames the bystander at its first node when it was between synchronous parts', () => {
    const bystander = poolUnit('b');
    const death = timeoutDeath(7, poolUnit('slow'), 10);
    const decision = failure(decideFault(bystander, crash, death, 0));
    expect(decision.as).toBe('bystander');
    expect(decision.offset).toBe(0);
    expect((decision.error as WorkerExitError).culprit).toEqual({ graph: 'g', node: 'slow.0' });
    expect(decision.error.message).toContain("node 'slow.0' of graph 'g' ran past its 10 ms limit");
  });

  it('names no culprit when no node was running on the worker that died', () => {
    const bystander = poolUnit('b');
    const decision = failure(decideFault(bystander, crash, workerDeath(7, crash, null), 0));
    expect(decision.as).toBe('bystander');
    expect((decision.error as WorkerExitError).culprit).toBeNull();
    expect(decision.error.message).toBe(
      "the worker running node 'b.0' died: process.exit(3) called (no node was running on it at that moment, so none can be blamed)",
    );
  });

  it('says the worker stopped while answering when the error is not an Error', () => {
    const unit = poolUnit('a');
    const decision = failure(decideFault(unit, undefined, workerDeath(7, undefined, { unit, offset: 0 }), 1));
    expect(decision.error.message).toBe("the worker running node 'a.0' died: it stopped while sending a result back");
  });
});

describe('DeathLog', () => {
  it('keeps the latest death per thread and forgets the oldest beyond 64', () => {
    const log = new DeathLog();
    const unit = poolUnit('a');
    for (let thread = 1; thread <= 65; thread++) log.remember(timeoutDeath(thread, unit, thread));
    expect(log.get(1)).toBeUndefined();
    expect(log.get(2)?.thread).toBe(2);
    expect(log.get(65)?.timeout).toBe(true);
    log.remember(workerDeath(65, crash, null));
    expect(log.get(65)?.timeout).toBe(false);
  });
});
