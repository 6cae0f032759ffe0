/**
 * The Piscina worker entry. It runs dispatch units (one node, or a fused chain of nodes) from
 * modules it imports by URL once and caches for the life of the thread.
 *
 * Everything a node does is caught here and answered as data (see `src/exec/protocol.ts`): a
 * thrown error becomes an envelope that keeps its class name and own properties, and a return
 * value that structured clone would refuse is reported instead of being handed to Piscina's
 * `postMessage`, where it would kill this thread.
 */
import { threadId } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { move as piscinaMove, transferableSymbol, valueSymbol } from 'piscina';
import { toErrorEnvelope } from '../src/exec/error-envelope.js';
import { importNodeModule, nodeFunctions } from '../src/exec/module-loader.js';
import type { DescribeReply, UnitReply, UnitTask, WorkerTask } from '../src/exec/protocol.js';
import { findUncloneable, isThenable } from '../src/model/values.js';
import type { NodeFunction } from '../src/model/topology.js';
import { moveRegistry } from '../src/exec/move.js';
import { runInTrace } from '../src/exec/run-observer.js';

const modules = new Map<string, Map<string, NodeFunction> | Promise<Map<string, NodeFunction>>>();
const moves = moveRegistry();

// A node may leave a timer or a promise behind that fails after its task has answered. That
// error belongs to no task; report it and keep the thread, rather than letting it crash the
// worker and fail whichever unrelated task runs there next.
process.on('uncaughtException', (error) => reportStray('an uncaught exception', error));
process.on('unhandledRejection', (reason) => reportStray('an unhandled rejection', reason));

function reportStray(what: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`[cloaca worker ${threadId}] ${what} outside any node call: ${text}\n`);
}

function load(href: string): Map<string, NodeFunction> | Promise<Map<string, NodeFunction>> {
  let entry = modules.get(href);
  if (entry === undefined) {
    entry = importNodeModule(href).then((module) => {
      const table = nodeFunctions(module);
      modules.set(href, table);
      return table;
    });
    // A failed import is not cached, so a fixed module loads on the next try.
    entry.catch(() => modules.delete(href));
    modules.set(href, entry);
  }
  return entry;
}

/** Piscina's task handler. */
export default function handle(task: WorkerTask): UnitReply | DescribeReply | Promise<UnitReply | DescribeReply> {
  if ('describe' in task) return describe(task.describe);
  if (task.t !== undefined) return runInTrace(task.t, () => loadAndRun(task));
  return loadAndRun(task);
}

function loadAndRun(task: UnitTask): UnitReply | Promise<UnitReply> {
  const table = load(task.m);
  return table instanceof Map ? runUnit(task, table) : table.then((t) => runUnit(task, t));
}

async function describe(href: string): Promise<DescribeReply> {
  try {
    return { ok: true, exports: [...(await load(href)).keys()] };
  } catch (error) {
    return { ok: false, e: toErrorEnvelope(error) };
  }
}

/** Runs the chain synchronously while its nodes are synchronous; continues async at the first promise. */
function runUnit(task: UnitTask, table: Map<string, NodeFunction>): UnitReply | Promise<UnitReply> {
  const { f, a } = task;
  const durations: number[] = [];
  let value: unknown;
  for (let i = 0; i < f.length; i++) {
    if (i > 0 && cancelled(task)) return { ok: false, i, d: durations, w: threadId, x: true };
    const start = performance.now();
    try {
      // Names were validated at build time against this module's exports.
      const fn = table.get(f[i]!)!;
      value = i === 0 ? fn(...a) : fn(value);
    } catch (error) {
      durations.push(performance.now() - start);
      return { ok: false, i, d: durations, w: threadId, e: toErrorEnvelope(error) };
    }
    if (isThenable(value)) return finishAsync(task, table, i, start, value, durations);
    durations.push(performance.now() - start);
    if (i === f.length - 1) return reply(value, i, durations);
    const refused = findUncloneable(value);
    if (refused !== null) return { ok: false, i, d: durations, w: threadId, c: refused };
  }
  throw new Error('unreachable: a unit has at least one node');
}

async function finishAsync(
  task: UnitTask,
  table: Map<string, NodeFunction>,
  from: number,
  start: number,
  pending: PromiseLike<unknown>,
  durations: number[],
): Promise<UnitReply> {
  const { f } = task;
  let value: unknown;
  for (let i = from; i < f.length; i++) {
    if (i > from && cancelled(task)) return { ok: false, i, d: durations, w: threadId, x: true };
    const begin = i === from ? start : performance.now();
    try {
      value = i === from ? await pending : await table.get(f[i]!)!(value);
    } catch (error) {
      durations.push(performance.now() - begin);
      return { ok: false, i, d: durations, w: threadId, e: toErrorEnvelope(error) };
    }
    durations.push(performance.now() - begin);
    if (i === f.length - 1) break;
    const refused = findUncloneable(value);
    if (refused !== null) return { ok: false, i, d: durations, w: threadId, c: refused };
  }
  return reply(value, f.length - 1, durations);
}

/** True once the run of a fused chain has failed elsewhere: its next node must not start. */
function cancelled(task: UnitTask): boolean {
  return task.c !== undefined && Atomics.load(task.c, 0) !== 0;
}

/**
 * Answers with the unit's result after checking it can be cloned; buffers marked with move()
 * anywhere in it are transferred instead of copied.
 */
function reply(value: unknown, i: number, durations: number[]): UnitReply {
  const marked = moves.used ? moves.marked : null;
  const transfers = marked === null ? null : new Set<ArrayBuffer>();
  const refused = findUncloneable(value, marked, transfers);
  if (refused !== null) return { ok: false, i, d: durations, w: threadId, c: refused };
  const result: UnitReply = { ok: true, v: value, d: durations, w: threadId };
  if (transfers === null || transfers.size === 0) return result;
  const list = [...transfers];
  // Piscina transfers only a top-level move() wrapper; this one carries the whole reply.
  return piscinaMove({
    get [transferableSymbol]() {
      return list;
    },
    get [valueSymbol]() {
      return result;
    },
  } as never) as unknown as UnitReply;
}
