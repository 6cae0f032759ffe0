/**
 * How a runtime's parts are connected: each accumulator's outlet to the reactors it feeds, each
 * reactor to its graphs, feedback and after-fire accumulators, the checkpoint, the pool, the host
 * bridge of the nodes, and the observer. `start()` connects them (anything that can fail comes
 * before anything runs), `stop()` drains and disconnects them.
 *
 * On a PostgreSQL checkpoint the runtime acts only while it owns its `id`. When the owner's
 * session ends it is fenced at once: the outlets accept and emit nothing (a push returns false,
 * as against a full queue), every reactor is held at `warming` (nothing fires; the firing in
 * flight ends), nothing commits, `persisted()` rejects, and a CheckpointError is reported. With
 * `standby` it then waits for the id again. Taking it back when nobody owned the id in between,
 * it carries on from where it was: its state is the stored one plus what was staged, which
 * commits. When another runtime owned the id meanwhile, the state it holds is stale: it waits
 * for the firings in flight to end, drops what is staged, loads the stored state and checks it
 * against the registrations as a start does (`stateMismatch`; a failure is reported as a start
 * would report it, the id is released and the runtime stays fenced, its ownership `lost`), then
 * drops what every reactor and accumulator holds and restores the stored state in their place
 * (stream consumers connect again and re-read what is unacknowledged), and only then carries on.
 */
import type { EventEmitter } from 'node:events';
import { AccumulatorKind, type Accumulator } from '../accumulators/accumulator.js';
import { memoryBroker } from '../accumulators/memory-broker.js';
import { connectRedisStream } from '../accumulators/redis-stream.js';
import { StreamBackendRegistry } from '../accumulators/stream-backend.js';
import { NodePool } from '../exec/node-pool.js';
import { graphInternals } from '../graph/computation-graph.js';
import { CheckpointError, StateError } from '../model/errors.js';
import { ReactorHealth, reactorHealthOf } from '../model/health.js';
import { kDefaultKeyConcurrency, type ReactorDeclaration } from '../model/reactor-declaration.js';
import type { ValueExtras } from '../model/value-sink.js';
import { copyEvent, restoreValue } from '../model/values.js';
import { KeyedReactor } from '../reactor/keyed-reactor.js';
import type { LiveReactor } from '../reactor/live-reactor.js';
import { Reactor } from '../reactor/reactor.js';
import type { ReactorHooks } from '../reactor/reactor-hooks.js';
import { PostgresCheckpointStore } from './checkpoint/postgres-store.js';
import { SqliteCheckpointStore } from './checkpoint/sqlite-store.js';
import { isPostgresUrl, type CheckpointStore } from './checkpoint/store.js';
import { HostBridge } from './host-bridge.js';
import { Idleness } from './idleness.js';
import { RuntimeState } from './lifecycle.js';
import { RuntimeObserver } from './observability.js';
import { Outlet, type OutletServices } from './outlet.js';
import { noRestoredState, Persistence, type Restored } from './persistence.js';
import { Registry } from './registry.js';
import type { CheckpointOwnership } from './report.js';
import type { Notify, RuntimeEvents } from './runtime-events.js';
import type { ResolvedRuntimeOptions } from './runtime-options.js';
import { loadTracing } from './tracing.js';

/** Fire records kept per reactor for `recentFires()`. */
const kFireHistory = 256;

/** What the wiring needs from the runtime that owns it. */
export interface WiringHost {
  /** The runtime: whose listeners hear its events, and the owner its graphs' pools attach under. */
  readonly runtime: EventEmitter<RuntimeEvents>;
  state(): RuntimeState;
  readonly notify: Notify;
  reportError(error: unknown): void;
  /** An event of a node's `host.push` was accepted. */
  pushed(): void;
}

