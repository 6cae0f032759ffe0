/**
 * A keyed reactor: one {@link Reactor} per key (its own cache, dirty flags, sequential queue,
 * criterion and firing loop), all sharing the declaration, the bound graphs, the counters and
 * one gate (`key-gate.ts`) that lets at most `keyConcurrency` keys fire at once, in turn.
 *
 * - The key of a boundary is read from the value its accumulator emitted; a value without a
 *   valid key is refused with KeyError before anything changes.
 * - Broadcast sources hold one value for every key: it is written into every key's cache (and
 *   into a new key's), sets no flag and fires nothing.
 * - Keys are held in the order they last received a boundary, so the keys idle longest come
 *   first: forgetting after `keyIdle` looks only at the front. At most `maxKeys` are held; a
 *   boundary for a new key beyond that is refused (backpressure) until one is forgotten.
 * - The keyed reactor's own checkpoint row keeps the broadcast values and the paused flag; each
 *   key has rows of its own (see `checkpoint/rows.ts`), deleted when the key is forgotten.
 */
import type { ComputationGraph } from '../graph/computation-graph.js';
import { describe } from '../model/describe.js';
import { KeyError, StateError } from '../model/errors.js';
import { ReactorHealth } from '../model/health.js';
import type { KeyedDeclaration, ReactorDeclaration } from '../model/reactor-declaration.js';
import type { QueuedBoundary } from './boundary-queue.js';
import { KeyGate } from './key-gate.js';
import type { LiveReactor, ReactorCounts } from './live-reactor.js';
import { Reactor } from './reactor.js';
import type { KeyLane, ReactorHooks } from './reactor-hooks.js';
import { ReactorLoop } from './reactor-loop.js';
import type { FireRecord, KeyState, ReactorSnapshot, ReactorState } from './records.js';

/** What a keyed reactor needs besides a reactor's hooks. */
export interface KeyedHooks extends ReactorHooks {
  /** Keys firing at once (the declaration's, or the runtime's default). */
  readonly keyConcurrency: number;
  /** A key was forgotten: its checkpoint rows go. */
  forgotten(checkpointName: string): void;
}

/** What the ops server lists of a key. */
export interface KeySummary {
  /** The key, in its string form. */
  readonly key: string;
  /** Its boundaries waiting to fire. */
  readonly queued: number;
  /** Epoch ms, null before its first firing. */
  readonly lastFiredAt: number | null;
}

