/**
 * The acknowledgements of one connected stream consumer. Positions are added as their messages
 * are handled and acknowledged in rounds: a round waits until every boundary emitted so far is
 * durable (committed to the checkpoint, when there is one), then acknowledges every position
 * added before it began in one call. Positions added meanwhile wait for the next round, so the
 * consumer never waits for a round trip per message, and it keeps reading while a round is in
 * flight. Rounds run one at a time, so positions reach the backend in the order they were added.
 */
import type { StreamBackend, StreamPosition } from './stream-backend.js';

/** What an {@link Acknowledger} reports to its consumer. */
export interface AcknowledgerHooks {
  /** Resolves once every boundary emitted so far is durable; rejects when that failed. */
  durable(): Promise<void>;
  /** The backend refused to acknowledge `count` positions; they stay unacknowledged. */
  failed(error: unknown, count: number): void;
  /** A round ended. */
  settled(): void;
}

export class Acknowledger {
  readonly #backend: StreamBackend;
  readonly #hooks: AcknowledgerHooks;
  /** Added, waiting for the next round. */
  #queued: StreamPosition[] = [];
  /** In the round now running. */
  #inFlight = 0;
  #round: Promise<void> | undefined;
  /** Set by {@link discard}: nothing is acknowledged any more. */
  #discarded = false;

  constructor(backend: StreamBackend, hooks: AcknowledgerHooks) {
    this.#backend = backend;
    this.#hooks = hooks;
  }

  /** Positions handled and not acknowledged yet. */
  get pending(): number {
    return this.#queued.length + this.#inFlight;
  }

  /** True while a round runs. */
  get busy(): boolean {
    return this.#round !== undefined;
  }

  /** Records a handled message; {@link flush} starts acknowledging it. */
  add(position: StreamPosition): void {
    if (!this.#discarded) this.#queued.push(position);
  }

  /**
   * Forgets every position not acknowledged yet and acknowledges nothing from now on, a round
   * in flight included: the boundaries made of those messages were dropped, so the backend must
   * deliver them again.
   */
  discard(): void {
    this.#discarded = true;
    this.#queued = [];
  }

  /** Starts a round for what was added, unless one runs already (the next one takes it). */
  flush(): void {
    if (this.#round === undefined && this.#queued.length > 0) this.#round = this.#rounds();
  }

  /** Acknowledges everything added so far; resolves when done, or when it cannot be done now. */
  async drain(): Promise<void> {
    await this.#round;
    this.flush();
    await this.#round;
  }

  async #rounds(): Promise<void> {
    while (this.#queued.length > 0) {
      const positions = this.#queued;
      this.#queued = [];
      this.#inFlight = positions.length;
      try {
        await this.#hooks.durable();
      } catch {
        // The checkpoint commit failed (and was reported). Its boundaries stay staged for a
        // later commit, so these wait for a later round, whose durable() covers them too.
        this.#queued = positions.concat(this.#queued);
        this.#inFlight = 0;
        break;
      }
      if (this.#discarded) {
        this.#inFlight = 0;
        break;
      }
      try {
        await this.#backend.ack(positions);
      } catch (error) {
        this.#hooks.failed(error, positions.length);
      }
      this.#inFlight = 0;
    }
    this.#round = undefined;
    this.#hooks.settled();
  }
}
