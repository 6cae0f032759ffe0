/**
 * The Piscina worker entry. It runs ready units (one node, or a fused chain of nodes) from
 * modules it imports by URL once and caches for the life of the thread, with the unit loop the
 * inline executor uses (`src/exec/unit-loop.ts`).
 *
 * Everything a node does is caught here and answered as data (see `src/exec/protocol.ts`): a
 * thrown error becomes an envelope that keeps its class name and own properties, and a value
 * the rules refuse is reported instead of being handed to Piscina's `postMessage`, where it
 * would fail outside any task. Values passed between the nodes of a fused chain are copied by
 * the rules, so fusing changes nothing a node can observe. The unit table notes when each unit
 * starts and which node is inside its synchronous part, for the pool to read if this thread dies.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move as piscinaMove, transferableSymbol, valueSymbol } from 'piscina';
import { toErrorEnvelope, type ErrorEnvelope } from '../src/exec/error-envelope.js';
import { importNodeModule, nodeFunctions } from '../src/exec/module-loader.js';
import { moveRegistry } from '../src/exec/move.js';
import '../src/exec/platform.js';
import type { ListExportsReply, UnitReply, UnitRequest, WorkerRequest } from '../src/exec/protocol.js';
import { runUnit, type UnitRunner } from '../src/exec/unit-loop.js';
import { kUnitTableKey, UnitTableWriter } from '../src/exec/unit-table.js';
import type { NodeFunction } from '../src/model/topology.js';
import { copyValue, inspectValue, isPrimitive, restoreValue, ValueSink, type ValueFault } from '../src/model/values.js';
import { runInTrace } from '../src/exec/run-observer.js';

const modules = new Map<string, Map<string, NodeFunction> | Promise<Map<string, NodeFunction>>>();
const moves = moveRegistry();
const table = new UnitTableWriter((workerData as Record<string, SharedArrayBuffer>)[kUnitTableKey]!);

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
      const functions = nodeFunctions(module);
      modules.set(href, functions);
      return functions;
    });
    // A failed import is not cached, so a fixed module loads on the next try.
    entry.catch(() => modules.delete(href));
    modules.set(href, entry);
  }
  return entry;
}

/** Piscina's task handler. */
export default function handle(
  request: WorkerRequest,
): UnitReply | ListExportsReply | Promise<UnitReply | ListExportsReply> {
  if ('listExports' in request) return listExports(request.listExports);
  // A traced run's context is current while its nodes run, so a node's host.push carries it back.
  if (request.traceparent !== undefined) return runInTrace(request.traceparent, () => loadAndStart(request));
  return loadAndStart(request);
}

function loadAndStart(request: UnitRequest): UnitReply | Promise<UnitReply> {
  const functions = load(request.module);
  return functions instanceof Map ? start(request, functions) : functions.then((f) => start(request, f));
}

async function listExports(href: string): Promise<ListExportsReply> {
  try {
    return { ok: true, exports: [...(await load(href)).keys()] };
  } catch (error) {
    return { ok: false, error: toErrorEnvelope(error) };
  }
}

/** One unit in this worker. */
interface WorkerUnit {
  readonly request: UnitRequest;
  readonly functions: Map<string, NodeFunction>;
}

function start(request: UnitRequest, functions: Map<string, NodeFunction>): UnitReply | Promise<UnitReply> {
  if (request.extras !== undefined) restoreValue(request.extras);
  return runUnit(runner, { request, functions }, request.nodes.length, request.args);
}

const runner: UnitRunner<WorkerUnit, UnitReply> = {
  // Names were validated at build time against this module's exports.
  fn: (unit, k) => unit.functions.get(unit.request.nodes[k]!)!,
  enter(unit, k) {
    // A fused chain whose run has failed elsewhere starts none of its remaining nodes.
    const cancel = unit.request.cancel;
    if (cancel !== undefined && Atomics.load(cancel, 0) !== 0) return false;
    table.enter(unit.request.slot, k);
    return true;
  },
  leave: (unit) => table.leave(unit.request.slot),
  settle: (_unit, _k, pending) => pending,
  // Between nodes: the next node's own copy. Last: only checked; postMessage copies it.
  handoff: (_unit, _k, value, last) => (last ? value : copyValue(value, 'value', moves.used ? moves.marked : null)),
  done(_unit, value, durations) {
    if (isPrimitive(value)) return { ok: true, value, durations, thread: threadId };
    const sink = new ValueSink(moves.used ? moves.marked : null);
    const fault = inspectValue(value, 'value', sink);
    if (fault !== null) return refusedReply(durations.length - 1, durations, fault);
    const extras = sink.extras();
    const reply: UnitReply =
      extras === undefined
        ? { ok: true, value, durations, thread: threadId }
        : { ok: true, value, durations, thread: threadId, extras };
    return sink.transfers === null || sink.transfers.size === 0 ? reply : transferring(reply, [...sink.transfers]);
  },
  failed(_unit, k, durations, error) {
    const envelope = toErrorEnvelope(error);
    const sink = new ValueSink();
    inspectValue(envelope, 'value', sink);
    const extras = sink.extras();
    return extras === undefined
      ? { ok: false, at: k, durations, thread: threadId, error: envelope }
      : { ok: false, at: k, durations, thread: threadId, error: envelope, extras };
  },
  refused: (_unit, k, durations, fault) => refusedReply(k, durations, fault),
  stopped: (_unit, k, durations) => ({ ok: false, at: k, durations, thread: threadId, stopped: true }),
};

function refusedReply(at: number, durations: number[], fault: ValueFault): UnitReply {
  const cause: ErrorEnvelope | undefined = fault.cause === undefined ? undefined : toErrorEnvelope(fault.cause);
  const refused = { path: fault.path, valueType: fault.valueType, detail: fault.detail, ...(cause ? { cause } : {}) };
  return { ok: false, at, durations, thread: threadId, refused };
}

/** Piscina transfers only a top-level move() wrapper; this one carries the whole reply. */
function transferring(reply: UnitReply, buffers: ArrayBuffer[]): UnitReply {
  return piscinaMove({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return reply;
    },
  } as never) as unknown as UnitReply;
}
