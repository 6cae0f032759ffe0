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
 *
 * A batch (several units in one message) runs its units one after another, in order, and
 * answers them in one message; a unit that goes asynchronous answers on its own when it settles
 * (a {@link LateReply} on the parent port), so it never holds back the others. Structured clone
 * keeps identity across a whole message, so values that travel together are kept apart: a unit
 * whose arguments share an object with an earlier unit's gets its own copy here, and a result
 * sharing one with an earlier result is sent as a copy. A group of batches of firings (several
 * keys' or reactors' queued firings) runs them one after another and answers them together;
 * there every node already gets its own copy of its inputs and every output is a copy, so
 * nothing shared crosses from one batch to another.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { move as piscinaMove, transferableSymbol, valueSymbol } from 'piscina';
import { toErrorEnvelope, type ErrorEnvelope } from '../src/exec/error-envelope.js';
import { importNodeModule, nodeFunctions } from '../src/exec/module-loader.js';
import { moveRegistry } from '../src/exec/move.js';
import '../src/exec/platform.js';
// Loaded before any node module: a CommonJS node module's `require('cloaca/worker')` then finds
// it evaluated and takes its namespace as is. Loading an ES module inside `require()` is what a
// thread's termination can turn into a process abort on Node 20 (see `piscina-entry.cts`).
import '../src/worker.js';
import { runFirings, type FiringsResult } from '../src/exec/firing-runner.js';
import type {
  BatchReply,
  FiringsGroupReply,
  FiringsGroupRequest,
  FiringsReply,
  FiringsRequest,
  LateReply,
  ListExportsReply,
  UnitReply,
  UnitRequest,
  WorkerRequest,
} from '../src/exec/protocol.js';
import { runUnit, type UnitRunner } from '../src/exec/unit-loop.js';
import { kUnitTableKey, UnitTableWriter } from '../src/exec/unit-table.js';
import type { NodeFunction } from '../src/model/topology.js';
import { isPrimitive } from '../src/model/own-properties.js';
import { ValueFault } from '../src/model/value-fault.js';
import { ValueSink } from '../src/model/value-sink.js';
import { copyValue, inspectValue, restoreValue } from '../src/model/values.js';
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

/** Piscina's task handler (handed to Piscina by `piscina-entry.cts`). */
export function handle(request: WorkerRequest): WorkerReply | Promise<WorkerReply> {
  if ('listExports' in request) return listExports(request.listExports);
  if ('batch' in request) return batch(request.batch);
  if ('firings' in request) return firings(request.firings);
  if ('firingsGroup' in request) return firingsGroup(request.firingsGroup);
  // A traced run's context is current while its nodes run, so a node's host.push carries it back.
  if (request.traceparent !== undefined) return runInTrace(request.traceparent, () => loadAndStart(request));
  return loadAndStart(request);
}

function loadAndStart(request: UnitRequest): UnitReply | Promise<UnitReply> {
  const functions = load(request.module);
  return functions instanceof Map ? start(request, functions) : functions.then((f) => start(request, f));
}

type WorkerReply = UnitReply | BatchReply | FiringsReply | FiringsGroupReply | ListExportsReply;

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
  /** The head's arguments (a batch may have given them their own copy). */
  readonly args: readonly unknown[];
  /** Buffers marked with move() in the result, transferred with the reply. */
  transfers: ArrayBuffer[] | null;
  /** In a batch answered in one message: the objects of the results answered before this one. */
  across: Set<object> | null;
}

function start(request: UnitRequest, functions: Map<string, NodeFunction>): UnitReply | Promise<UnitReply> {
  if (request.extras !== undefined) restoreValue(request.extras);
  const unit: WorkerUnit = { request, functions, args: request.args, transfers: null, across: null };
  const result = runUnit(runner, unit, request.nodes.length, unit.args);
  return result instanceof Promise ? result.then((reply) => outgoing(reply, unit)) : outgoing(result, unit);
}

/** Runs a batch of firings (whole traversals, see `firing-runner.ts`) once its module is loaded. */
function firingsOf(request: FiringsRequest['firings']): FiringsResult | Promise<FiringsResult> {
  const functions = load(request.module);
  return functions instanceof Map
    ? runFirings(request, functions, table, threadId)
    : functions.then((f) => runFirings(request, f, table, threadId));
}

function firings(request: FiringsRequest['firings']): FiringsReply | Promise<FiringsReply> {
  const result = firingsOf(request);
  return result instanceof Promise ? result.then(firingsOut) : firingsOut(result);
}

