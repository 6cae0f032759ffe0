/**
 * Fault attribution. Units share workers (pipelined, or async), so a worker that dies takes more
 * than its culprit with it. Piscina says only that a task failed; the unit table says whether
 * each unit had started, on which worker, and which node was inside its synchronous part. From
 * that, when a worker dies or is terminated:
 * - the unit that caused it fails with `NodeTimeoutError` (it ran past its limit) or
 *   `WorkerExitError` (it ended the worker);
 * - units that had started on that worker fail with `WorkerExitError` naming the culprit;
 * - units that had not started yet are dispatched again, up to {@link kMaxDispatches} times.
 *
 * Everything here only decides; the pool fails, re-queues and terminates.
 */
import { NodeTimeoutError, WorkerExitError } from '../model/errors.js';
import type { PoolUnit } from './pool-unit.js';
import type { RunningUnit } from './pool-slots.js';

/** A unit whose workers keep dying before it starts is failed after this many dispatches. */
export const kMaxDispatches = 8;
/** Deaths remembered for units whose failure is still on its way. */
const kDeathsKept = 64;

/** Why a worker went away, kept until every unit it held has been failed or re-dispatched. */
export interface WorkerDeath {
  readonly thread: number;
  /** The unit (and its node) that caused it, when known. */
  readonly unit: PoolUnit | null;
  readonly offset: number;
  /** A timeout (the pool terminated the worker) or the worker's own end. */
  readonly timeout: boolean;
  readonly detail: string;
}

/** What becomes of a unit lost with its task or its worker. */
export type FaultDecision =
  | { readonly action: 'retry' }
  | {
      readonly action: 'fail';
      /**
       * `culprit`: it caused the death; `bystander`: it had started on the worker that died;
       * `exhausted`: it never started, and its workers died {@link kMaxDispatches} times.
       */
      readonly as: 'culprit' | 'bystander' | 'exhausted';
      /** The node of the unit to fail. */
      readonly offset: number;
      readonly error: Error;
    };

/**
 * Decides what `unit` becomes after Piscina rejected its task with `error`. `death` is why its
 * worker went away, null when the unit had not started on one; `running` is the slot's `running`
 * cell (offset + 1 of the node inside its synchronous part, or 0) when the unit was lost.
 */
export function decideFault(unit: PoolUnit, error: unknown, death: WorkerDeath | null, running: number): FaultDecision {
  if (death === null) {
    // Nothing of it ran: run it again, unless its workers keep dying before starting it.
    if (unit.redispatched + 1 < kMaxDispatches) return { action: 'retry' };
    const detail = `it was dispatched ${kMaxDispatches} times and its worker died each time before starting it: ${messageOf(error)}`;
    return {
      action: 'fail',
      as: 'exhausted',
      offset: 0,
      error: new WorkerExitError(unit.culprit(0).node, detail, { cause: error }),
    };
  }
  if (death.unit === unit) {
    const self = unit.culprit(death.offset);
    const failure = death.timeout
      ? new NodeTimeoutError(self.node, unit.timeoutMs!)
      : new WorkerExitError(self.node, death.detail, { culprit: self, cause: error });
    return { action: 'fail', as: 'culprit', offset: death.offset, error: failure };
  }
  // It had started there: fail it, naming the node of this unit it was in.
  const offset = running > 0 ? running - 1 : 0;
  const culprit = death.unit === null ? null : death.unit.culprit(death.offset);
  return {
    action: 'fail',
    as: 'bystander',
    offset,
    error: new WorkerExitError(unit.culprit(offset).node, death.detail, { culprit, cause: error }),
  };
}

/**
 * Why worker `thread` died on its own (not terminated for a time limit), from the unit that was
 * inside its synchronous part at that moment, if one was.
 */
export function workerDeath(thread: number, error: unknown, running: RunningUnit | null): WorkerDeath {
  if (running === null) {
    const detail = `${messageOf(error)} (no node was running on it at that moment, so none can be blamed)`;
    return { thread, unit: null, offset: 0, timeout: false, detail };
  }
  return { thread, unit: running.unit, offset: running.offset, timeout: false, detail: messageOf(error) };
}

/** Why worker `thread` was terminated: `unit` ran past its `timeoutMs` limit. */
export function timeoutDeath(thread: number, unit: PoolUnit, timeoutMs: number): WorkerDeath {
  const node = unit.culprit(0);
  return {
    thread,
    unit,
    offset: 0,
    timeout: true,
    detail: `node '${node.node}' of graph '${node.graph}' ran past its ${timeoutMs} ms limit and the worker was terminated`,
  };
}

/**
 * The latest deaths by thread. A death is recorded when the first of its units is failed (or when
 * the pool terminates the worker), while the slots still show who was running; its other units,
 * failed later, are told the same.
 */
export class DeathLog {
  readonly #deaths = new Map<number, WorkerDeath>();

  /** The death recorded for worker `thread`, if it is still kept. */
  get(thread: number): WorkerDeath | undefined {
    return this.#deaths.get(thread);
  }

  /** Records `death`, forgetting the oldest beyond the most kept. */
  remember(death: WorkerDeath): void {
    this.#deaths.set(death.thread, death);
    if (this.#deaths.size > kDeathsKept) this.#deaths.delete(this.#deaths.keys().next().value!);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'it stopped while sending a result back';
}
