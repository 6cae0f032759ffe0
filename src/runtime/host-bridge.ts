/**
 * The runtime's side of `host` (`cloaca/worker`): inline nodes find the running runtime in the
 * process registry; pool workers announce themselves on the runtime's hello channel (named in
 * their `workerData`, see `exec/host-channel.ts`) and get the host API exposed to them with
 * comlink on a channel pair of their own.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import {
  channelEndpoint,
  helloChannel,
  hostRegistry,
  replyChannel,
  requestChannel,
  type HostApi,
} from '../exec/host-channel.js';

export class HostBridge {
  /** The channel family the runtime's pool passes to its workers. */
  readonly channel = `cloaca-host-${randomUUID()}`;
  readonly #api: HostApi;
  readonly #hello: BroadcastChannel;
  readonly #channels: BroadcastChannel[] = [];

  constructor(api: HostApi) {
    this.#api = api;
    const base = this.channel;
    this.#hello = new BroadcastChannel(helloChannel(base));
    this.#hello.onmessage = (event: unknown) => {
      const threadId = (event as { data: { threadId: number } }).data.threadId;
      const requests = new BroadcastChannel(requestChannel(base, threadId));
      const replies = new BroadcastChannel(replyChannel(base, threadId));
      requests.unref();
      replies.unref();
      this.#channels.push(requests, replies);
      expose(api, channelEndpoint(requests, replies));
      replies.postMessage({ ready: true });
    };
    // The bridge must not keep a finished script alive.
    this.#hello.unref();
    hostRegistry().running.add(api);
  }

  close(): void {
    hostRegistry().running.delete(this.#api);
    this.#hello.close();
    for (const channel of this.#channels) channel.close();
  }
}