/** A registered keyed reactor (see the module comment). */
export class KeyedReactor implements LiveReactor {
  readonly declaration: ReactorDeclaration;
  readonly graphs: ComputationGraph[] = [];
  readonly counts: ReactorCounts = { fires: 0, failures: 0, batched: 0, graphRuns: [], graphFailures: [] };
  health: ReactorHealth = ReactorHealth.Starting;
  readonly #keyed: KeyedDeclaration;
  readonly #hooks: KeyedHooks;
  /** The hooks of every key's reactor: the keyed reactor's, with room in a refused key's queue noted. */
  readonly #keyHooks: ReactorHooks;
  #gate: KeyGate;
  /** The key sources, and the broadcast ones (set at start, see {@link useBroadcast}). */
  #sources: readonly string[];
  #broadcast: ReadonlySet<string>;
  /** Broadcast source to its newest value. */
  #shared: Record<string, unknown> = {};
  readonly #sequence = { next: 0 };
  /** Key to its reactor, least recently active first. */
  readonly #keys = new Map<string, Reactor>();
  #paused = false;
  /** A boundary was refused since the last room: for a new key (true) or a key's full queue. */
  #refused: Reactor | true | null = null;
  /** The value last admitted, its key and the key's reactor, looked up once for both admission and delivery. */
  #admittedValue: unknown = undefined;
  #admittedKey = '';
  #admittedReactor: Reactor | undefined = undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(declaration: ReactorDeclaration, hooks: KeyedHooks) {
    this.declaration = declaration;
    this.#keyed = declaration.keyed!;
    this.#hooks = hooks;
    this.#gate = new KeyGate(hooks.keyConcurrency);
    this.#broadcast = new Set(this.#keyed.broadcast);
    this.#sources = declaration.accumulators.filter((source) => !this.#broadcast.has(source));
    const events = hooks.events;
    this.#keyHooks = {
      queueCapacity: hooks.queueCapacity,
      questions: hooks.questions,
      events: {
        ...events,
        room: (reactor) => {
          if (this.#refused === reactor) this.#refused = null;
          events.room(reactor);
        },
      },
    };
    const idleMs = this.#keyed.keyIdleMs;
    if (idleMs !== undefined) {
      this.#sweeper = setInterval(() => this.#forgetIdle(Date.now()), Math.max(10, Math.min(idleMs, 60_000)));
      this.#sweeper.unref();
    }
  }

  get name(): string {
    return this.declaration.name;
  }

  get owner(): LiveReactor {
    return this;
  }

  get checkpointName(): string {
    return this.declaration.name;
  }

  get fires(): number {
    return this.counts.fires;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /** Keys firing now. */
  get running(): number {
    return this.#gate.running;
  }

  /** Every key's queued boundaries. */
  get queued(): number {
    let queued = 0;
    for (const reactor of this.#keys.values()) queued += reactor.queued;
    return queued;
  }

  /**
   * The broadcast sources, set at start before any key is held: the declaration's, or the
   * runtime's default for it (its polling accumulators), known only once everything is registered.
   */
  useBroadcast(sources: readonly string[]): void {
    this.#broadcast = new Set(sources);
    this.#sources = this.declaration.accumulators.filter((source) => !this.#broadcast.has(source));
  }

  bind(graph: ComputationGraph): void {
    this.graphs.push(graph);
    this.counts.graphRuns.push(0);
    this.counts.graphFailures.push(0);
  }

  /** The held keys, least recently active first. */
  keys(): IterableIterator<string> {
    return this.#keys.keys();
  }

  /** The reactor of `key` when it is held. */
  keyReactor(key: string): Reactor | undefined {
    return this.#keys.get(key);
  }

  /** Up to `limit` keys, those with the most queued first, then the most recently fired. */
  busiest(limit: number): KeySummary[] {
    const all: KeySummary[] = [];
    for (const [key, reactor] of this.#keys) {
      const firedAt = reactor.firedAt;
      all.push({ key, queued: reactor.queued, lastFiredAt: firedAt === 0 ? null : firedAt });
    }
    all.sort((a, b) => b.queued - a.queued || (b.lastFiredAt ?? 0) - (a.lastFiredAt ?? 0));
    return all.slice(0, limit);
  }

  /** False after a refusal, until there is room again (for a new key, or in the refused key's queue). */
  hasRoom(source: string): boolean {
    const refused = this.#refused;
    if (refused === null || this.#broadcast.has(source)) return true;
    const room = refused === true ? this.#roomForKey() : refused.hasRoom(source);
    if (room) this.#refused = null;
    return room;
  }

  keyOf(source: string, value: unknown): string | undefined {
    return this.#broadcast.has(source) ? undefined : this.#keyOf(source, value);
  }

  admit(source: string, value: unknown, given?: string): boolean {
    if (this.#broadcast.has(source)) return true;
    const key = given ?? this.#keyOf(source, value);
    const reactor = this.#keys.get(key);
    this.#admittedValue = value;
    this.#admittedKey = key;
    this.#admittedReactor = reactor;
    if (reactor !== undefined) {
      if (reactor.hasRoom(source)) return true;
      this.#refused = reactor;
      return false;
    }
    if (this.#roomForKey()) return true;
    this.#refused = true;
    return false;
  }

  deliver(source: string, value: unknown, given?: string): void {
    if (this.#broadcast.has(source)) {
      this.#shared = { ...this.#shared, [source]: value };
      for (const reactor of this.#keys.values()) reactor.share(source, value);
      this.#hooks.events.changed(this);
      return;
    }
    const admitted = value === this.#admittedValue;
    const key = given ?? (admitted ? this.#admittedKey : this.#keyOf(source, value));
    const reactor = this.#reactorOf(key, admitted ? this.#admittedReactor : undefined);
    this.#admittedValue = undefined;
    this.#admittedReactor = undefined;
    reactor.deliver(source, value);
  }

  quiescent(): boolean {
    for (const reactor of this.#keys.values()) if (!reactor.quiescent()) return false;
    return true;
  }

  setHealth(health: ReactorHealth): void {
    this.health = health;
    for (const reactor of this.#keys.values()) reactor.setHealth(health);
  }

  /** Every key fires once with its cache; resolves to the first key's first record (undefined without keys). */
  async forceFire(): Promise<FireRecord | undefined> {
    const records = await Promise.all([...this.#keys.values()].map((reactor) => reactor.forceFire()));
    return records[0];
  }

  /** Replaces every key's cache by `cache` (its broadcast sources become the shared values), then fires each. */
  async fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    this.#takeShared(cache);
    const records = await Promise.all(
      [...this.#keys.values()].map((reactor) => reactor.fireWith({ ...this.#shared, ...cache })),
    );
    return records[0];
  }

  /** Fires key `key` once with its cache (the key is held from then on). */
  forceFireKey(key: string): Promise<FireRecord | undefined> {
    return this.#reactorOf(key).forceFire();
  }

  /** Replaces key `key`'s cache, broadcast values kept unless given, then fires it once. */
  fireWithKey(key: string, cache: Record<string, unknown>): Promise<FireRecord | undefined> {
    this.#takeShared(cache);
    return this.#reactorOf(key).fireWith({ ...this.#shared, ...cache });
  }

  /** Key `key`'s state; an empty one for a key not held. */
  keyState(key: string): KeyState {
    const reactor = this.#keys.get(key);
    if (reactor === undefined) {
      return { cache: { ...this.#shared }, dirty: Object.fromEntries(this.#sources.map((s) => [s, false])), queued: 0 };
    }
    const { cache, dirty, queued } = reactor.getState();
    return { cache, dirty, queued };
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    for (const reactor of this.#keys.values()) reactor.pause();
    this.#hooks.events.changed(this);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (const reactor of this.#keys.values()) reactor.resume();
    this.#hooks.events.changed(this);
  }

  /** The broadcast values and the keys' flags at rest: `cache` the shared values, `dirty` every key source unset. */
  getState(): ReactorState {
    return {
      cache: { ...this.#shared },
      dirty: Object.fromEntries(this.#sources.map((source) => [source, false])),
      paused: this.#paused,
      queued: this.queued,
      health: this.health,
      keys: this.#keys.size,
    };
  }

  snapshot(): ReactorSnapshot {
    return { cache: { ...this.#shared }, dirty: {}, paused: this.#paused };
  }

  /** Resolves once no key has a firing in flight (see {@link Reactor.halted}). */
  async halted(): Promise<void> {
    await Promise.all([...this.#keys.values()].map((reactor) => reactor.halted()));
  }

  /**
   * Drops every key, the broadcast values and the paused flag, as if just made ({@link restore}
   * and {@link restoreKey} then apply stored state, as at start); the keys' waiting commands
   * resolve without firing, the counters stay. Throws StateError while a key fires.
   */
  reset(): void {
    for (const reactor of this.#keys.values()) {
      if (reactor.loop === ReactorLoop.Firing) {
        throw new StateError(this.name, 'firing', `reactor '${this.name}' cannot be reset while a key fires`);
      }
    }
    for (const reactor of this.#keys.values()) reactor.reset();
    this.#keys.clear();
    this.#gate = new KeyGate(this.#hooks.keyConcurrency);
    this.#shared = {};
    this.#paused = false;
    this.#refused = null;
    this.#admittedValue = undefined;
    this.#admittedReactor = undefined;
  }

  /** Restores the broadcast values and the paused flag (at start, or after {@link reset}). */
  restore(snapshot: ReactorSnapshot): void {
    this.#shared = { ...snapshot.cache };
    this.#paused = snapshot.paused;
  }

  /** Restores one key's cache, flags and queue (after {@link restore}). */
  restoreKey(key: string, snapshot: ReactorSnapshot, queue: readonly QueuedBoundary[]): void {
    const reactor = this.#reactorOf(key);
    reactor.restore({ ...snapshot, paused: this.#paused }, queue);
    for (const source of Object.keys(this.#shared)) reactor.share(source, this.#shared[source]);
  }

  /** The reactors of every held key (for a checkpoint written at shutdown). */
  *keyReactors(): IterableIterator<Reactor> {
    yield* this.#keys.values();
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** The broadcast sources among a `fireWith` cache become the shared values. */
  #takeShared(cache: Record<string, unknown>): void {
    const given = Object.keys(cache).filter((source) => this.#broadcast.has(source));
    if (given.length === 0) return;
    this.#shared = { ...this.#shared };
    for (const source of given) this.#shared[source] = cache[source];
    for (const reactor of this.#keys.values()) for (const source of given) reactor.share(source, cache[source]);
    this.#hooks.events.changed(this);
  }

  #keyOf(source: string, value: unknown): string {
    const keyed = this.#keyed;
    let key: unknown;
    try {
      key = keyed.read(value, source);
    } catch (error) {
      throw new KeyError(
        this.name,
        source,
        value,
        `reactor '${this.name}': reading the key of a boundary of '${source}' threw (${error instanceof Error ? error.message : String(error)}); value: ${describe(value)}`,
      );
    }
    if (typeof key === 'string') return key;
    if (typeof key === 'number' && Number.isFinite(key)) return String(key);
    const what = keyed.field === undefined ? 'the key function returned' : `field '${keyed.field}' is`;
    throw new KeyError(
      this.name,
      source,
      value,
      `reactor '${this.name}': a boundary of '${source}' has no valid key (${what} ${describe(key)}, not a string or a finite number); value: ${describe(value)}`,
    );
  }

  /** True when a new key may be held now (forgetting idle keys to make room). */
  #roomForKey(): boolean {
    if (this.#keys.size < this.#keyed.maxKeys) return true;
    if (this.#keyed.keyIdleMs === undefined) return false;
    this.#forgetIdle(Date.now());
    return this.#keys.size < this.#keyed.maxKeys;
  }

  /**
   * The reactor of `key` (`found` when the caller has it), made when the key is new; with
   * `keyIdle`, marked active now and moved to the back.
   */
  #reactorOf(key: string, found?: Reactor): Reactor {
    const keys = this.#keys;
    let reactor = found ?? keys.get(key);
    if (reactor !== undefined) {
      if (this.#keyed.keyIdleMs !== undefined) {
        keys.delete(key);
        keys.set(key, reactor);
        reactor.activeAt = Date.now();
      }
      return reactor;
    }
    const lane: KeyLane = {
      key,
      owner: this,
      sources: this.#sources,
      graphs: this.graphs,
      counts: this.counts,
      sequence: this.#sequence,
      gate: this.#gate,
      checkpointName: keyRowName(this.name, key),
    };
    reactor = new Reactor(this.declaration, this.#keyHooks, lane);
    for (const source of Object.keys(this.#shared)) reactor.share(source, this.#shared[source]);
    if (this.#paused) reactor.pause();
    reactor.activeAt = Date.now();
    keys.set(key, reactor);
    reactor.setHealth(this.health);
    return reactor;
  }

  /** Forgets the keys at rest whose last boundary is older than `keyIdle`. */
  #forgetIdle(now: number): void {
    const idleMs = this.#keyed.keyIdleMs!;
    let forgot = false;
    for (const [key, reactor] of this.#keys) {
      if (now - reactor.activeAt < idleMs) break; // the rest were active since
      if (!reactor.settled) continue;
      this.#keys.delete(key);
      this.#gate.forget(reactor);
      this.#hooks.forgotten(reactor.checkpointName);
      forgot = true;
    }
    if (!forgot) return;
    if (this.#refused === true) {
      this.#refused = null;
      this.#hooks.events.room(this);
    }
  }
}

/** The name a key's checkpoint rows are kept under: the reactor's name, a NUL, the key. */
export function keyRowName(reactor: string, key: string): string {
  return `${reactor}\0${key}`;
}
