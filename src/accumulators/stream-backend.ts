/**
 * The stream backend seam: how a stream accumulator reads a topic. A backend is made by a
 * factory registered under a type (`runtime.registerStreamBackend(type, factory)`); `'memory'`
 * is built in (`memory-broker.ts`).
 */
import { describe } from '../model/describe.js';
import { ConfigurationError, RegistrationError } from '../model/errors.js';

/** One message of a topic. */
export interface StreamMessage {
  /** Position in the topic; committing it means everything up to it was processed. */
  readonly offset: number;
  readonly value: unknown;
  /** Epoch milliseconds when the message was published, if the backend knows. */
  readonly timestamp?: number;
}

/** A connected consumer of one topic in one consumer group. */
export interface StreamBackend {
  /** The next message; waits for one. Resolves `undefined` once the backend is closed. Rejects on failure. */
  receive(): Promise<StreamMessage | undefined>;
  /** Records that every message up to and including `offset` was processed. */
  commit(offset: number): void | Promise<void>;
  /** Messages published but not yet received, when the backend can tell (for `runtime.idle()`). */
  lag?(): number;
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
}

/** Connects a consumer; throwing or rejecting counts as a connection failure (retried with backoff). */
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
