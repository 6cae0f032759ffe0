/**
 * The stream backend seam: how a stream accumulator reads a topic. A backend is made by a
 * factory registered under a type (`runtime.registerStreamBackend(type, factory)`); `'memory'`
 * (`memory-broker.ts`) and `'redis'` (`redis-stream.ts`) are built in.
 *
 * The seam fits real logs: a position is opaque (an offset, a Redis entry id, a Kafka partition
 * and offset), messages arrive in batches, and the accumulator acknowledges positions in sets.
 * It acknowledges the position of every message it handled (delivered, dropped by `process`,
 * or reported as invalid) exactly once, in the order received, and only once the boundary made
 * of it is durable; so a backend with per-message acknowledgements (Redis `XACK`) acknowledges
 * each, and one with committed offsets (Kafka) may commit, per partition, past the highest
 * position of the set. Messages received but not handled when the consumer stops or its
 * connection fails are never acknowledged: like every unacknowledged message, the backend
 * delivers them again (at least once).
 */
import { describe } from '../model/describe.js';
import { ConfigurationError, RegistrationError } from '../model/errors.js';

/**
 * Where a message sits in its topic. Only the backend that produced it reads it: the
 * accumulator hands it back to {@link StreamBackend.ack}.
 */
export type StreamPosition = unknown;

/** One message of a topic. */
export interface StreamMessage {
  /** Where the message sits in its topic, handed back to {@link StreamBackend.ack}. */
  readonly position: StreamPosition;
  /** The event; absent when {@link invalid} is set. */
  readonly value?: unknown;
  /**
   * Set instead of a value when the message cannot be decoded (a Redis entry whose `data` is
   * not JSON): the accumulator reports it as an `error` event, delivers nothing and
   * acknowledges it. Copying it somewhere (a dead-letter stream) is the backend's job, done
   * before it returns the message.
   */
  readonly invalid?: Error;
  /** Epoch milliseconds when the message was published, if the backend knows. */
  readonly timestamp?: number;
}

/** A connected consumer of one topic in one consumer group. */
export interface StreamBackend {
  /**
   * The next messages, oldest first; waits for at least one, or resolves an empty batch when
   * it waited a while for nothing (so the consumer can look around). Resolves `undefined`
   * once the backend is closed. Rejects when the connection fails (retried with backoff).
   */
  receive(): Promise<readonly StreamMessage[] | undefined>;
  /**
   * Acknowledges messages this consumer received: their boundaries are durable. Called with
   * each position once, in the order received, several per call; the next call may come
   * before this one settles. A rejection is reported; the positions are left unacknowledged
   * (delivered again later).
   */
  ack(positions: readonly StreamPosition[]): void | Promise<void>;
  /**
   * Messages published to the topic that the group has not read yet, as last known; undefined
   * when the backend cannot tell. Read for `runtime.idle()` and for metrics.
   */
  lag?(): number | undefined;
  /** Disconnects; a pending `receive()` resolves `undefined`. */
  close(): void | Promise<void>;
}

/** What a factory is given. */
export interface StreamBackendConfig {
  /** The stream accumulator's name. */
  readonly accumulator: string;
  readonly topic: string;
  readonly group: string;
  /** The accumulator's `options`, passed through. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The runtime's `id` option, when it has one: the default consumer name of a backend that names consumers. */
  readonly runtimeId?: string;
}

/**
 * Connects a consumer. Throwing or rejecting counts as a connection failure, retried with
 * backoff; a {@link ConfigurationError} says the configuration can never work and is not retried.
 */
export type StreamBackendFactory = (config: StreamBackendConfig) => StreamBackend | Promise<StreamBackend>;

/** Stream backend factories by type. */
export class StreamBackendRegistry {
  readonly #factories = new Map<string, StreamBackendFactory>();

  /** Registers (or replaces) the factory of `type`. */
  register(type: string, factory: StreamBackendFactory): void {
    if (typeof type !== 'string' || type === '') {
      throw new ConfigurationError(
        'registerStreamBackend',
        type,
        `registerStreamBackend: 'type' must be a non-empty string, got ${describe(type)}`,
      );
    }
    if (typeof factory !== 'function') {
      throw new ConfigurationError(
        'registerStreamBackend',
        factory,
        `registerStreamBackend('${type}'): the factory must be a function, got ${describe(factory)}`,
      );
    }
    this.#factories.set(type, factory);
  }

  has(type: string): boolean {
    return this.#factories.has(type);
  }

  /** The factory of `type`; throws RegistrationError naming the known types when there is none. */
  get(type: string): StreamBackendFactory {
    const factory = this.#factories.get(type);
    if (factory === undefined) {
      throw new RegistrationError(
        type,
        `no stream backend of type '${type}' is registered (known: ${[...this.#factories.keys()].join(', ')}); register one with runtime.registerStreamBackend(type, factory)`,
      );
    }
    return factory;
  }
}