function firingsOut({ reply, transfers }: FiringsResult): FiringsReply {
  return transfers === null ? reply : transferring(reply, transfers);
}

/** Runs batches of firings one after another, in order (one that awaits holds back the rest); one answer. */
function firingsGroup(requests: FiringsGroupRequest['firingsGroup']): FiringsGroupReply | Promise<FiringsGroupReply> {
  const group = new Array<FiringsReply>(requests.length);
  let transfers: ArrayBuffer[] | null = null;
  const take = (k: number, result: FiringsResult): void => {
    group[k] = result.reply;
    if (result.transfers !== null) (transfers ??= []).push(...result.transfers);
  };
  const from = (first: number): FiringsGroupReply | Promise<FiringsGroupReply> => {
    for (let k = first; k < requests.length; k++) {
      const result = firingsOf(requests[k]!);
      if (result instanceof Promise) {
        return result.then((r) => {
          take(k, r);
          return from(k + 1);
        });
      }
      take(k, result);
    }
    const reply: FiringsGroupReply = { group };
    return transfers === null ? reply : transferring(reply, transfers);
  };
  return from(0);
}

/** Runs a batch once every module it needs is loaded. */
function batch(requests: readonly UnitRequest[]): BatchReply | Promise<BatchReply> {
  const tables = new Array<Map<string, NodeFunction>>(requests.length);
  let loading: Array<Promise<unknown>> | null = null;
  for (let k = 0; k < requests.length; k++) {
    const functions = load(requests[k]!.module);
    if (functions instanceof Map) tables[k] = functions;
    else (loading ??= []).push(functions.then((f) => (tables[k] = f)));
  }
  return loading === null ? runBatch(requests, tables) : Promise.all(loading).then(() => runBatch(requests, tables));
}

function runBatch(requests: readonly UnitRequest[], tables: ReadonlyArray<Map<string, NodeFunction>>): BatchReply {
  for (const request of requests) if (request.extras !== undefined) restoreValue(request.extras);
  const args = ownArguments(requests);
  const across = new Set<object>();
  const replies = new Array<UnitReply | null>(requests.length);
  let transfers: ArrayBuffer[] | null = null;
  for (let k = 0; k < requests.length; k++) {
    const request = requests[k]!;
    const unit: WorkerUnit = { request, functions: tables[k]!, args: args[k]!, transfers: null, across };
    const traceparent = request.traceparent;
    const result =
      traceparent === undefined
        ? runUnit(runner, unit, request.nodes.length, unit.args)
        : runInTrace(traceparent, () => runUnit(runner, unit, request.nodes.length, unit.args));
    if (result instanceof Promise) {
      // It answers on its own when it settles, in a message of its own.
      unit.across = null;
      replies[k] = null;
      void result.then((reply) => answerLate(reply, unit));
      continue;
    }
    replies[k] = result;
    if (unit.transfers !== null) (transfers ??= []).push(...unit.transfers);
  }
  const reply: BatchReply = { replies };
  return transfers === null ? reply : transferring(reply, transfers);
}

/**
 * The head arguments of each unit of a batch, a unit's own copy where they share an object with
 * an earlier unit's (a fan-out's value, one cache snapshot for two graphs): separate messages
 * would have given each unit its own.
 */
function ownArguments(requests: readonly UnitRequest[]): ReadonlyArray<readonly unknown[]> {
  const args = requests.map((r) => r.args);
  let holders = 0;
  for (const a of args) if (hasObject(a)) holders++;
  if (holders < 2) return args;
  const across = new Set<object>();
  for (let k = 0; k < args.length; k++) {
    if (!hasObject(args[k]!)) continue;
    const sink = new ValueSink();
    sink.across = across;
    inspectValue(args[k], 'value', sink);
    if (!sink.overlaps) continue;
    const copy = copyValue(args[k], 'value');
    if (!(copy instanceof ValueFault)) args[k] = copy as unknown[];
  }
  return args;
}

function hasObject(values: readonly unknown[]): boolean {
  for (const value of values) if (!isPrimitive(value)) return true;
  return false;
}

/** Posts the reply of a batched unit that settled after its batch was answered. */
function answerLate(reply: UnitReply, unit: WorkerUnit): void {
  const message: LateReply = { late: reply, slot: unit.request.slot, token: unit.request.token! };
  try {
    parentPort!.postMessage(message, unit.transfers ?? []);
  } catch (error) {
    // Checked before, so only a value that changed since (a getter) lands here.
    const fault = new ValueFault('value', 'value', `could not be sent: ${(error as Error)?.message}`, error);
    const refused: LateReply = {
      ...message,
      late: refusedReply(reply.durations.length - 1, [...reply.durations], fault),
    };
    parentPort!.postMessage(refused);
  }
}

