/**
 * A reactor's input cache: the latest value of each source, its dirty flag (delivered since the
 * last firing), whether it has delivered at all, and the criterion over the flags (`when_any`:
 * some flag set; `when_all`: every flag set). Under `sequential` with `when_all`, boundaries that
 * arrive before every source has delivered once are applied without firing (the gate).
 *
 * A firing takes a snapshot and clears the flags in the same synchronous step, so no update can
 * fall between them.
 */
import { ReactionMode } from '../model/reactor-declaration.js';
import { setOwn } from '../model/own-properties.js';
import type { ReactorSnapshot } from './records.js';

/** A source's flags (see {@link InputCache}). */
const kDirty = 1;
const kDelivered = 2;

/** The cache, the flags and the criterion of one reactor. */
export class InputCache {
  /**
   * Source name to value. A plain object (its spread is a fast copy); `__proto__` is written as
   * an own property. Replaced whole by a `fireWith` and when a batch rolls back.
   */
  values: Record<string, unknown> = {};
  /** The declared sources, in declaration order (one list shared by every key of a keyed reactor). */
  readonly #sources: readonly string[];
  /**
   * Per declared source, at its index: dirty (delivered since the last firing) and delivered
   * (has a value in the cache), as bits. Small numbers in one array: a key holds no map.
   */
  readonly #flags: number[];
  #dirtyCount = 0;
  #deliveredCount = 0;
  readonly #whenAll: boolean;

  constructor(sources: readonly string[], mode: ReactionMode) {
    this.#sources = sources;
    this.#flags = sources.map(() => 0);
    this.#whenAll = mode === ReactionMode.WhenAll;
  }

  /** A `latest` boundary: overwrites the source's value and sets its flag. */
  update(source: string, value: unknown): void {
    this.#write(source, value);
    // One scan of the short list of sources per boundary: both flags are set at the index found.
    this.#mark(this.#sources.indexOf(source), kDirty | kDelivered);
  }

  /**
   * A `sequential` boundary about to fire: applies it. True when the `when_all` gate holds it
   * back (some source has never delivered); its flag is then set and it fires nothing.
   */
  apply(source: string, value: unknown): boolean {
    this.#write(source, value);
    const sources = this.#sources.length;
    if (this.#deliveredCount < sources) this.#markDelivered(source);
    if (!this.#whenAll || this.#deliveredCount >= sources) return false;
    this.#markDirty(source);
    return true;
  }

  /** Writes a value without touching the flags (a boundary of a batch, already delivered). */
  set(source: string, value: unknown): void {
    this.#write(source, value);
  }

  /**
   * Writes a source's value. The store is this class's own, not the shared `setOwn`'s: that one
   * sees every kind of object and key in the process, and its slow lookup showed as 7% of a push
   * into a `latest` reactor.
   */
  #write(source: string, value: unknown): void {
    if (source === '__proto__') setOwn(this.values, source, value);
    else this.values[source] = value;
  }

  /** True while the `when_all` gate could hold a boundary back. */
  get gated(): boolean {
    return this.#whenAll && this.#deliveredCount < this.#sources.length;
  }

  /** Whether the criterion holds on the dirty flags. */
  criterionHolds(): boolean {
    if (this.#whenAll) return this.#sources.length > 0 && this.#dirtyCount === this.#sources.length;
    return this.#dirtyCount > 0;
  }

  /** A copy of the values: what a firing runs on. */
  snapshot(): Record<string, unknown> {
    return { ...this.values };
  }

  /** Clears every flag (a firing took its snapshot). */
  clearDirty(): void {
    if (this.#dirtyCount === 0) return;
    this.#dirtyCount = 0;
    const flags = this.#flags;
    for (let i = 0; i < flags.length; i++) flags[i]! &= ~kDirty;
  }

  /** Replaces the whole cache (`fireWith`): each source given counts as delivered. */
  replace(cache: Record<string, unknown>): void {
    const next: Record<string, unknown> = {};
    for (const source of Object.keys(cache)) {
      setOwn(next, source, cache[source]);
      this.#markDelivered(source);
    }
    this.values = next;
  }

  /** Restores checkpointed values and flags before start. */
  restore(snapshot: ReactorSnapshot): void {
    for (const source of Object.keys(snapshot.cache)) {
      setOwn(this.values, source, snapshot.cache[source]);
      this.#markDelivered(source);
    }
    for (const [source, flag] of Object.entries(snapshot.dirty)) if (flag) this.#markDirty(source);
  }

  /** Source name to its dirty flag, in declaration order. */
  dirtyFlags(): Record<string, boolean> {
    const flags: Record<string, boolean> = {};
    for (let i = 0; i < this.#sources.length; i++) setOwn(flags, this.#sources[i]!, (this.#flags[i]! & kDirty) !== 0);
    return flags;
  }

  /** Sets a declared source's dirty flag (ignores any other name). */
  #markDirty(source: string): void {
    this.#mark(this.#sources.indexOf(source), kDirty);
  }

  /** Notes that a declared source has a value (ignores any other name). */
  #markDelivered(source: string): void {
    this.#mark(this.#sources.indexOf(source), kDelivered);
  }

  /** Sets `flags` of the source at index `i`, counting each newly set; nothing for -1 (a name not declared). */
  #mark(i: number, flags: number): void {
    if (i < 0) return;
    const had = this.#flags[i]!;
    const added = flags & ~had;
    if (added === 0) return;
    this.#flags[i] = had | added;
    if ((added & kDirty) !== 0) this.#dirtyCount++;
    if ((added & kDelivered) !== 0) this.#deliveredCount++;
  }
}
