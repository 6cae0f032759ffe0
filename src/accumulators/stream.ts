/**
 * Stream accumulator: consumes a topic through a stream backend (`type`), turns each message
 * into a boundary with `process`, and acknowledges it once that boundary is durable (committed
 * to the checkpoint when the runtime has one, delivered to the reactors otherwise), so every
 * message is processed at least once across a crash or a reconnect. Acknowledgements go in
 * batches while reading goes on (`stream-acks.ts`).
 *
 * Backpressure: while a reactor it feeds has no room, it stops handling and receiving (the
 * backend keeps the messages). A failed connect or receive is retried after 1, 2, 4, 8, 16 s
 * (doubling, capped at 60 s); when the fifth retry fails too it is marked `disconnected` for good
 * (its reactors go `degraded`). A receive that succeeds resets the count: a backend that
 * connects but cannot read still runs out of retries. A factory that throws a
 * ConfigurationError is not retried, nor is a backend whose `receive()` answers something other than
 * an array of messages. `runtime.push` delivers an event as if it had been received.
 */
import { AccumulatorError, ConfigurationError } from '../model/errors.js';
import { describe } from '../model/describe.js';
import { AccumulatorHealth } from '../model/health.js';
import { optionalFunction } from '../model/options.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';
import { Acknowledger } from './stream-acks.js';
import type { StreamBackend, StreamMessage } from './stream-backend.js';

/** Retry schedule of a failing backend. */
export interface StreamRetryOptions {
  /** First backoff in ms; default 1000. Doubles per consecutive failure. */
  readonly baseMs?: number;
  /** Longest backoff in ms; default 60,000. */
  readonly maxMs?: number;
  /** Retries after consecutive failures before giving up (`disconnected`); default 5, so 1, 2, 4, 8, 16 s. */
  readonly maxRetries?: number;
}

/** What {@link StreamRetryOptions} default to: retries after 1, 2, 4, 8 and 16 s. */
const streamRetryDefaults = { baseMs: 1000, maxMs: 60_000, maxRetries: 5 } as const;

export interface StreamAccumulatorOptions<M = unknown, O = unknown> {
  readonly name: string;
  /** Backend type: `'memory'`, or one registered with `runtime.registerStreamBackend`. */
  readonly type: string;
  readonly topic: string;
  /** Consumer group; default `'<name>_group'`. */
  readonly group?: string;
  /** Turns a message value into a boundary value; `undefined` drops it. Synchronous. Default: identity. */
  readonly process?: (message: M) => O | undefined;
  /** Passed to the backend factory. */
  readonly options?: Readonly<Record<string, unknown>>;
  readonly retry?: StreamRetryOptions;
}

/**
 * Declares a stream accumulator.
 *
 * @example
 * streamAccumulator({ name: 'book', type: 'memory', topic: 'orderbook', group: 'mm', process: (msg) => msg })
 */
export function streamAccumulator<M, O>(options: StreamAccumulatorOptions<M, O>): AccumulatorDeclaration {
  const name = requireName(AccumulatorKind.Stream, options?.name);
  const owner = `stream accumulator '${name}'`;
  for (const key of ['type', 'topic'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') {
      throw new ConfigurationError(
        owner,
        options[key],
        `${owner}: '${key}' must be a non-empty string, got ${describe(options[key])}`,
      );
    }
  }
  const group = options.group ?? `${name}_group`;
  const process = optionalFunction<(message: unknown) => unknown>(owner, 'process', options.process);
  const retry = {
    baseMs: options.retry?.baseMs ?? streamRetryDefaults.baseMs,
    maxMs: options.retry?.maxMs ?? streamRetryDefaults.maxMs,
    maxRetries: options.retry?.maxRetries ?? streamRetryDefaults.maxRetries,
  };
  for (const [key, value] of Object.entries(retry)) {
    if (!(Number.isInteger(value) && value > 0))
      throw new ConfigurationError(
        owner,
        value,
        `${owner}: retry.${key} must be a positive integer, got ${describe(value)}`,
      );
  }
  const config = { type: options.type, topic: options.topic, group, options: options.options ?? {}, retry };
  return declareAccumulator(AccumulatorKind.Stream, name, () => new StreamAccumulator(name, config, process));
}

interface StreamConfig {
  readonly type: string;
  readonly topic: string;
  readonly group: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly retry: Required<StreamRetryOptions>;
}

/** How far behind its stream a consumer is (see {@link StreamAccumulator.lag}). */
export interface StreamLag {
  /** Messages published that the group has not read yet, as the backend last knew; undefined when it cannot tell. */
  readonly unread: number | undefined;
  /** Messages this accumulator received and has not acknowledged yet. */
  readonly unacknowledged: number;
}

const kNoMessages: readonly StreamMessage[] = [];

