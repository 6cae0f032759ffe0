/**
 * Passthrough accumulator: each pushed event goes through `process` (identity by default) and
 * becomes a boundary at once; `process` returning `undefined` drops the event.
 */
import { optionalFunction, rejectUnknownKeys, requireOptionsObject } from '../model/options.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';
import { AccumulatorHealth } from '../model/health.js';

export interface PassthroughAccumulatorOptions<E = unknown, O = unknown> {
  readonly name: string;
  /** Turns an event into a boundary value; `undefined` drops it. Synchronous. Default: identity. */
  readonly process?: (event: E) => O | undefined;
}

/**
 * Declares a passthrough accumulator.
 *
 * @example
 * passthroughAccumulator({ name: 'alpha', process: (e) => (e.value > 0 ? e : undefined) })
 */
export function passthroughAccumulator<E, O>(options: PassthroughAccumulatorOptions<E, O>): AccumulatorDeclaration {
  requireOptionsObject('passthroughAccumulator', options);
  const name = requireName(AccumulatorKind.Passthrough, options.name);
  rejectUnknownKeys(`passthrough accumulator '${name}'`, options, ['name', 'process']);
  const process = optionalFunction<(event: unknown) => unknown>(
    `passthrough accumulator '${name}'`,
    'process',
    options.process,
  );
  return declareAccumulator(AccumulatorKind.Passthrough, name, () => new PassthroughAccumulator(name, process));
}

class PassthroughAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.Passthrough;
  readonly #process: ((event: unknown) => unknown) | undefined;

  constructor(name: string, process: ((event: unknown) => unknown) | undefined) {
    super(name);
    this.#process = process;
  }

  start(): void {
    this.host.setHealth(AccumulatorHealth.SocketOnly);
  }

  offer(event: unknown): boolean {
    return this.offerEach(event, this.#process);
  }
}
