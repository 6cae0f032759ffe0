/**
 * State accumulator: a window of the values written to it, delivered whole (oldest first) as a
 * boundary on every write. `capacity > 0` keeps the newest `capacity` values, `< 0` keeps all of
 * them, `0` is a write-only sink that keeps and checkpoints its values but never emits.
 * Written by `runtime.push` and by a graph's `feedback` option. After a restart on a checkpoint
 * file the window is restored (trimmed to the capacity declared now) and, unless the
 * accumulator is a sink, delivered once.
 *
 * Feeding a keyed reactor, it keeps a window per key (the key read from each value written) and
 * delivers a key's window with that key.
 */
import { ConfigurationError } from '../model/errors.js';
import { AccumulatorHealth } from '../model/health.js';
import { rejectUnknownKeys, requireOptionsObject } from '../model/options.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';

/** The options of {@link stateAccumulator}. */
export interface StateAccumulatorOptions {
  /** Unique name among the runtime's accumulators and reactors. */
  readonly name: string;
  /**
   * Window size: `> 0` keeps the newest `capacity` values, `< 0` keeps every value, `0` is a
   * write-only sink that never emits.
   * @example 100
   */
  readonly capacity: number;
}

/**
 * Declares a state accumulator. Throws ConfigurationError for a capacity that is not an
 * integer or an unknown option.
 *
 * @example
 * stateAccumulator({ name: 'tick_window', capacity: 100 })
 */
export function stateAccumulator(options: StateAccumulatorOptions): AccumulatorDeclaration {
  requireOptionsObject('stateAccumulator', options);
  const name = requireName(AccumulatorKind.State, options.name);
  const owner = `state accumulator '${name}'`;
  rejectUnknownKeys(owner, options, ['name', 'capacity']);
  const { capacity } = options;
  if (!Number.isInteger(capacity)) {
    throw new ConfigurationError(
      owner,
      capacity,
      `${owner}: 'capacity' must be an integer (> 0 window, < 0 unbounded, 0 sink), got ${String(capacity)}`,
    );
  }
  return declareAccumulator(AccumulatorKind.State, name, () => new StateAccumulator(name, capacity));
}

class StateAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.State;
  readonly #capacity: number;
  #window: unknown[] = [];
  /** Key to its window, when it feeds a keyed reactor. */
  #windows = new Map<string, unknown[]>();

  constructor(name: string, capacity: number) {
    super(name);
    this.#capacity = capacity;
  }

  start(restored: unknown): void {
    this.#take(restored);
    this.host.setHealth(AccumulatorHealth.SocketOnly);
  }

  /** The windows become the restored ones, each delivered once (unless a sink), as at start. */
  override reset(restored: unknown): void {
    this.#window = [];
    this.#windows = new Map();
    this.#take(restored);
  }

  /** Takes restored windows (an array, or `{ keys }` when it fed a keyed reactor) and delivers each. */
  #take(restored: unknown): void {
    if (Array.isArray(restored) && restored.length > 0) {
      this.#window = this.#trim(restored);
      if (this.#capacity !== 0) this.emitOwn([...this.#window]);
    }
    const keyed = (restored as { keys?: unknown } | null)?.keys;
    if (Array.isArray(keyed)) {
      for (const [key, window] of keyed as Array<[string, unknown[]]>) {
        this.#windows.set(key, this.#trim(window));
        if (this.#capacity !== 0) this.emitOwn([...window], key);
      }
    }
  }

  offer(event: unknown): boolean {
    if (!this.host.canEmit()) return false;
    return this.#write(event, this.host.keyOf(event));
  }

  /** Graph feedback is never refused: the firing that produced it already happened. */
  override writeFeedback(value: unknown): void {
    let key: string | undefined;
    try {
      key = this.host.keyOf(value);
    } catch (error) {
      this.reportFailure(
        `feedback without a valid key: ${error instanceof Error ? error.message : String(error)}`,
        value,
        error,
      );
      return;
    }
    this.#write(value, key);
  }

  override checkpointData(): unknown {
    return this.#windows.size === 0 ? this.#window : { keys: [...this.#windows] };
  }

  /** Writes into the window (of `key`, when keyed); false when the key's reactor has no room for it (nothing written). */
  #write(value: unknown, key: string | undefined): boolean {
    if (key === undefined) {
      this.events++;
      this.#window.push(value);
      this.#window = this.#trim(this.#window);
      this.host.save();
      if (this.#capacity !== 0) this.emitOwn([...this.#window]);
      return true;
    }
    const before = this.#windows.get(key) ?? [];
    const window = this.#trim([...before, value]);
    if (this.#capacity !== 0 && !this.emitOwn([...window], key)) return false;
    this.events++;
    this.#windows.set(key, window);
    this.host.save();
    return true;
  }

  #trim(window: unknown[]): unknown[] {
    if (this.#capacity > 0 && window.length > this.#capacity) window.splice(0, window.length - this.#capacity);
    return window;
  }
}
