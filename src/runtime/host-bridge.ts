/**
 * The runtime's side of the worker host channel (see `host-channel.ts`): answers each worker's
 * hello by exposing the host API to it with comlink.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { channelEndpoint, helloChannel, replyChannel, requestChannel, type HostApi } from '../exec/host-channel.js';

export class HostBridge {
  readonly base: string;
  readonly #hello: BroadcastChannel;
  readonly #channels: BroadcastChannel[] = [];

  constructor(base: string, api: HostApi) {
    this.base = base;
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
  }

  close(): void {
    this.#hello.close();
    for (const channel of this.#channels) channel.close();
  }
}
