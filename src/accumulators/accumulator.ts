/**
 * What every accumulator kind shares: a declaration (what `passthroughAccumulator({...})` and
 * friends return, validated eagerly and reusable across runtimes) and the live instance a
 * runtime makes of it, which talks to the runtime only through an {@link AccumulatorHost}.
 */
import { describe } from '../model/describe.js';
import { AccumulatorError, ConfigurationError, KeyError, StateError } from '../model/errors.js';
import { AccumulatorHealth } from '../model/health.js';
import { isThenable } from '../model/own-properties.js';
import { ValueFault } from '../model/value-fault.js';
import { copyValue } from '../model/values.js';
import type { StreamBackendFactory } from './stream-backend.js';

/** The accumulator kinds. */
export const AccumulatorKind = {
  Passthrough: 'passthrough',
  Stream: 'stream',
  Polling: 'polling',
  Batch: 'batch',
  State: 'state',
} as const;
export type AccumulatorKind = (typeof AccumulatorKind)[keyof typeof AccumulatorKind];

const kDeclaration = Symbol.for('cloaca.accumulator');

/** A validated accumulator declaration; `Runtime.register` makes a live instance of it. */
export interface AccumulatorDeclaration {
  readonly kind: AccumulatorKind;
  readonly name: string;
  /** @internal Makes the live instance. */
  readonly [kDeclaration]: () => Accumulator;
}

/** True for what the accumulator factories return. */
export function isAccumulatorDeclaration(value: unknown): value is AccumulatorDeclaration {
  return typeof value === 'object' && value !== null && kDeclaration in value;
}

/** Makes a declaration whose instances come from `create`. */
export function declareAccumulator(
  kind: AccumulatorKind,
  name: string,
  create: () => Accumulator,
): AccumulatorDeclaration {
  return Object.freeze({ kind, name, [kDeclaration]: create });
}

/** Makes the live instance of a declaration. */
export function instantiate(declaration: AccumulatorDeclaration): Accumulator {
  return declaration[kDeclaration]();
}

/** What the runtime gives a live accumulator. */
export interface AccumulatorHost {
  /**
   * Delivers a boundary to every reactor this accumulator feeds (`key`: the keyed reactors' key
   * for it, instead of reading it from the value). False when a keyed reactor has
   * no room for the value's key (nothing was delivered: retry once {@link canEmit} holds again);
   * throws KeyError when the value has no valid key for one of them.
   */
  emit(value: unknown, key?: string): boolean;
  /**
   * The key of `value` for the keyed reactor this accumulator feeds (a batch or state
   * accumulator then buffers per key and emits with that key), or undefined when it feeds none
   * (or only as a broadcast source). Throws KeyError for a value without a valid key.
   */
  keyOf(value: unknown): string | undefined;
  /** Reports a dropped event (counted, emitted as an `error` event); the accumulator keeps running. */
  fail(error: AccumulatorError): void;
  /** Moves the accumulator's health. */
  setHealth(health: AccumulatorHealth): void;
  /** Marks the checkpoint data stale; the runtime reads `checkpointData()` at its next commit. */
  save(): void;
  /** True while every reactor this accumulator feeds has room for another boundary. */
  canEmit(): boolean;
  /** Resolves when {@link canEmit} next holds (at once if it holds now). */
  whenCanEmit(): Promise<void>;
  /** Something finished (a message, a poll, a flush): lets the runtime re-check `idle()` and writers. */
  progressed(): void;
  /**
   * Resolves once every boundary this accumulator emitted so far is durable: committed to the
   * checkpoint when the runtime has one, at once otherwise (delivery to the reactors is
   * synchronous). Rejects when the checkpoint commit failed; a later call resolves only once
   * those boundaries too are committed.
   */
  durable(): Promise<void>;
  /** The runtime's bound on queues: the most events a buffer without a size of its own may hold. */
  readonly queueCapacity: number;
  /** The runtime's `id` option, when it has one. */
  readonly runtimeId: string | undefined;
  /** The stream backend factory registered under `type`; throws RegistrationError naming it when none is. */
  streamBackend(type: string): StreamBackendFactory;
}

/** A live accumulator owned by one runtime. */
export abstract class Accumulator {
  abstract readonly kind: AccumulatorKind;
  readonly name: string;
  health: AccumulatorHealth = AccumulatorHealth.Starting;
  /** Events offered (pushed, received, polled). */
  events = 0;
  /** Events dropped because processing threw. */
  failures = 0;
  #host: AccumulatorHost | null = null;

  constructor(name: string) {
    this.name = name;
  }

  protected get host(): AccumulatorHost {
    if (this.#host === null) {
      throw new StateError(this.name, 'detached', `accumulator '${this.name}' is not attached to a runtime`);
    }
    return this.#host;
  }

  /** Connects the instance to its runtime. */
  attach(host: AccumulatorHost): void {
    this.#host = host;
  }

  /**
   * Starts the accumulator; `restored` is what `checkpointData()` returned in an earlier run on
   * the same checkpoint file, if anything.
   */
  abstract start(restored: unknown): void | Promise<void>;

