/**
 * An outlet connects one accumulator to the reactors it feeds, and is the accumulator's host:
 * everything a live accumulator may ask of the runtime goes through it (delivery, room,
 * waiting for room, health, checkpoint writes, the queue bound, stream backends, durability).
 *
 * Backpressure: the accumulator may emit while every reactor it feeds has room for another of
 * its boundaries (see `boundary-queue.ts`, fair across a reactor's sources). A refused push marks
 * the outlet; once it is writable again the waiting writers wake and a `drain` is announced.
 */
import type { Accumulator, AccumulatorHost } from '../accumulators/accumulator.js';
import type { StreamBackendFactory } from '../accumulators/stream-backend.js';
import type { AccumulatorError } from '../model/errors.js';
import type { AccumulatorHealth } from '../model/health.js';
import type { LiveReactor } from '../reactor/live-reactor.js';

/** What an outlet needs from the runtime. */
export interface OutletServices {
  readonly queueCapacity: number;
  /** The runtime's `id` option, when it has one. */
  readonly runtimeId: string | undefined;
  /** True while the runtime accepts events (started). */
  open(): boolean;
  /**
   * False while the runtime does not own its checkpoint (a standby, or an owner that lost its
   * session): nothing is accepted or emitted, as when every reactor is full.
   */
  acting(): boolean;
  streamBackend(type: string): StreamBackendFactory;
  persisted(): Promise<void>;
  report(error: unknown): void;
  healthChanged(outlet: Outlet, health: AccumulatorHealth, previous: AccumulatorHealth): void;
  save(name: string, read: () => unknown): void;
  /** Lets the runtime re-check `idle()`. */
  progressed(): void;
  drained(accumulator: string): void;
}

export class Outlet implements AccumulatorHost {
  readonly accumulator: Accumulator;
  /** The reactors that list this accumulator. */
  readonly feeds: LiveReactor[] = [];
  /** The keyed ones among them: they read each value's key before taking it. */
  readonly #keyed: LiveReactor[] = [];
  readonly queueCapacity: number;
  readonly runtimeId: string | undefined;
  readonly #services: OutletServices;
  /** A push was refused since the outlet was last writable. */
  #needsDrain = false;
  #writers: Array<() => void> = [];

  constructor(accumulator: Accumulator, services: OutletServices) {
    this.accumulator = accumulator;
    this.#services = services;
    this.queueCapacity = services.queueCapacity;
    this.runtimeId = services.runtimeId;
  }

  get name(): string {
    return this.accumulator.name;
  }

  // --- the accumulator's host ------------------------------------------------------------------

  // emit() and canEmit() run on every push: indexed loops, which cost less there than for-of.
  emit(value: unknown, key?: string): boolean {
    const source = this.accumulator.name;
    // Every keyed reactor takes the value, or none of the reactors gets it.
    const keyed = this.#keyed;
    for (let i = 0; i < keyed.length; i++) {
      if (!keyed[i]!.admit(source, value, key)) {
        this.#needsDrain = true;
        return false;
      }
    }
    const feeds = this.feeds;
    for (let i = 0; i < feeds.length; i++) feeds[i]!.deliver(source, value, key);
    return true;
  }

  keyOf(value: unknown): string | undefined {
    for (const reactor of this.#keyed) {
      const key = reactor.keyOf(this.accumulator.name, value);
      if (key !== undefined) return key;
    }
    return undefined;
  }

  /** Connects a reactor that lists this accumulator. */
  feed(reactor: LiveReactor): void {
    this.feeds.push(reactor);
    if (reactor.declaration.keyed !== undefined) this.#keyed.push(reactor);
  }

  fail(error: AccumulatorError): void {
    this.#services.report(error);
  }

  setHealth(health: AccumulatorHealth): void {
    const previous = this.accumulator.health;
    if (previous === health) return;
    this.accumulator.health = health;
    this.#services.healthChanged(this, health, previous);
  }

  save(): void {
    this.#services.save(this.accumulator.name, () => this.accumulator.checkpointData());
  }

  canEmit(): boolean {
    if (!this.#services.acting()) return false;
    const feeds = this.feeds;
    for (let i = 0; i < feeds.length; i++) if (!feeds[i]!.hasRoom(this.accumulator.name)) return false;
    return true;
  }

  whenCanEmit(): Promise<void> {
    return this.whenWritable();
  }

  progressed(): void {
    this.wakeWriters();
    this.#services.progressed();
  }

  durable(): Promise<void> {
    return this.#services.persisted();
  }

  streamBackend(type: string): StreamBackendFactory {
    return this.#services.streamBackend(type);
  }

  // --- the runtime's side ----------------------------------------------------------------------

  /** The push path: false (and the outlet marked for a `drain`) when the event was not accepted. */
  offer(event: unknown): boolean {
    if (this.accumulator.offer(event)) return true;
    this.#needsDrain = true;
    return false;
  }

  /** Resolves when a push would be accepted (at once when the runtime is not running). */
  whenWritable(): Promise<void> {
    if (!this.#services.open() || this.accumulator.writable()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#writers.push(resolve));
  }

  /** Wakes waiting writers and announces `drain` once the accumulator accepts again. */
  wakeWriters(): void {
    if (this.#writers.length === 0 && !this.#needsDrain) return;
    const open = this.#services.open();
    if (open && !this.accumulator.writable()) return;
    if (this.#writers.length > 0) {
      const writers = this.#writers;
      this.#writers = [];
      for (const wake of writers) wake();
    }
    if (this.#needsDrain && open) {
      this.#needsDrain = false;
      this.#services.drained(this.accumulator.name);
    }
  }
}
