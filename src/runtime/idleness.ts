/**
 * `runtime.idle()`: resolves once nothing is queued or running. Whatever makes progress asks for
 * a check; checks run at most once per event-loop turn, and only while someone waits, so the
 * hot path pays a length test.
 */
import type { Registry } from './registry.js';

export class Idleness {
  readonly #registry: Registry;
  #waiters: Array<() => void> = [];
  #checkScheduled = false;
  /** `host.push` calls not yet returned (one may wait for room): work no component counts. */
  #hostPushes = 0;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** Resolves when nothing is queued or running (a paused reactor's backlog does not count). */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.check();
    });
  }

  /** Something progressed: checks, on the next turn, whether the runtime is idle now. */
  check(): void {
    if (this.#waiters.length === 0 || this.#checkScheduled) return;
    this.#checkScheduled = true;
    setImmediate(this.#runCheck);
  }

  // Made once: a busy runtime being awaited checks once per turn.
  readonly #runCheck = (): void => {
    this.#checkScheduled = false;
    if (!this.#isIdle()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  };

  /** A `host.push` began: the runtime is not idle until it ends. */
  hostPushStarted(): void {
    this.#hostPushes++;
  }

  /** A `host.push` ended, accepted or not. */
  hostPushEnded(): void {
    this.#hostPushes--;
    this.check();
  }

  #isIdle(): boolean {
    if (this.#hostPushes > 0) return false;
    for (const reactor of this.#registry.reactors.values()) if (!reactor.quiescent()) return false;
    for (const accumulator of this.#registry.accumulators.values()) if (!accumulator.quiescent()) return false;
    return true;
  }
}
