/**
 * State accumulator: a window of the values written to it, delivered whole (oldest first) as a
 * boundary on every write. `capacity > 0` keeps the newest `capacity` values, `< 0` keeps all of
 * them, `0` is a write-only sink that keeps and checkpoints its values but never emits.
 * Written by `runtime.push` and by a graph's `feedback` option. After a restart on a checkpoint
 * file the window is restored and, unless the accumulator is a sink, delivered once.
 */
import { ConfigurationError } from '../model/errors.js';
import { AccumulatorHealth } from '../model/health.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';

export interface StateAccumulatorOptions {
  readonly name: string;
  /** Window size: `> 0` bounded, `< 0` unbounded, `0` write-only sink. */
  readonly capacity: number;
}

/**
 * Declares a state accumulator.
 *
 * @example
 * stateAccumulator({ name: 'tick_window', capacity: 100 })
 */
export function stateAccumulator(options: StateAccumulatorOptions): AccumulatorDeclaration {
  const name = requireName(AccumulatorKind.State, options?.name);
  const { capacity } = options;
  if (!Number.isInteger(capacity)) {
    throw new ConfigurationError(
      `state accumulator '${name}'`,
      capacity,
      `state accumulator '${name}': 'capacity' must be an integer (> 0 window, < 0 unbounded, 0 sink), got ${String(capacity)}`,
    );
  }
  return declareAccumulator(AccumulatorKind.State, name, () => new StateAccumulator(name, capacity));
}

export class StateAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.State;
  readonly capacity: number;
  #window: unknown[] = [];

  constructor(name: string, capacity: number) {
    super(name);
    this.capacity = capacity;
  }

  start(restored: unknown): void {
    if (Array.isArray(restored) && restored.length > 0) {
      this.#window = restored;
      if (this.capacity !== 0) this.host.emit([...this.#window]);
    }
    this.host.setHealth(AccumulatorHealth.SocketOnly);
  }

  offer(event: unknown): boolean {
    if (!this.host.canEmit()) return false;
    this.write(event);
    return true;
  }

  /** Appends a value and delivers the window; also the path of graph feedback, which is never refused. */
  write(value: unknown): void {
    this.events++;
    const window = this.#window;
    window.push(value);
    if (this.capacity > 0 && window.length > this.capacity) window.splice(0, window.length - this.capacity);
    this.host.save();
    if (this.capacity !== 0) this.host.emit([...window]);
  }

  override checkpointData(): unknown {
    return this.#window;
  }
}
