/**
 * The built-in `memory` stream backend: in-process topics with offsets, consumer groups and
 * acknowledgements, for tests, examples and single-process pipelines.
 *
 * - A topic is an append-only log; offsets (its positions) start at 0 and grow by one per message.
 * - A consumer group has a read position shared by its consumers, so each message goes to one
 *   consumer of the group, and a committed offset: every message below it was acknowledged.
 *   Acknowledgements may come in any order; the committed offset moves past every message
 *   acknowledged without a gap. A group's first consumer starts at the oldest retained message.
 * - Messages a consumer received and did not acknowledge go to the group's other consumers
 *   when it closes; when the group's last consumer closes, the next one starts again at the
 *   committed offset. So nothing is lost to a consumer that goes away: at least once.
 * - Messages every group has committed are dropped. A topic holds at most `capacity`
 *   uncommitted messages: `publish` returns false past that (the caller retries later), so a
 *   topic never grows without bound.
 */
import { ValueFault } from '../model/value-fault.js';
import { copyValue } from '../model/values.js';
import type { StreamBackend, StreamBackendConfig, StreamMessage, StreamPosition } from './stream-backend.js';

/** Options of a {@link MemoryTopic}. */
export interface MemoryTopicOptions {
  /** Most messages retained (not yet committed by every group); default 100,000. */
  readonly capacity?: number;
}

/** Most messages one receive() returns. */
const kBatch = 100;

interface Group {
  committed: number;
  position: number;
  consumers: number;
  /** Acknowledged offsets above `committed`. */
  readonly acked: Set<number>;
  /** Offsets a closed consumer left unacknowledged, delivered before new ones. */
  returned: number[];
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

  /**
   * Appends a message; false (and nothing appended) when the topic is at capacity. The topic
   * keeps a copy made by the value rules, as `runtime.push` does, so changing `value` afterwards
   * changes no message; a value that cannot be cloned is kept as it is, and the stream
   * accumulator that receives it reports it and drops it.
   */
  publish(value: unknown): boolean {
    if (this.#log.length >= this.capacity) return false;
    const copy = copyValue(value);
    this.#log.push({
      position: this.endOffset,
      value: copy instanceof ValueFault ? value : copy,
      timestamp: Date.now(),
    });
    this.#wake();
    return true;
  }

  /** The committed offset of a group (every message below it was acknowledged), or undefined. */
  committed(group: string): number | undefined {
    return this.#groups.get(group)?.committed;
  }

  /** @internal Connects a consumer of `group` (the `memory` backend does). */
  subscribe(group: string): MemoryConsumer {
    let state = this.#groups.get(group);
    if (state === undefined) {
      state = { committed: this.#base, position: this.#base, consumers: 0, acked: new Set(), returned: [] };
      this.#groups.set(group, state);
    }
    if (state.consumers === 0) {
      state.position = state.committed;
      state.acked.clear();
      state.returned = [];
    }
    state.consumers++;
    return new MemoryConsumer(this, state);
  }

  /** @internal The next messages of a group, at most `max`. */
  take(group: Group, max: number): StreamMessage[] {
    const taken: StreamMessage[] = [];
    while (taken.length < max && group.returned.length > 0) taken.push(this.#at(group.returned.shift()!));
    while (taken.length < max && group.position < this.endOffset) taken.push(this.#at(group.position++));
    return taken;
  }

  /** @internal */
  wait(wake: () => void): () => void {
    this.#waiters.push(wake);
    return () => {
      this.#waiters = this.#waiters.filter((w) => w !== wake);
    };
  }

  /** @internal */
  ack(group: Group, offsets: readonly number[]): void {
    for (const offset of offsets) if (offset >= group.committed) group.acked.add(offset);
    while (group.acked.delete(group.committed)) group.committed++;
    let floor = Number.POSITIVE_INFINITY;
    for (const g of this.#groups.values()) floor = Math.min(floor, g.committed);
    if (floor > this.#base) {
      this.#log.splice(0, floor - this.#base);
      this.#base = floor;
    }
  }

  /** @internal A closing consumer's unacknowledged offsets go to the group's other consumers. */
  giveBack(group: Group, offsets: Iterable<number>): void {
    group.consumers--;
    if (group.consumers === 0) return; // the next consumer starts at the committed offset
    group.returned = [...group.returned, ...offsets].sort((a, b) => a - b);
    if (group.returned.length > 0) this.#wake();
  }

  #at(offset: number): StreamMessage {
    return this.#log[offset - this.#base]!;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

class MemoryConsumer implements StreamBackend {
  readonly #topic: MemoryTopic;
  readonly #group: Group;
  /** Offsets received and not acknowledged. */
  readonly #outstanding = new Set<number>();
  #closed = false;
  #cancelWait: (() => void) | undefined;
  #wake: (() => void) | undefined;

  constructor(topic: MemoryTopic, group: Group) {
    this.#topic = topic;
    this.#group = group;
  }

  async receive(): Promise<StreamMessage[] | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const messages = this.#topic.take(this.#group, kBatch);
      if (messages.length > 0) {
        for (const message of messages) this.#outstanding.add(message.position as number);
        return messages;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#cancelWait = this.#topic.wait(resolve);
      });
    }
  }

  ack(positions: readonly StreamPosition[]): void {
    if (this.#closed) return;
    for (const position of positions) this.#outstanding.delete(position as number);
    this.#topic.ack(this.#group, positions as readonly number[]);
  }

  lag(): number {
    return this.#topic.endOffset - this.#group.position + this.#group.returned.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#topic.giveBack(this.#group, this.#outstanding);
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
