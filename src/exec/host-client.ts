/**
 * The node side of `host` (`cloaca/worker`): finds the runtime running the current node.
 *
 * In a pool worker it is a comlink proxy to the main thread's runtime, reached over the
 * BroadcastChannels named in the worker's `workerData` (see `host-channel.ts`); on the main
 * thread (inline executor) it is the running runtime itself. Outside a runtime (a bare
 * `graph.execute`) its calls reject with a clear error.
 */
import { BroadcastChannel, isMainThread, threadId, workerData } from 'node:worker_threads';
import { wrap, type Remote } from 'comlink';
import { StateError } from '../model/errors.js';
import { ValueSink } from '../model/value-sink.js';
import { inspectValue } from '../model/values.js';
import {
  channelEndpoint,
  helloChannel,
  hostRegistry,
  kHostChannelKey,
  replyChannel,
  requestChannel,
  type HostApi,
} from './host-channel.js';
import { currentTrace } from './run-observer.js';

/** The runtime, as seen from a node. */
export interface Host {
  /** Feeds an accumulator of the runtime (waits while it has no room). Rejects for an unknown name. */
  push(accumulator: string, value: unknown): Promise<void>;
  /** Logs through the runtime's logger. */
  log(...args: unknown[]): Promise<void>;
}

let remote: Promise<Remote<HostApi>> | undefined;

function connect(base: string): Promise<Remote<HostApi>> {
  return new Promise((resolve) => {
    const replies = new BroadcastChannel(replyChannel(base, threadId));
    const requests = new BroadcastChannel(requestChannel(base, threadId));
    replies.unref();
    requests.unref();
    const onReady = (event: unknown): void => {
      if ((event as { data?: { ready?: boolean } }).data?.ready !== true) return;
      (replies as unknown as EventTarget).removeEventListener('message', onReady);
      resolve(wrap<HostApi>(channelEndpoint(replies, requests)));
    };
    (replies as unknown as EventTarget).addEventListener('message', onReady);
    const hello = new BroadcastChannel(helloChannel(base));
    hello.postMessage({ threadId });
    hello.close();
  });
}

function resolveHost(): Promise<HostApi | Remote<HostApi>> {
  if (isMainThread) {
    const running = [...hostRegistry().running];
    if (running.length === 1) return Promise.resolve(running[0]!);
    return Promise.reject(
      new StateError(
        'host',
        running.length === 0 ? 'no runtime' : 'several runtimes',
        running.length === 0
          ? 'host: no runtime is running in this process; host.push and host.log work only in nodes run by a started Runtime'
          : `host: ${running.length} runtimes are running in this process, so an inline node's host is ambiguous; run such graphs on the pool executor`,
      ),
    );
  }
  const base = (workerData as Record<string, unknown> | undefined)?.[kHostChannelKey];
  if (typeof base !== 'string') {
    return Promise.reject(
      new StateError(
        'host',
        'no runtime',
        'host: this worker does not belong to a Runtime; host.push and host.log work only in nodes run by a started Runtime',
      ),
    );
  }
  return (remote ??= connect(base));
}

/** The runtime running the current node. */
export const host: Host = {
  async push(accumulator: string, value: unknown): Promise<void> {
    // The calling node's trace context (when its run is traced) lets the runtime link what this
    // push causes to the firing that made it.
    const traceparent = currentTrace();
    if (isMainThread) {
      await (await resolveHost()).push(accumulator, value, undefined, traceparent);
      return;
    }
    // Checked here, where the node can be told, and sent with what the crossing loses (a
    // Buffer's class, an Error's own properties), so the event arrives as it would inline.
    const sink = new ValueSink();
    const fault = inspectValue(value, 'event', sink);
    if (fault !== null) throw fault.toError({ accumulator });
    await (await resolveHost()).push(accumulator, value, sink.extras() ?? null, traceparent);
  },
  async log(...args: unknown[]): Promise<void> {
    await (await resolveHost()).log(...args);
  },
};
