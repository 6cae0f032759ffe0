/**
 * How pool workers reach the runtime that runs them (`host` of `cloaca/worker`).
 *
 * A worker cannot be handed a MessagePort through Piscina (`workerData` cannot transfer, and the
 * pool's own port is Piscina's). So each runtime names a family of BroadcastChannels, passed to
 * its workers in `workerData`: a worker announces itself on `<base>:hello`, the runtime answers by
 * exposing its host API with comlink on the worker's own pair `<base>:<threadId>:req` /
 * `<base>:<threadId>:res`, and says `ready` on the reply channel.
 */
import type { BroadcastChannel } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import type { ValueExtras } from '../model/value-sink.js';

/** The key in Piscina's `workerData` that carries the channel base name. */
export const kHostChannelKey = 'cloacaHostChannel';

export function helloChannel(base: string): string {
  return `${base}:hello`;
}

export function requestChannel(base: string, threadId: number): string {
  return `${base}:${threadId}:req`;
}

export function replyChannel(base: string, threadId: number): string {
  return `${base}:${threadId}:res`;
}

/** A comlink endpoint that listens on one channel and posts on another. */
export function channelEndpoint(incoming: BroadcastChannel, outgoing: BroadcastChannel): Endpoint {
  const target = incoming as unknown as EventTarget;
  return {
    postMessage: (message: unknown) => outgoing.postMessage(message),
    addEventListener: target.addEventListener.bind(target),
    removeEventListener: target.removeEventListener.bind(target),
  } as unknown as Endpoint;
}

/** What a worker can ask of the runtime. */
export interface HostApi {
  /**
   * Feeds an accumulator; waits for room first (backpressure). `extras` is given by a worker:
   * what structured clone lost of `value` on the way (see `ValueExtras`), or null when nothing;
   * the value is then already a copy. Without it (an inline node) the runtime makes the copy.
   * `traceparent` is the pushing node's trace context when its run is traced.
   */
  push(accumulator: string, value: unknown, extras?: ValueExtras | null, traceparent?: string): Promise<void>;
  /** Logs through the runtime's logger. */
  log(...args: unknown[]): void;
}

/** The process-wide registry of running runtimes, for inline nodes (keyed by Symbol.for across package copies). */
export interface HostRegistry {
  readonly running: Set<HostApi>;
}

export function hostRegistry(): HostRegistry {
  const holder = globalThis as unknown as Record<symbol, HostRegistry | undefined>;
  return (holder[Symbol.for('cloaca.host.registry')] ??= { running: new Set() });
}