export class StreamAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.Stream;
  readonly config: StreamConfig;
  readonly #process: ((message: unknown) => unknown) | undefined;
  #backend: StreamBackend | undefined;
  #acks: Acknowledger | undefined;
  /** The batch received last; messages from `#next` on wait for room in the reactors. */
  #batch: readonly StreamMessage[] = kNoMessages;
  #next = 0;
  /** The loop is to end: stop() was called, or reset() is restarting it. */
  #stopped = false;
  /** stop() was called: nothing starts again. */
  #closed = false;
  #consecutiveFailures = 0;
  #backoff: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  /** Ends the loop's current wait for a connect or for room (see #unlessStopped). */
  #interrupt: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(name: string, config: StreamConfig, process: ((message: unknown) => unknown) | undefined) {
    super(name);
    this.config = config;
    this.#process = process;
  }

  override check(): void {
    this.host.streamBackend(this.config.type);
  }

  start(): void {
    this.#loop = this.#run();
  }

  offer(event: unknown): boolean {
    return this.offerEach(event, this.#process);
  }

  /**
   * Drops the messages received and not acknowledged yet, without acknowledging them (the
   * boundaries made of them were dropped), and connects again: like at a start, the backend
   * delivers again what this consumer left unacknowledged (a Redis consumer re-reads its
   * pending entries). Acknowledging an entry that another runtime of the same consumer name
   * acknowledged meanwhile does no harm.
   */
  override async reset(): Promise<void> {
    if (this.#closed) return;
    this.#acks?.discard();
    this.#batch = kNoMessages;
    this.#next = 0;
    this.#endLoop();
    const backend = this.#backend;
    this.#backend = undefined;
    this.#acks = undefined;
    try {
      await backend?.close();
    } catch {
      // Closed so as to connect again: a failing close leaves nothing to do.
    }
    await this.#loop;
    if (this.#closed) return;
    this.#stopped = false;
    this.#consecutiveFailures = 0;
    this.#loop = this.#run();
  }

  override async stop(): Promise<void> {
    this.#closed = true;
    this.#endLoop();
    // What was handled is acknowledged before the connection closes; what was received and not
    // handled stays unacknowledged, for the backend to deliver again.
    await this.#acks?.drain();
    await this.#backend?.close();
    await this.#loop;
  }

  override quiescent(): boolean {
    if (this.#stopped) return true;
    // A round of acknowledgements in flight reports its end (progressed).
    if (this.#acks?.busy === true) return false;
    if (this.health !== AccumulatorHealth.Live || !this.host.canEmit()) return true;
    if (this.#next < this.#batch.length) return false;
    // A backend that tracks its lag is caught up only at 0 (undefined: it does not know yet).
    const backend = this.#backend;
    return backend?.lag === undefined || backend.lag() === 0;
  }

  /**
   * How far behind its stream this consumer is, for metrics: `unread`, messages published that
   * its group has not read yet, as the backend last knew (undefined when it cannot tell, or
   * while disconnected); `unacknowledged`, messages received and not acknowledged yet (waiting
   * for room in the reactors, or for their boundaries to become durable).
   */
  override lag(): StreamLag {
    return {
      unread: this.#backend?.lag?.(),
      unacknowledged: this.#batch.length - this.#next + (this.#acks?.pending ?? 0),
    };
  }

  /** Ends the loop's waits (a connect, room, a backoff): it ends at its next step. */
  #endLoop(): void {
    this.#stopped = true;
    this.#interrupt?.();
    if (this.#backoff !== undefined) {
      clearTimeout(this.#backoff.timer);
      this.#backoff.resolve();
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#backend === undefined) {
          this.host.setHealth(AccumulatorHealth.Connecting);
          const connecting = this.#connect();
          const backend = await this.#unlessStopped(connecting);
          if (backend === undefined || this.#stopped) {
            // Stopped while connecting: a backend that connects after all is closed at once.
            connecting.then((late) => late.close()).catch(() => {});
            break;
          }
          this.#backend = backend;
          this.#acks = this.#acknowledger(backend);
          this.host.setHealth(AccumulatorHealth.Live);
        }
        await this.#handleBatch(this.#acks!);
        if (this.#stopped) break;
        this.#acks!.flush();
        const batch = await this.#backend.receive();
        if (batch === undefined || this.#stopped) break; // closed
        if (!Array.isArray(batch)) throw this.#notABatch(batch);
        this.#consecutiveFailures = 0;
        this.#batch = batch;
        this.#next = 0;
        // An empty batch: the backend waited for nothing, so its lag may have dropped to 0.
        if (batch.length === 0) this.host.progressed();
      } catch (error) {
        if (this.#stopped) break;
        if (!(await this.#failed(error))) return;
      }
    }
  }

  /** Handles the messages of the last batch, each once its reactors have room. */
  async #handleBatch(acks: Acknowledger): Promise<void> {
    const batch = this.#batch;
    if (this.#next >= batch.length) return;
    while (this.#next < batch.length) {
      if (!this.host.canEmit()) {
        acks.flush(); // what was handled is acknowledged meanwhile
        await this.#unlessStopped(this.host.whenCanEmit());
        if (this.#stopped) return;
      }
      const message = batch[this.#next]!;
      if (message.invalid === undefined) {
        // A keyed reactor without room for its key: the message waits, like a full queue.
        if (!this.#deliver(message.value)) continue;
      } else this.#reportInvalid(message.invalid);
      this.#next++;
      this.events++;
      acks.add(message.position);
    }
    this.#batch = kNoMessages;
    this.#next = 0;
    this.host.progressed();
  }

  #acknowledger(backend: StreamBackend): Acknowledger {
    const acks: Acknowledger = new Acknowledger(backend, {
      durable: () => this.host.durable(),
      failed: (error, count) => {
        if (this.#acks !== acks) return; // the backend failed, and that is reported already
        this.host.fail(
          new AccumulatorError(
            this.name,
            `accumulator '${this.name}': stream backend '${this.config.type}' failed to acknowledge ${count} messages of '${this.config.topic}' (they will be delivered again): ${error instanceof Error ? error.message : String(error)}`,
            undefined,
            { cause: error },
          ),
        );
      },
      settled: () => this.host.progressed(),
    });
    return acks;
  }

  /**
   * Waits for `promise`, or resolves undefined as soon as stop() is called: a connect that never
   * settles, or a reactor that never makes room (paused), must not hold up shutdown.
   */
  #unlessStopped<T>(promise: Promise<T>): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      this.#interrupt = () => resolve(undefined);
      promise.then(resolve, reject);
    });
  }

  async #connect(): Promise<StreamBackend> {
    const { type, topic, group, options } = this.config;
    const runtimeId = this.host.runtimeId;
    return this.host.streamBackend(type)({
      accumulator: this.name,
      topic,
      group,
      options,
      ...(runtimeId === undefined ? {} : { runtimeId }),
    });
  }

  /**
   * Delivers a received message; false when a keyed reactor has no room for its key. A message
   * without a valid key is reported and acknowledged, like one that cannot be decoded.
   */
  #deliver(value: unknown): boolean {
    // A backend may hand every group the publisher's own object (the memory backend does).
    const message = this.own(value, 'a received message');
    if (message === undefined) return true;
    const out = this.processed(this.#process, message);
    return out === undefined || this.emitOwn(out);
  }

  /** A message the backend could not decode: reported, never delivered. */
  #reportInvalid(error: Error): void {
    if (error instanceof AccumulatorError) {
      this.failures++;
      this.host.fail(error);
    } else {
      this.reportFailure(
        `a message of '${this.config.topic}' could not be decoded: ${error.message}`,
        undefined,
        error,
      );
    }
  }

  /**
   * A backend whose `receive()` answers something other than a batch is broken, not failing:
   * reading on would deliver nothing and say nothing, so it is refused for good.
   */
  #notABatch(received: unknown): ConfigurationError {
    return new ConfigurationError(
      this.name,
      received,
      `receive() must resolve to an array of messages (or undefined once closed), got ${describe(received)}`,
    );
  }

  /** Counts a backend failure; waits out the backoff and returns true to retry, false when giving up. */
  async #failed(error: unknown): Promise<boolean> {
    const failures = ++this.#consecutiveFailures;
    const { baseMs, maxMs, maxRetries } = this.config.retry;
    const backend = this.#backend;
    const acks = this.#acks;
    this.#backend = undefined;
    this.#acks = undefined;
    // Messages not handled yet are the backend's to deliver again; those handled are still
    // acknowledged if the backend can (a failure then is the one already being reported).
    this.#batch = kNoMessages;
    this.#next = 0;
    try {
      await acks?.drain();
      await backend?.close();
    } catch {
      // The backend already failed; a failing close adds nothing to report.
    }
    const permanent = error instanceof ConfigurationError;
    const givingUp = permanent || failures > maxRetries;
    this.failures++;
    this.host.fail(
      new AccumulatorError(
        this.name,
        `accumulator '${this.name}': stream backend '${this.config.type}' failed${permanent ? '' : ` (${failures} in a row)`}: ${error instanceof Error ? error.message : String(error)}${givingUp ? '; giving up' : ''}`,
        undefined,
        { cause: error },
      ),
    );
    if (givingUp) {
      this.host.setHealth(AccumulatorHealth.Disconnected);
      return false;
    }
    this.host.setHealth(AccumulatorHealth.Connecting);
    const delay = Math.min(baseMs * 2 ** (failures - 1), maxMs);
    await new Promise<void>((resolve) => {
      this.#backoff = { timer: setTimeout(resolve, delay), resolve };
    });
    this.#backoff = undefined;
    return true;
  }
}
