/**
 * The turns of a keyed reactor's keys: at most `limit` keys fire at once, and keys with work are
 * served in turn. A key holds its turn while it fires; when other keys wait, it gives the turn
 * up after each firing (or batch of firings) and queues behind them, so a key with a long queue
 * never starves the others. A key given a turn fires at least once before it can lose it.
 */

/** What the gate asks of a key: to start pumping once it has a turn. */
export interface GatedKey {
  /** Starts the key's loop if it is idle (it then asks {@link KeyGate.enter} again). */
  kick(): void;
}

export class KeyGate {
  readonly limit: number;
  /** Keys holding a turn, to whether they have fired since they got it. */
  readonly #turns = new Map<GatedKey, boolean>();
  /** Keys waiting for a turn, first come first served. */
  #waiting: GatedKey[] = [];
  #head = 0;
  readonly #queued = new Set<GatedKey>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Keys firing now (holding a turn). */
  get running(): number {
    return this.#turns.size;
  }

  /** True while some key waits for a turn. */
  get contended(): boolean {
    return this.#queued.size > 0;
  }

  /**
   * A key about to fire: true when it holds a turn (getting one if one is free). A key that
   * already fired in its turn while others wait gives it up here and queues; false then.
   */
  enter(key: GatedKey): boolean {
    const used = this.#turns.get(key);
    if (used === false || (used === true && this.#queued.size === 0)) return true;
    if (used === true) {
      this.#turns.delete(key);
      this.#enqueue(key);
      this.#grant();
      return false;
    }
    if (this.#turns.size < this.limit && this.#queued.size === 0) {
      this.#turns.set(key, false);
      return true;
    }
    this.#enqueue(key);
    return false;
  }

  /** The key fired once in its turn. */
  fired(key: GatedKey): void {
    if (this.#turns.has(key)) this.#turns.set(key, true);
  }

  /** The key has nothing to fire: its turn goes to the next waiting key. */
  leave(key: GatedKey): void {
    if (this.#turns.delete(key)) this.#grant();
  }

  /** A forgotten key gives up its place. */
  forget(key: GatedKey): void {
    this.#queued.delete(key);
    this.leave(key);
  }

  #enqueue(key: GatedKey): void {
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#waiting.push(key);
  }

  /** Hands free turns to waiting keys; each starts on a microtask, so hand-offs never nest. */
  #grant(): void {
    while (this.#turns.size < this.limit && this.#queued.size > 0) {
      const key = this.#waiting[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      if (!this.#queued.delete(key)) continue; // forgotten while it waited
      this.#turns.set(key, false);
      queueMicrotask(() => key.kick());
    }
  }
}
