/**
 * The turns of a keyed reactor's keys: at most `limit` keys fire at once, and keys with work are
 * served in turn. A key holds its turn while it fires; when other keys wait, it gives the turn
 * up after each firing (or batch of firings) and queues behind them, so a key with a long queue
 * never starves the others. A key given a turn fires at least once before it can lose it.
 */

/**
 * Where a key stands with the gate. The gate keeps its marks on the key itself rather than in
 * maps of its own: a turn is taken and given back on every firing, for thousands of keys.
 */
export const KeyTurn = {
  /** Holds no turn. */
  None: 0,
  /** Holds a turn and has not fired in it yet. */
  Holding: 1,
  /** Holds a turn and has fired in it. */
  Fired: 2,
} as const;
export type KeyTurn = (typeof KeyTurn)[keyof typeof KeyTurn];

/** What the gate asks of a key, and the marks it keeps on it (written by the gate only). */
export interface GatedKey {
  /** Starts the key's loop if it is idle (it then asks {@link KeyGate.enter} again). */
  kick(): void;
  gateTurn: KeyTurn;
  /** Waits in the gate's line for a turn. */
  gateWaiting: boolean;
}

export class KeyGate {
  readonly limit: number;
  /** Keys holding a turn. */
  #running = 0;
  /** Keys waiting for a turn, first come first served (a forgotten one is skipped). */
  #waiting: GatedKey[] = [];
  #head = 0;
  #waitingCount = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Keys firing now (holding a turn). */
  get running(): number {
    return this.#running;
  }

  /** True while some key waits for a turn. */
  get contended(): boolean {
    return this.#waitingCount > 0;
  }

  /**
   * A key about to fire: true when it holds a turn (getting one if one is free). A key that
   * already fired in its turn while others wait gives it up here and queues; false then.
   */
  enter(key: GatedKey): boolean {
    const turn = key.gateTurn;
    if (turn === KeyTurn.Holding || (turn === KeyTurn.Fired && this.#waitingCount === 0)) return true;
    if (turn === KeyTurn.Fired) {
      key.gateTurn = KeyTurn.None;
      this.#running--;
      this.#enqueue(key);
      this.#grant();
      return false;
    }
    if (this.#running < this.limit && this.#waitingCount === 0) {
      key.gateTurn = KeyTurn.Holding;
      this.#running++;
      return true;
    }
    this.#enqueue(key);
    return false;
  }

  /** The key fired once in its turn. */
  fired(key: GatedKey): void {
    if (key.gateTurn !== KeyTurn.None) key.gateTurn = KeyTurn.Fired;
  }

  /** The key has nothing to fire: its turn goes to the next waiting key. */
  leave(key: GatedKey): void {
    if (key.gateTurn === KeyTurn.None) return;
    key.gateTurn = KeyTurn.None;
    this.#running--;
    this.#grant();
  }

  /** A forgotten key gives up its place. */
  forget(key: GatedKey): void {
    if (key.gateWaiting) {
      key.gateWaiting = false;
      this.#waitingCount--;
    }
    this.leave(key);
  }

  #enqueue(key: GatedKey): void {
    if (key.gateWaiting) return;
    key.gateWaiting = true;
    this.#waitingCount++;
    this.#waiting.push(key);
  }

  /** Hands free turns to waiting keys; each starts on a microtask, so hand-offs never nest. */
  #grant(): void {
    while (this.#running < this.limit && this.#waitingCount > 0) {
      const key = this.#waiting[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      if (!key.gateWaiting) continue; // forgotten while it waited
      key.gateWaiting = false;
      this.#waitingCount--;
      key.gateTurn = KeyTurn.Holding;
      this.#running++;
      queueMicrotask(() => key.kick());
    }
  }
}
