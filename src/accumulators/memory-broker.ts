/**
 * The built-in `memory` stream backend: in-process topics with offsets, consumer groups and
 * commits, for tests, examples and single-process pipelines.
 *
 * - A topic is an append-only log; offsets start at 0 and grow by one per message.
 * - A consumer group has a committed offset (the next message to read after a reconnect) and a
 *   read position shared by its consumers, so each message goes to one consumer of the group.
 *   A group's first consumer starts at the oldest retained message; a consumer that reconnects
 *   starts again after the last commit, so uncommitted messages are delivered again.
 * - Messages every group has committed are dropped. A topic holds at most `capacity`
 *   uncommitted messages: `publish` returns false past that (the caller retries later), so a
 *   topic never grows without bound.
 */
import type { StreamBackend, StreamBackendConfig, StreamMessage } from './stream-backend.js';

/** Options of a {@link MemoryTopic}. */
export interface MemoryTopicOptions {
  /** Most messages retained (not yet committed by every group); default 100,000. */
  readonly capacity?: number;
}

interface Group {
  committed: number;
  position: number;
  consumers: number;
}

export class MemoryTopic {
  readonly name: string;
  readonly capacity: number;
  /** Offset of `#log[0]`. */
  #base = 0;
  #log: StreamMessage[] = [];
  readonly #groups = new Map<string, Group>();
  #waiters: Array<() => void> = [];

  constructor(name: string, options: MemoryTopicOptions = {}) {
    this.name = name;
    this.capacity = options.capacity ?? 100_000;
  }

  /** The offset the next published message gets. */
  get endOffset(): number {
    return this.#base + this.#log.length;
  }

  /** Appends a message; false (and nothing appended) when the topic is at capacity. */
  publish(value: unknown): boolean {
    if (this.#log.length >= this.capacity) return false;
    this.#log.push({ offset: this.endOffset, value, timestamp: Date.now() });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    return true;
  }

  /** The committed offset of a group (the next offset it reads after a reconnect), or undefined. */
  committed(group: string): number | undefined {
    return this.#groups.get(group)?.committed;
  }

  /** @internal Connects a consumer of `group` (the `memory` backend does). */
  subscribe(group: string): MemoryConsumer {
    let state = this.#groups.get(group);
    if (state === undefined) {
      state = { committed: this.#base, position: this.#base, consumers: 0 };
      this.#groups.set(group, state);
    }
    if (state.consumers === 0) state.position = state.committed;
    state.consumers++;
    return new MemoryConsumer(this, state);
  }

  /** @internal */
  take(group: Group): StreamMessage | undefined {
    if (group.position >= this.endOffset) return undefined;
    return this.#log[group.position++ - this.#base];
  }

  /** @internal */
  wait(wake: () => void): () => void {
    this.#waiters.push(wake);
    return () => {
      this.#waiters = this.#waiters.filter((w) => w !== wake);
    };
  }

  /** @internal */
  commit(group: Group, offset: number): void {
    if (offset + 1 > group.committed) group.committed = Math.min(offset + 1, this.endOffset);
    let floor = Number.POSITIVE_INFINITY;
    for (const g of this.#groups.values()) floor = Math.min(floor, g.committed);
    if (floor > this.#base) {
      this.#log.splice(0, floor - this.#base);
      this.#base = floor;
    }
  }
}

class MemoryConsumer implements StreamBackend {
  readonly #topic: MemoryTopic;
  readonly #group: Group;
  #closed = false;
  #cancelWait: (() => void) | undefined;
  #wake: (() => void) | undefined;

  constructor(topic: MemoryTopic, group: Group) {
    this.#topic = topic;
    this.#group = group;
  }

  async receive(): Promise<StreamMessage | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const message = this.#topic.take(this.#group);
      if (message !== undefined) return message;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#cancelWait = this.#topic.wait(resolve);
      });
    }
  }

  commit(offset: number): void {
    this.#topic.commit(this.#group, offset);
  }

  lag(): number {
    return this.#topic.endOffset - this.#group.position;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#group.consumers--;
    this.#cancelWait?.();
    this.#wake?.();
  }
}

/** A set of named memory topics. */
export class MemoryBroker {
  readonly #topics = new Map<string, MemoryTopic>();

  /** The topic of that name, made on first use. */
  topic(name: string, options?: MemoryTopicOptions): MemoryTopic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = new MemoryTopic(name, options);
      this.#topics.set(name, topic);
    }
    return topic;
  }

  /** The `memory` backend factory for this broker. */
  readonly backend = (config: StreamBackendConfig): StreamBackend => this.topic(config.topic).subscribe(config.group);
}

/** The process-wide broker the built-in `memory` stream backend reads. */
export const memoryBroker = new MemoryBroker();