export class RuntimeWiring {
  /** Accumulators, reactors and graphs by name. */
  readonly registry: Registry;
  readonly streams = new StreamBackendRegistry();
  /** Accumulator name -> its outlet; every registered accumulator has one once started. */
  readonly outlets = new Map<string, Outlet>();
  readonly observer: RuntimeObserver;
  readonly idleness: Idleness;
  readonly #options: ResolvedRuntimeOptions;
  readonly #host: WiringHost;
  /** Graph name -> where its feedback goes. */
  readonly #feedback = new Map<string, { readonly terminal: string; readonly target: Accumulator }>();
  /** Reactor -> its accumulators that act after each of its successful firings. */
  readonly #afterFire = new Map<LiveReactor, readonly Accumulator[]>();
  #persistence: Persistence | null = null;
  /** The PostgreSQL store, whose ownership can be lost and taken again. */
  #postgres: PostgresCheckpointStore | null = null;
  #ownership: CheckpointOwnership | null = null;
  /** Sessions lost so far: a re-take begun before the latest loss gives way to the next one. */
  #losses = 0;
  /**
   * The state held here is stale and not yet replaced by the stored one: a re-take cut short by
   * another loss leaves it set, so the next re-take restores even when nobody owned the id since.
   */
  #stale = false;
  /** Whether the runtime acts: always without a PostgreSQL checkpoint, else while it owns the id. */
  #acting = true;
  #pool: NodePool | null = null;
  #bridge: HostBridge | null = null;

  constructor(options: ResolvedRuntimeOptions, host: WiringHost) {
    this.#options = options;
    this.#host = host;
    this.streams.register('memory', memoryBroker.backend);
    this.streams.register('redis', connectRedisStream);
    const hooks = this.#reactorHooks();
    this.registry = new Registry((declaration: ReactorDeclaration) =>
      declaration.keyed === undefined
        ? new Reactor(declaration, hooks)
        : new KeyedReactor(declaration, {
            ...hooks,
            keyConcurrency: declaration.keyed.keyConcurrency ?? Math.max(kDefaultKeyConcurrency, options.threads),
            forgotten: (name) => this.#persistence?.forget(name),
          }),
    );
    this.idleness = new Idleness(this.registry);
    this.observer = new RuntimeObserver(
      {
        state: () => host.state(),
        queueCapacity: options.queueCapacity,
        accumulators: () => this.outlets.values(),
        reactors: () => this.registry.reactors.values(),
        graphs: () => this.registry.graphs.values(),
        pool: () => this.#pool,
        checkpointed: options.checkpoint !== undefined,
        ownership: () => this.#ownership,
      },
      options.metrics,
      kFireHistory,
    );
  }

  /** Resolves once every boundary accepted so far is on disk (at once without a checkpoint). */
  persisted(): Promise<void> {
    return this.#persistence?.persisted() ?? Promise.resolve();
  }

  // --- start and stop -----------------------------------------------------------------------