/** A single unit's reply as it leaves: with its moved buffers when it has some. */
function outgoing(reply: UnitReply, unit: WorkerUnit): UnitReply {
  return unit.transfers === null ? reply : transferring(reply, unit.transfers);
}

const runner: UnitRunner<WorkerUnit, UnitReply> = {
  // Names were validated at build time against this module's exports.
  fn: (unit, k) => unit.functions.get(unit.request.nodes[k]!)!,
  enter(unit, k) {
    // A unit whose run has failed elsewhere starts none of its (remaining) nodes.
    const cancel = unit.request.cancel;
    if (cancel !== undefined && Atomics.load(cancel, 0) !== 0) return false;
    table.enter(unit.request.slot, k);
    return true;
  },
  leave: (unit) => table.leave(unit.request.slot),
  settle: (_unit, _k, pending) => pending,
  // Between nodes: the next node's own copy. Last: only checked; postMessage copies it.
  handoff: (_unit, _k, value, last) => (last ? value : copyValue(value, 'value', moves.used ? moves.marked : null)),
  done(unit, value, durations) {
    if (isPrimitive(value)) return { ok: true, value, durations, thread: threadId };
    const marked = moves.used ? moves.marked : null;
    let sink = sinkFor(unit, marked);
    let fault = inspectValue(value, 'value', sink);
    if (fault === null && sink.overlaps) {
      // It shares an object with a result answered in the same message: send a copy.
      const copy = copyValue(value, 'value', marked);
      if (copy instanceof ValueFault) return refusedReply(durations.length - 1, durations, copy);
      value = copy;
      sink = new ValueSink(marked);
      fault = inspectValue(value, 'value', sink);
    }
    if (fault !== null) return refusedReply(durations.length - 1, durations, fault);
    const extras = sink.extras();
    if (sink.transfers !== null && sink.transfers.size > 0) unit.transfers = [...sink.transfers];
    return extras === undefined
      ? { ok: true, value, durations, thread: threadId }
      : { ok: true, value, durations, thread: threadId, extras };
  },
  failed(unit, k, durations, error) {
    stopRun(unit);
    let envelope = toErrorEnvelope(error);
    let sink = sinkFor(unit, null);
    inspectValue(envelope, 'value', sink);
    if (sink.overlaps) {
      envelope = copyValue(envelope, 'value') as ErrorEnvelope;
      sink = new ValueSink();
      inspectValue(envelope, 'value', sink);
    }
    const extras = sink.extras();
    return extras === undefined
      ? { ok: false, at: k, durations, thread: threadId, error: envelope }
      : { ok: false, at: k, durations, thread: threadId, error: envelope, extras };
  },
  refused(unit, k, durations, fault) {
    stopRun(unit);
    return refusedReply(k, durations, fault);
  },
  stopped: (_unit, k, durations) => ({ ok: false, at: k, durations, thread: threadId, stopped: true }),
};

/**
 * The unit's run has failed: units of it not started yet (later in this batch, or on another
 * worker) start nothing, without waiting for the main thread to hear of it.
 */
function stopRun(unit: WorkerUnit): void {
  const cancel = unit.request.cancel;
  if (cancel !== undefined) Atomics.store(cancel, 0, 1);
}

/** A sink for a unit's outgoing value; in a batch, it watches for objects shared with earlier results. */
function sinkFor(unit: WorkerUnit, marked: WeakSet<object> | null): ValueSink {
  const sink = new ValueSink(marked);
  sink.across = unit.across;
  return sink;
}

function refusedReply(at: number, durations: number[], fault: ValueFault): UnitReply {
  const cause: ErrorEnvelope | undefined = fault.cause === undefined ? undefined : toErrorEnvelope(fault.cause);
  const refused = { path: fault.path, valueType: fault.valueType, detail: fault.detail, ...(cause ? { cause } : {}) };
  return { ok: false, at, durations, thread: threadId, refused };
}

/** Piscina transfers only a top-level move() wrapper; this one carries the whole reply. */
function transferring<T extends UnitReply | BatchReply | FiringsReply | FiringsGroupReply>(
  reply: T,
  buffers: ArrayBuffer[],
): T {
  return piscinaMove({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return reply;
    },
  } as never) as unknown as T;
}
