/**
 * The sequential reactor's queue of accepted boundaries: bounded, and fair across its sources.
 *
 * - Bounded: at most `capacity` boundaries wait. A full queue refuses more (the runtime's `push`
 *   returns false); once it has drained to half, `onRoom` fires once, so waiting producers wake
 *   in batches rather than one boundary at a time.
 * - Fair: while more than one source wants room, each may hold at most its share of the
 *   capacity (`capacity / contending sources`, rounded up). A source contends while it has
 *   boundaries queued or has been refused since it was last admitted. Without this, a producer
 *   that retries in a tight loop takes every slot the moment one frees, and a source that
 *   offers a boundary now and then (a batch flushing once a second) is refused forever.
 *   Alone, a source may fill the whole queue.
 */

/** One queued boundary; `seq` orders it and keys its checkpoint row. */
export interface QueuedBoundary {
  readonly seq: number;
  readonly source: string;
  readonly value: unknown;
}

export class BoundaryQueue {
  readonly capacity: number;
  #items: Array<QueuedBoundary | undefined> = [];
  #head = 0;
  /**
   * Boundaries queued per source (0 once a source has none left). Null while every boundary
   * queued came from one source, `#sole` (a key's queue mostly hears one): its count is the size.
   */
  #perSource: Map<string, number> | null = null;
  #sole: string | undefined = undefined;
  /** Sources with boundaries queued. */
  #active = 0;
  /** Sources refused since they were last admitted; made at the first refusal (most queues never refuse). */
  #wanting: Set<string> | null = null;
  #full = false;
  readonly #onRoom: () => void;

  constructor(capacity: number, onRoom: () => void) {
    this.capacity = capacity;
    this.#onRoom = onRoom;
  }

  /** Boundaries waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /**
   * True when a boundary of `source` would be admitted now. A refusal counts `source` as
   * contending until it is admitted.
   */
  hasRoomFor(source: string): boolean {
    const size = this.size;
    if (size >= this.capacity) return this.#refuse(source);
    const wanting = this.#wanting;
    // At most one source queued and nobody refused: it contends with no one (no lookup needed).
    if (this.#active <= 1 && (wanting === null || wanting.size === 0)) return true;
    const mine = this.#countOf(source);
    if (mine === 0) return true;
    // Nobody refused: the contending sources are those with boundaries queued, this one included.
    let contending = this.#active;
    if (wanting !== null && wanting.size > 0) {
      contending = wanting.has(source) ? 0 : 1;
      for (const [other, count] of this.#perSource ?? [[this.#sole!, size] as const])
        if (count > 0 && other !== source) contending++;
      for (const other of wanting) if (this.#countOf(other) === 0) contending++;
    }
    if (contending <= 1 || mine < Math.ceil(this.capacity / contending)) return true;
    return this.#refuse(source);
  }

  /** Appends a boundary (admission was checked by the caller, or the boundary is restored). */
  push(boundary: QueuedBoundary): void {
    const source = boundary.source;
    let perSource = this.#perSource;
    if (perSource === null && this.size > 0 && source !== this.#sole) {
      perSource = this.#perSource = new Map([[this.#sole!, this.size]]);
    }
    if (perSource === null) {
      this.#sole = source;
      this.#active = 1;
    } else {
      const mine = perSource.get(source) ?? 0;
      if (mine === 0) this.#active++;
      perSource.set(source, mine + 1);
    }
    this.#items.push(boundary);
    if (this.#wanting !== null && this.#wanting.size > 0) this.#wanting.delete(boundary.source);
    if (this.size >= this.capacity) this.#full = true;
  }

  /** Removes and returns the oldest boundary. */
  shift(): QueuedBoundary | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const boundary = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined; // let it be collected
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const perSource = this.#perSource;
    if (perSource === null) {
      if (this.size === 0) this.#active = 0;
    } else {
      const left = perSource.get(boundary.source)! - 1;
      if (left === 0) this.#active--;
      perSource.set(boundary.source, left);
    }
    if (this.#full && this.size <= this.capacity >> 1) {
      this.#full = false;
      this.#onRoom();
    }
    return boundary;
  }

  /** The boundary `i` places from the head (0: the oldest), without removing it. */
  peek(i: number): QueuedBoundary | undefined {
    return this.#items[this.#head + i];
  }

  /** The waiting boundaries, oldest first (for checkpoints and state reports). */
  toArray(): QueuedBoundary[] {
    return this.#items.slice(this.#head) as QueuedBoundary[];
  }

  /** Boundaries of `source` queued. */
  #countOf(source: string): number {
    const perSource = this.#perSource;
    if (perSource !== null) return perSource.get(source) ?? 0;
    return source === this.#sole ? this.size : 0;
  }

  #refuse(source: string): false {
    (this.#wanting ??= new Set()).add(source);
    this.#full = true;
    return false;
  }
}