  /**
   * Drops what it holds for the checkpoint (buffers, windows, the last polled value, a stream's
   * received and unacknowledged messages) and takes `restored` instead, as {@link start} would,
   * emitting what a start emits; its timers stay. Called while the runtime does not act, when
   * the state it held turned out stale. What it drops synchronously is gone when this returns;
   * a returned promise settles once it is running again.
   */
  reset(_restored: unknown): void | Promise<void> {}

  /** The push path (`runtime.push`, `host.push`): false when the event was not accepted (backpressure). */
  abstract offer(event: unknown): boolean;

  /** True when {@link offer} would accept an event now. */
  writable(): boolean {
    return this.host.canEmit();
  }

  /**
   * Checks, at `start()` before anything runs, that the runtime offers what this accumulator
   * needs (a stream backend of its type...); throws RegistrationError naming what is missing.
   */
  check(): void {}

  /**
   * Called after each successful firing of a reactor this accumulator feeds, when defined (a
   * batch accumulator flushes there).
   */
  afterFire?(): void;

  /**
   * Writes a graph's feedback (`feedback: { terminal, accumulator }`), never refused; defined by
   * the kinds that accept feedback (state accumulators).
   */
  writeFeedback?(value: unknown): void;

  /** Stops timers and consumers; a batch accumulator delivers its last batch here. */
  async stop(): Promise<void> {}

  /** What to persist, or undefined for nothing. */
  checkpointData(): unknown {
    return undefined;
  }

  /** Events held here and not yet delivered (a batch's buffer); 0 for kinds that hold nothing. */
  buffered(): number {
    return 0;
  }

  /** The most events it holds before refusing a push, or null when it holds none. */
  bufferCapacity(): number | null {
    return null;
  }

  /** How far behind its source a consuming accumulator (a stream) is, when defined (for metrics). */
  lag?(): { readonly unread: number | undefined; readonly unacknowledged: number };

  /** True when the accumulator has nothing in progress that would deliver a boundary by itself now. */
  quiescent(): boolean {
    return true;
  }

  /**
   * The push path of an accumulator that delivers each event as it comes: `process` (when given)
   * makes the value delivered, and undefined delivers nothing. False when the event was not
   * accepted (no room).
   */
  protected offerEach(event: unknown, process: ((event: unknown) => unknown) | undefined): boolean {
    if (!this.host.canEmit()) return false;
    const value = this.processed(process, event);
    // A keyed reactor without room for the value's key refuses it like a full queue.
    if (value !== undefined && !this.host.emit(value)) return false;
    this.events++;
    return true;
  }

  /**
   * What the user's `process` makes of `input` (the input itself without one), as the
   * accumulator's own value (see {@link own}); undefined when it failed or was refused.
   */
  protected processed<T>(process: ((input: T) => unknown) | undefined, input: T): unknown {
    if (process === undefined) return input;
    const value = this.guard('process', input, () => process(input));
    // Returned as it was given (a filter), the input is already the accumulator's own.
    return value === input ? value : this.own(value, 'the value process() returned');
  }

  /**
   * A value user code made (a `process` or `poll` result, a received message) as a copy by the
   * value rules, as `push` makes of an event: the cache then never holds what no node could
   * receive (every firing would fail on it, and no checkpoint could store it), nor an object
   * the user code goes on changing. A value that cannot be copied is reported and dropped
   * (undefined), so the source keeps its last value; `what` names it in the report.
   */
  protected own(value: unknown, what: string): unknown {
    const copy = copyValue(value);
    if (!(copy instanceof ValueFault)) return copy;
    const error = copy.toError({ accumulator: this.name, what });
    this.reportFailure(`${what} cannot be cloned: ${copy.path} ${copy.detail}; dropped`, value, error);
    return undefined;
  }

  /** Runs a user function on an event; a throw (or a promise) is reported and yields undefined. */
  protected guard<T>(what: string, event: unknown, fn: () => T): T | undefined {
    let value: T;
    try {
      value = fn();
    } catch (error) {
      this.reportFailure(`${what} threw: ${error instanceof Error ? error.message : String(error)}`, event, error);
      return undefined;
    }
    if (isThenable(value)) {
      this.reportFailure(
        `${what} returned a promise; it must be synchronous (do async work in a poll or in graph nodes)`,
        event,
      );
      return undefined;
    }
    return value;
  }

  /**
   * Emits a value the accumulator made by itself (a poll, a flush, a stream message): a value
   * without a valid key for a keyed reactor is reported and dropped, since nobody pushed it to
   * be told. False when a keyed reactor has no room for its key.
   */
  protected emitOwn(value: unknown, key?: string): boolean {
    try {
      return this.host.emit(value, key);
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
      this.reportFailure(`${error.message}; dropped`, value, error);
      return true;
    }
  }

  protected reportFailure(detail: string, event: unknown, cause?: unknown): void {
    this.failures++;
    this.host.fail(
      new AccumulatorError(
        this.name,
        `accumulator '${this.name}': ${detail}`,
        event,
        cause === undefined ? undefined : { cause },
      ),
    );
  }
}

/** Validates an accumulator name. */
export function requireName(kind: AccumulatorKind, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new ConfigurationError(
      `${kind}Accumulator`,
      name,
      `${kind}Accumulator: 'name' must be a non-empty string, got ${describe(name)}`,
    );
  }
  return name;
}
