/**
 * Stream accumulator: consumes a topic through a stream backend (`type`), turns each message
 * into a boundary with `process`, and commits its offset once the boundary is delivered, so a
 * message is processed at least once across a reconnect.
 *
 * Backpressure: while a reactor it feeds has no room, it stops receiving (the backend keeps the
 * messages). A failed connect or receive is retried after 1, 2, 4, 8, 16 s (doubling, capped at
 * 60 s); when the fifth retry fails too it is marked `disconnected` for good (its reactors go
 * `degraded`). A message received resets the count: a backend that connects but cannot deliver
 * still runs out of retries. `runtime.push` delivers an event as if it had been received.
 */
import { AccumulatorError, ConfigurationError, RegistrationError } from '../model/errors.js';
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
import type { StreamBackend, StreamBackendFactory } from './stream-backend.js';

/** Retry schedule of a failing backend. */
export interface StreamRetryOptions {
  /** First backoff in ms; default 1000. Doubles per consecutive failure. */
  readonly baseMs?: number;
  /** Longest backoff in ms; default 60,000. */
  readonly maxMs?: number;
  /** Retries after consecutive failures before giving up (`disconnected`); default 5, so 1, 2, 4, 8, 16 s. */
  readonly maxRetries?: number;
}

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
    baseMs: options.retry?.baseMs ?? 1000,
    maxMs: options.retry?.maxMs ?? 60_000,
    maxRetries: options.retry?.maxRetries ?? 5,
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

export class StreamAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.Stream;
  readonly config: StreamConfig;
  readonly #process: ((message: unknown) => unknown) | undefined;
  /** Set by the runtime before start: the factory of `config.type`. */
  factory: StreamBackendFactory | undefined;
  #backend: StreamBackend | undefined;
  #stopped = false;
  #busy = false;
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

  start(): void {
    this.#loop = this.#run();
  }

  offer(event: unknown): boolean {
    if (!this.host.canEmit()) return false;
    this.#deliver(event);
    return true;
  }

  override async stop(): Promise<void> {
    this.#stopped = true;
    this.#interrupt?.();
    if (this.#backoff !== undefined) {
      clearTimeout(this.#backoff.timer);
      this.#backoff.resolve();
    }
    await this.#backend?.close();
    await this.#loop;
  }

  /** Messages published but not yet received, when the connected backend can tell; else null. */
  lag(): number | null {
    return this.#backend?.lag?.() ?? null;
  }

  override quiescent(): boolean {
    if (this.#busy) return false;
    if (this.health !== AccumulatorHealth.Live) return true;
    return (this.#backend?.lag?.() ?? 0) === 0 || !this.host.canEmit();
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
          this.host.setHealth(AccumulatorHealth.Live);
        }
        if (!this.host.canEmit()) await this.#unlessStopped(this.host.whenCanEmit());
        if (this.#stopped) break;
        const message = await this.#backend.receive();
        if (message === undefined) break; // closed
        this.#consecutiveFailures = 0;
        this.#busy = true;
        this.#deliver(message.value);
        await this.#backend.commit(message.offset);
        this.#busy = false;
        this.host.progressed();
      } catch (error) {
        this.#busy = false;
        if (this.#stopped) break;
        if (!(await this.#failed(error))) return;
      }
    }
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
    if (this.factory === undefined) {
      throw new RegistrationError(
        type,
        `accumulator '${this.name}': no stream backend of type '${type}' is registered`,
      );
    }
    return this.factory({ accumulator: this.name, topic, group, options });
  }

  #deliver(value: unknown): void {
    this.events++;
    const process = this.#process;
    const out = process === undefined ? value : this.guard('process', value, () => process(value));
    if (out !== undefined) this.host.emit(out);
  }

  /** Counts a backend failure; waits out the backoff and returns true to retry, false when giving up. */
  async #failed(error: unknown): Promise<boolean> {
    const failures = ++this.#consecutiveFailures;
    const { baseMs, maxMs, maxRetries } = this.config.retry;
    const backend = this.#backend;
    this.#backend = undefined;
    try {
      await backend?.close();
    } catch {
      // The backend already failed; a failing close adds nothing to report.
    }
    const givingUp = failures > maxRetries;
    this.failures++;
    this.host.fail(
      new AccumulatorError(
        this.name,
        `accumulator '${this.name}': stream backend '${this.config.type}' failed (${failures} in a row): ${error instanceof Error ? error.message : String(error)}${givingUp ? '; giving up' : ''}`,
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
