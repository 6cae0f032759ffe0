/**
 * A reactor's input cache: the latest value of each source, its dirty flag (delivered since the
 * last firing), whether it has delivered at all, and the criterion over the flags (`when_any`:
 * some flag set; `when_all`: every flag set). Under `sequential` with `when_all`, boundaries that
 * arrive before every source has delivered once are applied without firing (the gate).
 *
 * A firing takes a snapshot and clears the flags in the same synchronous step, so no update can
 * fall between them.
 *
 * A `latest` boundary is kept in a slot by source index and written into the values only when
 * they are next read: a burst of a thousand boundaries between two firings then pays one keyed
 * store per source, not one per boundary (a store keyed by changing names is a slow lookup in V8).
 */
import { ReactionMode } from '../model/reactor-declaration.js';
import { setOwn } from '../model/own-properties.js';
import type { ReactorSnapshot } from './records.js';

/** A source's flags (see {@link InputCache}). */
const kDirty = 1;
const kDelivered = 2;
/** Its newest value waits in its slot, not yet in the values. */
const kPending = 4;

/** The cache, the flags and the criterion of one reactor. */
export class InputCache {
  /** Source name to value (see {@link values}). */
  #values: Record<string, unknown> = {};
  /** The declared sources, in declaration order (one list shared by every key of a keyed reactor). */
  readonly #sources: readonly string[];
  /**
   * Per declared source, at its index: dirty (delivered since the last firing), delivered (has a
   * value in the cache) and pending, as bits. Small numbers in one array: a key holds no map.
   */
  readonly #flags: number[];
  /**
   * Per declared source, at its index: its pending `latest` value. Made at the first one: a key
   * of a `sequential` reactor holds none.
   */
  #slots: unknown[] | null = null;
  #dirtyCount = 0;
  #deliveredCount = 0;
  #pendingCount = 0;
  readonly #whenAll: boolean;

  constructor(sources: readonly string[], mode: ReactionMode) {
    this.#sources = sources;
    this.#flags = sources.map(() => 0);
    this.#whenAll = mode === ReactionMode.WhenAll;
  }

  /**
   * Source name to value. A plain object (its spread is a fast copy); `__proto__` is written as
   * an own property. Replaced whole by a `fireWith` and when a batch rolls back; a replacement
   * drops the pending values, which it supersedes.
   */
  get values(): Record<string, unknown> {
    if (this.#pendingCount > 0) this.#flush();
    return this.#values;
  }

  set values(values: Record<string, unknown>) {
    if (this.#pendingCount > 0) this.#drop();
    this.#values = values;
  }

  /** A `latest` boundary: overwrites the source's value and sets its flag. */
  update(source: string, value: unknown): void {
    // One scan of the short list of sources per boundary: every flag is set at the index found.
    const i = this.#sources.indexOf(source);
    if (i < 0) {
      this.#write(source, value);
      return;
    }
    (this.#slots ??= this.#sources.map(() => undefined))[i] = value;
    this.#mark(i, kDirty | kDelivered | kPending);
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

  /** Writes a source's value (after the pending ones, which came first). */
  #write(source: string, value: unknown): void {
    store(this.values, source, value);
  }

  /** Writes the pending values into the values. */
  #flush(): void {
    const flags = this.#flags;
    for (let i = 0; i < flags.length; i++) {
      if ((flags[i]! & kPending) === 0) continue;
      store(this.#values, this.#sources[i]!, this.#slots![i]);
      this.#unpend(i);
    }
  }

  /** Forgets the pending values (the values were replaced whole). */
  #drop(): void {
    for (let i = 0; i < this.#flags.length; i++) if ((this.#flags[i]! & kPending) !== 0) this.#unpend(i);
  }

  /** Clears source `i`'s pending flag and slot. */
  #unpend(i: number): void {
    this.#flags[i]! &= ~kPending;
    this.#slots![i] = undefined;
    this.#pendingCount--;
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
    if ((added & kPending) !== 0) this.#pendingCount++;
  }
}

/**
 * Sets a source's value as `setOwn` does, through a store of this module's own: the shared one
 * sees every kind of object and key in the process, so its lookup is slower (7% of a push into a
 * `latest` reactor, when each boundary was stored at once).
 */
function store(values: Record<string, unknown>, source: string, value: unknown): void {
  if (source === '__proto__') setOwn(values, source, value);
  else values[source] = value;
}
