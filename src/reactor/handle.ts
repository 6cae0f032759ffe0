/**
 * `runtime.reactor(name)`: the commands a user has over one reactor, and `.key(k)` over one key
 * of a keyed reactor.
 */
import { InvalidArgumentError } from '../model/errors.js';
import { setOwn } from '../model/own-properties.js';
import { ValueFault } from '../model/value-fault.js';
import { copyValue, inputRoot } from '../model/values.js';
import { KeyedReactor, type KeySummary } from './keyed-reactor.js';
import type { LiveReactor } from './live-reactor.js';
import type { FireRecord, KeyState, ReactorState } from './records.js';

export class ReactorHandle {
  readonly #reactor: LiveReactor;

  /** @internal Made by `Runtime.reactor(name)`. */
  constructor(reactor: LiveReactor) {
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
    const copies = copyCache(this.name, cache);
    return copies instanceof Error ? Promise.reject(copies) : this.#reactor.fireWith(copies);
  }

  /**
   * `{ cache, dirty, paused, queued, health }` (and `keys`, how many are held, when keyed), as
   * plain values. The cache's values are the caller's own copies: changing them changes nothing
   * the reactor holds or a later firing sees.
   */
  getState(): ReactorState {
    return withOwnCache(this.#reactor.getState());
  }

  /**
   * One key of a keyed reactor (keys are compared by their string form); the key need not be
   * held yet. Throws InvalidArgumentError for a reactor without keys or a key that is not a
   * string or a finite number.
   */
  key(key: string | number): KeyHandle {
    const reactor = this.#keyed('key(k)');
    if (!(typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key)))) {
      throw new InvalidArgumentError(
        'key',
        key,
        `reactor '${this.name}': a key is a string or a finite number, got ${String(key)}`,
      );
    }
    return new KeyHandle(reactor, String(key));
  }

  /**
   * Up to `limit` keys of a keyed reactor with what waits and when each last fired: those with
   * the most queued first, then the most recently fired. Throws InvalidArgumentError when it has no keys.
   */
  keyList(limit = 50): KeySummary[] {
    return this.#keyed('keyList()').busiest(limit);
  }

  /** The keys a keyed reactor holds, least recently active first. Throws InvalidArgumentError when it has no keys. */
  keys(): Iterable<string> {
    const reactor = this.#keyed('keys()');
    return { [Symbol.iterator]: () => reactor.keys() };
  }

  #keyed(call: string): KeyedReactor {
    const reactor = this.#reactor;
    if (reactor instanceof KeyedReactor) return reactor;
    throw new InvalidArgumentError(
      'reactor',
      this.name,
      `reactor '${this.name}' has no keys: ${call} needs a keyed reactor`,
    );
  }
}

/** `runtime.reactor(name).key(k)`: the commands a user has over one key of a keyed reactor. */
export class KeyHandle {
  readonly #reactor: KeyedReactor;
  /** The key, in its string form. */
  readonly key: string;

  /** @internal Made by `ReactorHandle.key(k)`. */
  constructor(reactor: KeyedReactor, key: string) {
    this.#reactor = reactor;
    this.key = key;
  }

  /**
   * That key's `{ cache, dirty, queued }` (empty for a key not held), as plain values; the
   * cache's values are copies, as in `ReactorHandle.getState`.
   */
  getState(): KeyState {
    return withOwnCache(this.#reactor.keyState(this.key));
  }

  /** Fires this key once with its cache; resolves to the fire record, or `undefined` when paused. */
  forceFire(): Promise<FireRecord | undefined> {
    return this.#reactor.forceFireKey(this.key);
  }

  /**
   * Replaces this key's cache (broadcast sources keep their shared value unless given, and a
   * given one becomes the shared value), then fires it once; checks and copies like
   * `ReactorHandle.fireWith`.
   */
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    const copies = copyCache(this.#reactor.name, cache);
    return copies instanceof Error ? Promise.reject(copies) : this.#reactor.fireWithKey(this.key, copies);
  }
}

/** Copies of a `fireWith` cache's values, or the error to reject with. */
function copyCache(reactor: string, cache: Record<string, unknown>): Record<string, unknown> | Error {
  if (typeof cache !== 'object' || cache === null) {
    return new InvalidArgumentError(
      'fireWith(cache)',
      cache,
      `reactor '${reactor}': fireWith() takes a cache object of source -> value`,
    );
  }
  const copies: Record<string, unknown> = {};
  for (const [source, value] of Object.entries(cache)) {
    const copy = copyValue(value, `cache${inputRoot(source).slice('inputs'.length)}`);
    if (copy instanceof ValueFault)
      return copy.toError({ accumulator: source, what: 'the value fireWith() was given' });
    setOwn(copies, source, copy);
  }
  return copies;
}

/**
 * `state` with a copy of its cache. The reactor's own values are kept from there on (its next
 * firing reads them), so the caller gets values of its own, copied by the value rules.
 */
function withOwnCache<S extends { readonly cache: Record<string, unknown> }>(state: S): S {
  const copy = copyValue(state.cache);
  // Every cache value passed the value rules on its way in; should the cache not copy, it is
  // shown as it is rather than failing the read.
  return { ...state, cache: copy instanceof ValueFault ? state.cache : (copy as Record<string, unknown>) };
}
