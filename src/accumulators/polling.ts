/**
 * Polling accumulator: calls `poll()` every `interval`, the first time one interval after start.
 * A result other than `undefined` becomes a boundary and is checkpointed; `undefined` means "no
 * change". A poll still running when the next tick comes makes that tick skip, so polls never
 * overlap. After a restart on a checkpoint file the last polled value is delivered once at start.
 * A pushed event becomes a boundary as if it had been polled (but is not checkpointed).
 */
import { ConfigurationError } from '../model/errors.js';
import { rejectUnknownKeys, requireOptionsObject } from '../model/options.js';
import { parseDuration } from '../model/duration.js';
import { AccumulatorHealth } from '../model/health.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';

export interface PollingAccumulatorOptions<O = unknown> {
  readonly name: string;
  /** Duration between polls, such as `'5s'`; must be more than zero. */
  readonly interval: string;
  /** Returns the new value, or `undefined` for no change. May be async. */
  readonly poll: () => O | undefined | Promise<O | undefined>;
}

/**
 * Declares a polling accumulator. Throws `ConfigurationError` for a zero or malformed interval.
 *
 * @example
 * pollingAccumulator({ name: 'config', interval: '5s', poll: async () => readConfig() })
 */
export function pollingAccumulator<O>(options: PollingAccumulatorOptions<O>): AccumulatorDeclaration {
  requireOptionsObject('pollingAccumulator', options);
  const name = requireName(AccumulatorKind.Polling, options.name);
  const owner = `polling accumulator '${name}'`;
  rejectUnknownKeys(owner, options, ['name', 'interval', 'poll']);
  const intervalMs = parseDuration(options.interval, `${owner} interval`);
  if (intervalMs === 0)
    throw new ConfigurationError(
      owner,
      options.interval,
      `${owner}: interval '${options.interval}' must be more than zero`,
    );
  if (typeof options.poll !== 'function')
    throw new ConfigurationError(owner, options.poll, `${owner}: 'poll' must be a function`);
  const poll = options.poll as () => unknown;
  return declareAccumulator(AccumulatorKind.Polling, name, () => new PollingAccumulator(name, intervalMs, poll));
}

class PollingAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.Polling;
  readonly #intervalMs: number;
  readonly #poll: () => unknown;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #last: { value: unknown } | undefined;

  constructor(name: string, intervalMs: number, poll: () => unknown) {
    super(name);
    this.#intervalMs = intervalMs;
    this.#poll = poll;
  }

  start(restored: unknown): void {
    this.reset(restored);
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.host.setHealth(AccumulatorHealth.Live);
  }

  /** The last polled value becomes the restored one, delivered once (as at start). */
  override reset(restored: unknown): void {
    this.#last = undefined;
    if (restored === undefined) return;
    this.#last = { value: restored };
    this.emitOwn(restored);
  }

  offer(event: unknown): boolean {
    return this.offerEach(event, undefined);
  }

  override async stop(): Promise<void> {
    clearInterval(this.#timer);
  }

  override checkpointData(): unknown {
    return this.#last?.value;
  }

  override quiescent(): boolean {
    return !this.#polling;
  }

  async #tick(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    this.events++;
    let value: unknown;
    try {
      value = await this.#poll();
    } catch (error) {
      this.reportFailure(`poll threw: ${error instanceof Error ? error.message : String(error)}`, undefined, error);
      this.host.progressed();
      return;
    } finally {
      this.#polling = false;
    }
    if (value !== undefined) value = this.own(value, 'the value poll() returned');
    if (value !== undefined) {
      this.#last = { value };
      this.host.save();
      this.emitOwn(value);
    }
    this.host.progressed();
  }
}