  /**
   * Checks the wiring, opens and restores the checkpoint, starts the pool, then connects
   * everything and starts the accumulators. A failure before the accumulators start releases
   * what was opened and leaves nothing running.
   */
  async start(): Promise<void> {
    const registry = this.registry;
    const options = this.#options;
    let restored = noRestoredState;
    let tracing: Awaited<ReturnType<typeof loadTracing>> | null = null;
    try {
      registry.checkWiring();
      if (options.tracing) tracing = await loadTracing();
      for (const accumulator of registry.accumulators.values()) {
        const outlet = new Outlet(accumulator, this.#outletServices());
        accumulator.attach(outlet);
        accumulator.check();
        this.outlets.set(accumulator.name, outlet);
      }
      if (options.checkpoint !== undefined) {
        const persistence = new Persistence(
          this.#store(options.checkpoint),
          (e) => this.#host.reportError(e),
          (ms) => this.observer.committed(ms),
        );
        this.#persistence = persistence;
        await persistence.open();
        if (this.#postgres !== null) this.#setOwnership('owner');
        restored = await this.#loadStored(persistence);
      }
      this.#bridge = new HostBridge({
        push: (name, value, extras, traceparent) => this.#hostPush(name, value, extras, traceparent),
        log: (...args) => options.log(...args),
      });
      await this.#startPool(this.#bridge.channel);
    } catch (error) {
      await this.#release();
      this.outlets.clear();
      this.#ownership = null;
      this.#acting = true;
      throw error;
    }

    for (const reactor of registry.reactors.values()) {
      for (const source of reactor.declaration.accumulators) this.outlets.get(source)!.feed(reactor);
      const acting = reactor.declaration.accumulators
        .map((source) => registry.accumulators.get(source)!)
        .filter((a) => a.afterFire !== undefined);
      if (acting.length > 0) this.#afterFire.set(reactor, acting);
    }
    for (const graph of registry.graphs.values()) {
      registry.reactors.get(graph.reactor!.name)!.bind(graph);
      if (graph.feedback !== null) {
        this.#feedback.set(graph.name, {
          terminal: graph.feedback.terminal,
          target: registry.accumulators.get(graph.feedback.accumulator)!,
        });
      }
    }
    for (const reactor of registry.reactors.values()) {
      if (reactor instanceof KeyedReactor) {
        // By default the polling accumulators are shared by every key.
        const polling = reactor.declaration.accumulators.filter(
          (a) => registry.accumulators.get(a)!.kind === AccumulatorKind.Polling,
        );
        reactor.useBroadcast(reactor.declaration.keyed!.broadcast ?? polling);
      }
      restoreReactor(reactor, restored);
    }
    this.observer.started(tracing);
    for (const reactor of registry.reactors.values()) this.#updateReactorHealth(reactor);
    for (const accumulator of registry.accumulators.values()) {
      await accumulator.start(restored.accumulator(accumulator.name));
    }
  }

  /**
   * Stops the accumulators, lets every reactor that is not paused drain, commits and closes the
   * checkpoint, and closes the pool; throws CheckpointError when the last commit fails.
   */
  async stop(): Promise<void> {
    for (const accumulator of this.registry.accumulators.values()) await accumulator.stop();
    // Writers still waiting for room (a host.push into a paused reactor) give up now, so the
    // firings waiting on them can end; whenWritable() resolves at once from here on.
    for (const outlet of this.outlets.values()) outlet.wakeWriters();
    await this.idleness.wait();
    for (const reactor of this.registry.reactors.values()) {
      this.#persistence?.changed(reactor);
      if (reactor instanceof KeyedReactor) for (const key of reactor.keyReactors()) this.#persistence?.changed(key);
    }
    await this.#release();
  }

  /** Stops a start that waits for its checkpoint's id as a standby: the start rejects. */
  abandonStart(): void {
    if (this.#ownership === 'standby') void this.#postgres?.close();
  }

  /** The store the `checkpoint` option names: a PostgreSQL database by URL, else a SQLite file. */
  #store(checkpoint: string): CheckpointStore {
    const options = this.#options;
    if (!isPostgresUrl(checkpoint)) return new SqliteCheckpointStore(checkpoint, options.durability);
    const store = new PostgresCheckpointStore({
      url: checkpoint,
      id: options.id!,
      standby: options.standby,
      lost: (error) => this.#lost(store, error),
    });
    this.#postgres = store;
    if (options.standby) this.#setOwnership('standby');
    return store;
  }

  /** The session owning the id ended: fence at once, tell, and with `standby` wait to own it again. */
  #lost(store: PostgresCheckpointStore, error: CheckpointError): void {
    if (this.#postgres !== store) return;
    this.#losses++;
    this.#persistence?.fence(error);
    this.#setOwnership(this.#options.standby ? 'standby' : 'lost');
    this.#host.reportError(error);
    if (this.#options.standby) void this.#retake(store);
  }

  /**
   * Waits for the id again; carries on from where it was when nobody owned it in between, and
   * restores the stored state in place otherwise (module comment).
   */
  async #retake(store: PostgresCheckpointStore): Promise<void> {
    const loss = this.#losses;
    let continued: boolean;
    try {
      continued = await store.reown();
    } catch (error) {
      // Closed by shutdown (or a failed start): nothing to tell.
      if (this.#postgres === store && this.#ownership === 'standby') this.#host.reportError(error);
      return;
    }
    if (this.#postgres !== store) return;
    if ((!continued || this.#stale) && !(await this.#reload(store, loss))) return;
    this.#setOwnership('owner');
    this.#persistence?.unfence();
    for (const outlet of this.outlets.values()) outlet.wakeWriters();
  }

  /**
   * The id was owned by another runtime meanwhile: drops what is held here and restores the
   * stored state in place, as a start would (module comment). False when the runtime does not
   * carry on: shut down meanwhile, the session lost again (a new wait has begun), or the stored
   * state failed the registration check (reported, the id released).
   */
  async #reload(store: PostgresCheckpointStore, loss: number): Promise<boolean> {
    const persistence = this.#persistence!;
    const registry = this.registry;
    const current = (): boolean => this.#postgres === store && this.#losses === loss;
    this.#stale = true;
    // Held at `warming`, no reactor starts a firing; the ones in flight end first.
    await Promise.all([...registry.reactors.values()].map((reactor) => reactor.halted()));
    await persistence.discard();
    if (!current()) return false;
    let restored: Restored;
    try {
      restored = await this.#loadStored(persistence);
    } catch (error) {
      if (!current()) return false;
      this.#setOwnership('lost');
      await store.close();
      this.#host.reportError(error);
      return false;
    }
    if (!current()) return false;
    // In one synchronous step, so nothing stale is delivered into restored state, nor staged
    // since the first discard (a batch flushing meanwhile): no commit is in flight, so this
    // discard is done when it returns.
    void persistence.discard();
    for (const reactor of registry.reactors.values()) {
      reactor.reset();
      restoreReactor(reactor, restored);
    }
    const running = [...registry.accumulators.values()].map((a) => a.reset(restored.accumulator(a.name)));
    this.#stale = false;
    await Promise.all(running);
    return current();
  }

  /** The stored state, checked against what is registered (`stateMismatch`), at start and on a reload. */
  #loadStored(persistence: Persistence): Promise<Restored> {
    const registry = this.registry;
    return persistence.restore(
      new Map([...registry.reactors].map(([name, r]) => [name, r.declaration])),
      registry.accumulators,
      this.#options.stateMismatch,
      (e) => this.#host.reportError(e),
    );
  }

  /** Moves the ownership; the reactors' health follows (held at `warming` unless the owner). */
  #setOwnership(ownership: CheckpointOwnership): void {
    const previous = this.#ownership;
    if (ownership === previous) return;
    this.#ownership = ownership;
    this.#host.notify('ownership', ownership, previous);
    const acting = ownership === 'owner';
    if (acting === this.#acting) return;
    this.#acting = acting;
    for (const reactor of this.registry.reactors.values()) {
      if (reactor.health !== ReactorHealth.Starting) this.#updateReactorHealth(reactor);
    }
  }

  /** Creates the runtime's pool when a graph runs on it, and loads their node modules there. */
  async #startPool(channel: string): Promise<void> {
    const graphs = [...this.registry.graphs.values()].filter((g) => graphInternals(g).binding?.followsRuntime);
    if (graphs.length === 0) return;
    const { threads, niceIncrement } = this.#options;
    this.#pool = new NodePool({ threads, niceIncrement, hostChannel: channel });
    for (const graph of graphs) await graphInternals(graph).binding!.attach(this.#host.runtime, this.#pool);
  }

  /** Closes what a start opened; the checkpoint's last commit failing is reported last. */
  async #release(): Promise<void> {
    let failure: unknown = null;
    for (const reactor of this.registry.reactors.values()) reactor.close();
    this.#bridge?.close();
    this.#bridge = null;
    try {
      await this.#persistence?.close();
    } catch (error) {
      failure = error;
    }
    this.#persistence = null;
    this.#postgres = null;
    for (const graph of this.registry.graphs.values()) await graphInternals(graph).binding?.detach(this.#host.runtime);
    await this.#pool?.close();
    this.#pool = null;
    if (failure !== null) throw failure;
  }

  // --- wiring --------------------------------------------------------------------------------

  #outletServices(): OutletServices {
    return {
      queueCapacity: this.#options.queueCapacity,
      runtimeId: this.#options.id,
      acting: () => this.#acting,
      open: () => {
        const state = this.#host.state();
        return state === RuntimeState.Started || state === RuntimeState.Starting;
      },
      streamBackend: (type) => this.streams.get(type),
      persisted: () => this.persisted(),
      report: (error) => this.#host.reportError(error),
      healthChanged: (outlet, health, previous) => {
        this.#host.notify('health', { kind: 'accumulator', name: outlet.name, health, previous });
        for (const reactor of outlet.feeds) this.#updateReactorHealth(reactor);
      },
      save: (name, read) => this.#persistence?.saveAccumulator(name, read),
      progressed: () => this.idleness.check(),
      drained: (name) => this.#host.notify('drain', name),
    };
  }

  #reactorHooks(): ReactorHooks {
    const runtime = this.#host.runtime;
    return {
      queueCapacity: this.#options.queueCapacity,
      questions: {
        observing: () => this.#feedback.size > 0 || runtime.listenerCount('fire') > 0,
        sampling: (reactor) => this.observer.sample(reactor.owner),
        batchable: () => !this.observer.tracing,
        starting: (reactor, graph, seq, manual) => this.observer.starting(reactor.owner, graph, seq, manual),
      },
      events: {
        timed: (_reactor, graph, nodeDurations) => this.observer.timed(graph, nodeDurations),
        recorded: (_reactor, record) => {
          this.observer.recorded(record);
          this.#host.notify('fire', record);
          const feedback = record.ok ? this.#feedback.get(record.graph) : undefined;
          if (feedback !== undefined && record.outputs !== undefined && feedback.terminal in record.outputs) {
            feedback.target.writeFeedback!(record.outputs[feedback.terminal]);
          }
        },
        fired: (reactor, ok) => {
          // Most reactors have none: no empty array is made for them per firing.
          const after = ok ? this.#afterFire.get(reactor.owner) : undefined;
          if (after !== undefined) for (const accumulator of after) accumulator.afterFire!();
          this.idleness.check();
        },
        accepted: (reactor, boundary) => {
          this.#persistence?.accepted(reactor, boundary);
          this.observer.accepted(reactor.owner, boundary.seq);
        },
        consumed: (reactor, seq) => this.#persistence?.consumed(reactor, seq),
        changed: (reactor) => this.#persistence?.changed(reactor),
        stopped: () => this.idleness.check(),
        room: (reactor) => {
          for (const source of reactor.declaration.accumulators) this.outlets.get(source)?.wakeWriters();
        },
      },
    };
  }

  /**
   * `host.push` of a node; `extras` is set when the node runs in a worker (see HostApi), and
   * `traceparent` when its run is traced (what the push causes joins that trace).
   */
  async #hostPush(
    accumulator: string,
    value: unknown,
    extras?: ValueExtras | null,
    traceparent?: string,
  ): Promise<void> {
    this.registry.accumulator(accumulator, 'host.push');
    if (extras) restoreValue(extras);
    const event = extras === undefined ? copyEvent(accumulator, value) : value;
    const outlet = this.outlets.get(accumulator)!;
    this.idleness.hostPushStarted();
    const offer = (): boolean => outlet.offer(event);
    try {
      for (;;) {
        const state = this.#host.state();
        if (state !== RuntimeState.Started && state !== RuntimeState.Stopping) {
          throw new StateError('runtime', state, `host.push('${accumulator}'): the runtime is ${state}`);
        }
        if (this.observer.offer(traceparent, outlet.feeds, offer)) {
          this.#host.pushed();
          return;
        }
        if (state === RuntimeState.Stopping) {
          throw new StateError(
            'runtime',
            state,
            `host.push('${accumulator}'): the runtime is stopping and '${accumulator}' has no room`,
          );
        }
        await outlet.whenWritable();
      }
    } finally {
      this.idleness.hostPushEnded();
    }
  }

  #updateReactorHealth(reactor: LiveReactor): void {
    const health = this.#acting
      ? reactorHealthOf(reactor.declaration.accumulators.map((a) => this.registry.accumulators.get(a)!.health))
      : ReactorHealth.Warming;
    const previous = reactor.health;
    if (previous === health) return;
    this.#host.notify('health', { kind: 'reactor', name: reactor.name, health, previous });
    reactor.setHealth(health);
  }
}

/** Applies `restored` to a reactor just made (or reset): its own state, and a keyed reactor's keys. */
function restoreReactor(reactor: LiveReactor, restored: Restored): void {
  const state = restored.reactor(reactor.name);
  if (state !== undefined) reactor.restore(state.snapshot, state.queue);
  if (reactor instanceof KeyedReactor) {
    for (const [key, saved] of restored.keys(reactor.name) ?? []) reactor.restoreKey(key, saved.snapshot, saved.queue);
  }
}
