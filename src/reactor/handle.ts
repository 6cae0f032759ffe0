/**
 * `runtime.reactor(name)`: the commands a user has over one reactor.
 */
import { InvalidArgumentError } from '../model/errors.js';
import { ValueFault } from '../model/value-fault.js';
import { copyValue, inputRoot } from '../model/values.js';
import type { Reactor } from './reactor.js';
import type { FireRecord, ReactorState } from './records.js';

export class ReactorHandle {
  readonly #reactor: Reactor;

  /** @internal Made by `Runtime.reactor(name)`. */
  constructor(reactor: Reactor) {
    this.#reactor = reactor;
  }

  get name(): string {
    return this.#reactor.name;
  }

  /** Stops firing; boundaries keep arriving (cache, dirty flags, sequential queue). */
  pause(): void {
    this.#reactor.pause();
  }

  /** Fires at once if the criterion holds, or drains the sequential backlog. */
  resume(): void {
    this.#reactor.resume();
  }

  /**
   * Fires once with the current cache, under either strategy. Resolves to the fire record (of the
   * first bound graph; every graph's record is also emitted as a `fire` event), or `undefined`
   * when paused.
   */
  forceFire(): Promise<FireRecord | undefined> {
    return this.#reactor.forceFire();
  }

  /**
   * Replaces the whole cache, then fires like {@link forceFire}. While paused only the cache is
   * replaced. The cache holds copies of the given values (as if each had been pushed), and a
   * value that could not be pushed rejects with UncloneableValueError naming its source and path
   * (`cache.alpha.cb`), before anything changes.
   */
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    if (typeof cache !== 'object' || cache === null) {
      return Promise.reject(
        new InvalidArgumentError(
          'fireWith(cache)',
          cache,
          `reactor '${this.name}': fireWith() takes a cache object of source -> value`,
        ),
      );
    }
    const copies: Record<string, unknown> = {};
    for (const [source, value] of Object.entries(cache)) {
      const copy = copyValue(value, `cache${inputRoot(source).slice('inputs'.length)}`);
      if (copy instanceof ValueFault) return Promise.reject(copy.toError({ accumulator: source }));
      copies[source] = copy;
    }
    return this.#reactor.fireWith(copies);
  }

  /** `{ cache, dirty, paused, queued, health }`, as plain values. */
  getState(): ReactorState {
    return this.#reactor.getState();
  }
}
