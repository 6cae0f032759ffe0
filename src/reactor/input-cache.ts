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

/** What the cache knows of one source. */
interface SourceState {
  dirty: boolean;
  delivered: boolean;
}

/** The cache, the flags and the criterion of one reactor. */
export class InputCache {
  /**
   * Source name to value. A plain object (its spread is a fast copy); `__proto__` is written as
   * an own property. Replaced whole by a `fireWith` and when a batch rolls back.
   */
  values: Record<string, unknown> = {};
  /**
   * Per declared source, in declaration order: its dirty flag, and whether it has a value in the
   * cache. One lookup per boundary reads and sets both.
   */
  readonly #sources = new Map<string, SourceState>();
  #dirtyCount = 0;
  #deliveredCount = 0;
  readonly #whenAll: boolean;

  constructor(sources: readonly string[], mode: ReactionMode) {
    for (const source of sources) this.#sources.set(source, { dirty: false, delivered: false });
    this.#whenAll = mode === ReactionMode.WhenAll;
  }

  /** A `latest` boundary: overwrites the source's value and sets its flag. */
  update(source: string, value: unknown): void {
    setOwn(this.values, source, value);
    // One lookup per boundary: the flags are set on the state it found.
    const state = this.#sources.get(source)!;
    if (!state.delivered) {
      state.delivered = true;
      this.#deliveredCount++;
    }
    if (!state.dirty) {
      state.dirty = true;
      this.#dirtyCount++;
    }
  }

  /**
   * A `sequential` boundary about to fire: applies it. True when the `when_all` gate holds it
   * back (some source has never delivered); its flag is then set and it fires nothing.
   */
  apply(source: string, value: unknown): boolean {
    setOwn(this.values, source, value);
    const sources = this.#sources.size;
    if (this.#deliveredCount < sources) this.#markDelivered(source);
    if (!this.#whenAll || this.#deliveredCount >= sources) return false;
    this.#markDirty(source);
    return true;
  }

  /** Writes a value without touching the flags (a boundary of a batch, already delivered). */
  set(source: string, value: unknown): void {
    setOwn(this.values, source, value);
  }

  /** True while the `when_all` gate could hold a boundary back. */
  get gated(): boolean {
    return this.#whenAll && this.#deliveredCount < this.#sources.size;
  }

  /** Whether the criterion holds on the dirty flags. */
  criterionHolds(): boolean {
    if (this.#whenAll) return this.#sources.size > 0 && this.#dirtyCount === this.#sources.size;
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
    for (const state of this.#sources.values()) state.dirty = false;
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
    for (const [source, state] of this.#sources) setOwn(flags, source, state.dirty);
    return flags;
  }

  /** Sets a declared source's dirty flag (ignores any other name). */
  #markDirty(source: string): void {
    const state = this.#sources.get(source);
    if (state === undefined || state.dirty) return;
    state.dirty = true;
    this.#dirtyCount++;
  }

  /** Notes that a declared source has a value (ignores any other name). */
  #markDelivered(source: string): void {
    const state = this.#sources.get(source);
    if (state === undefined || state.delivered) return;
    state.delivered = true;
    this.#deliveredCount++;
  }
}
