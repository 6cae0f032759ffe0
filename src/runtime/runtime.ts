/**
 * The reactive runtime: a facade over small parts.
 *
 * - `registry.ts`: accumulators, reactors and graphs by name; wiring checks at `start()`.
 * - `lifecycle.ts`: `created -> starting -> started -> stopping -> stopped`, idempotent
 *   `start()` and `shutdown()`.
 * - `outlet.ts`: each accumulator's host: delivery to the reactors it feeds, backpressure,
 *   waiting writers and `drain`.
 * - `persistence.ts` over `checkpoint/`: what is saved, matched and restored.
 * - `host-bridge.ts`: `host` for nodes, inline and in the runtime's pool workers.
 * - `signals.ts`: `shutdownOnSignals()`.
 *
 * Everything runs on the main thread except graph nodes on the pool executor. A boundary goes
 * accumulator -> outlet -> every reactor that lists it; a reactor fires its graphs; each graph's
 * record is a `fire` event. The runtime has one pool (`threads` workers in all), created at
 * `start()` when a registered graph runs on the pool and names no pool of its own.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Accumulator, AccumulatorKind } from '../accumulators/accumulator.js';
import { memoryBroker } from '../accumulators/memory-broker.js';
import { connectRedisStream } from '../accumulators/redis-stream.js';
import { StreamBackendRegistry, type StreamBackendFactory } from '../accumulators/stream-backend.js';
import { NodePool } from '../exec/node-pool.js';
import { graphInternals } from '../graph/computation-graph.js';
import { ListenerError, StateError } from '../model/errors.js';
import { reactorHealthOf, type AccumulatorHealth, type HealthEvent, type ReactorHealth } from '../model/health.js';
import {
  rejectUnknownKeys,
  requireNonEmptyString,
  optionalBoolean,
  requireOneOf,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';
import type { ReactorDeclaration } from '../model/reactor-declaration.js';
import { ReactorHandle } from '../reactor/handle.js';
import { Reactor, type FireRecord, type ReactorHooks } from '../reactor/reactor.js';
import type { Durability } from './checkpoint/store.js';
import { SqliteCheckpointStore } from './checkpoint/sqlite-store.js';
import { HostBridge } from './host-bridge.js';
import { Lifecycle, RuntimeState } from './lifecycle.js';
import { Outlet, type OutletServices } from './outlet.js';
import { noRestoredState, Persistence, type StateMismatchPolicy } from './persistence.js';
import { Registry } from './registry.js';
import { installSignalHandlers, type ShutdownOnSignalsOptions } from './signals.js';
import { checkEvent, copyEvent, restoreValue, type ValueExtras } from '../model/values.js';
import type { FireSummary } from './fire-ring.js';
import { RuntimeObserver } from './observability.js';
import type { RuntimeReport } from './report.js';
import { loadTracing } from './tracing.js';

export { RuntimeState } from './lifecycle.js';

/** Options of a {@link Runtime}. */
export interface RuntimeOptions {
  /**
   * Worker threads of the runtime's pool, in all: every registered pool graph that names no
   * pool of its own runs there.
   * @default os.availableParallelism()
   */
  readonly threads?: number;
  /**
   * SQLite file to checkpoint to and restore from; omit to keep state in memory only. The file
   * belongs to one runtime at a time.
   * @example './cloaca.db'
   */
  readonly checkpoint?: string;
  /**
   * `'process'`: commits survive the process being killed (SIGKILL); `'power'`: also a power
   * cut (an fsync per commit, slower).
   * @default 'process'
   */
  readonly durability?: Durability;
  /**
   * Most boundaries a sequential reactor queues, and most events a batch accumulator without a
   * `maxBufferSize` buffers; past it `push` returns false.
   * @default 10000
   */
  readonly queueCapacity?: number;
  /**
   * What to do with checkpointed state that no longer fits the registrations (a component
   * renamed or removed, a reactor's strategy or an accumulator's kind changed): `'fail'` rejects
   * `start()` naming it; `'set-aside'` keeps it in the file's `set_aside` table, reports it as an
   * `error` event and starts the component empty. It is never applied to the wrong thing.
   * @default 'fail'
   */
  readonly stateMismatch?: StateMismatchPolicy;
  /**
   * Where `host.log(...)` from nodes, and errors nobody listens for, go.
   * @default console.log, prefixed with '[cloaca]'
   */
  readonly log?: (...args: unknown[]) => void;
  /**
   * Keep latency histograms, last event and fire times and each reactor's recent fire records
   * (`inspect()`, `recentFires()`, the metrics of `cloaca/http`). Counts are exact. While a
   * reactor fires more than about a thousand times a second, the timing is sampled: about a
   * thousand of its firings a second are timed (fire and node duration histograms, recent
   * fires), and every failure is kept in the recent fires. Costs under 5% of the runtime's
   * throughput. A `fire` listener, or tracing, has every firing timed.
   * @default true
   * @example new Runtime({ metrics: false })
   */
  readonly metrics?: boolean;
  /**
   * Trace firings with OpenTelemetry: a span per graph run, a child span per node, context
   * carried through `host.push`. Needs `@opentelemetry/api` and a registered tracer provider.
   * @default false
   * @example new Runtime({ tracing: true })
   */
  readonly tracing?: boolean;
}

/** The runtime's events. */
export interface RuntimeEvents {
  /** One graph's outcome of one firing. */
  fire: [record: FireRecord];
  /**
   * Something went wrong that the runtime survived: an accumulator dropped an event, a stream
   * backend failed, a checkpoint commit failed (retried), saved state was set aside, a listener
   * threw.
   */
  error: [error: Error];
  /** A component's health moved. */
  health: [event: HealthEvent];
  /** An accumulator that refused a push accepts again. */
  drain: [accumulator: string];
  /** The runtime moved in its lifecycle. */
  state: [state: RuntimeState, previous: RuntimeState];
}

/** What `runtime.stats()` returns. */
export interface RuntimeStats {
  readonly state: RuntimeState;
  /** Events accepted by `push` and `host.push` (all accumulators). */
  readonly pushed: number;
  /** Pushes refused for backpressure. */
  readonly refused: number;
  /** Per reactor; `batched`: firings that ran in a batch of queued boundaries in one worker. */
  readonly reactors: Record<
    string,
    { fires: number; failures: number; batched: number; queued: number; health: ReactorHealth; paused: boolean }
  >;
  readonly accumulators: Record<
    string,
    { kind: AccumulatorKind; events: number; failures: number; health: AccumulatorHealth }
  >;
}

const kOptionKeys = [
  'threads',
  'checkpoint',
  'durability',
  'queueCapacity',
  'stateMismatch',
  'log',
  'metrics',
  'tracing',
];
/** Fire records kept per reactor for `recentFires()`. */
const kFireHistory = 256;
const kDefaultQueueCapacity = 10_000;

export class Runtime extends EventEmitter<RuntimeEvents> {
  /** Worker threads of the runtime's pool. */
  readonly threads: number;
  /** The bound of sequential queues and unsized batch buffers. */
  readonly queueCapacity: number;
  readonly #options: RuntimeOptions;
  readonly #log: (...args: unknown[]) => void;
  readonly #registry: Registry;
  readonly #streams = new StreamBackendRegistry();
  readonly #lifecycle = new Lifecycle((state, previous) => this.#notify('state', state, previous));
  readonly #outlets = new Map<string, Outlet>();
  /** Graph name -> where its feedback goes. */
  readonly #feedback = new Map<string, { readonly terminal: string; readonly target: Accumulator }>();
  /** Reactor -> its accumulators that act after each of its successful firings. */
  readonly #afterFire = new Map<Reactor, readonly Accumulator[]>();
  readonly #observer: RuntimeObserver;
  #persistence: Persistence | null = null;
  #pool: NodePool | null = null;
  #bridge: HostBridge | null = null;
  #idleWaiters: Array<() => void> = [];
  #idleCheckScheduled = false;
  #hostPushes = 0;
  #pushed = 0;
  #refused = 0;

  /**
   * @example
   * const runtime = new Runtime({ threads: 4, checkpoint: './cloaca.db' });
   */
  constructor(options: RuntimeOptions = {}) {
    super();
    requireOptionsObject('Runtime', options);
    rejectUnknownKeys('Runtime', options, kOptionKeys);
    const { threads = availableParallelism(), queueCapacity = kDefaultQueueCapacity } = options;
    this.threads = requirePositiveInteger('Runtime', 'threads', threads);
    this.queueCapacity = requirePositiveInteger('Runtime', 'queueCapacity', queueCapacity);
    if (options.checkpoint !== undefined) requireNonEmptyString('Runtime', 'checkpoint', options.checkpoint);
    if (options.durability !== undefined) {
      requireOneOf('Runtime', 'durability', options.durability, ['process', 'power'] as const);
    }
    if (options.stateMismatch !== undefined) {
      requireOneOf('Runtime', 'stateMismatch', options.stateMismatch, ['fail', 'set-aside'] as const);
    }
    optionalBoolean('Runtime', 'metrics', options.metrics);
    optionalBoolean('Runtime', 'tracing', options.tracing);
    this.#options = options;
    this.#log = options.log ?? ((...args) => console.log('[cloaca]', ...args));
    this.#streams.register('memory', memoryBroker.backend);
    this.#streams.register('redis', connectRedisStream);
    const hooks = this.#reactorHooks();
    this.#registry = new Registry((declaration: ReactorDeclaration) => new Reactor(declaration, hooks));
    this.#observer = new RuntimeObserver(
      {
        state: () => this.state,
        queueCapacity: this.queueCapacity,
        accumulators: () => this.#outlets.values(),
        reactors: () => this.#registry.reactors.values(),
        graphs: () => this.#registry.graphs.values(),
        pool: () => this.#pool,
        checkpointed: options.checkpoint !== undefined,
      },
      options.metrics ?? true,
      kFireHistory,
    );
  }

  /** Where the runtime is in its lifecycle. */
  get state(): RuntimeState {
    return this.#lifecycle.state;
  }

  /**
   * Registers accumulators (what the accumulator factories return), reactors (`reactor({...})`
   * or a decorated class) and built graphs, before `start()`. Throws RegistrationError for two
   * components under one name (accumulators and reactors share a namespace; a graph may be named
   * after its reactor), StateError after `start()`.
   */
  register(...components: unknown[]): this {
    if (this.state !== RuntimeState.Created) {
      throw new StateError(
        'runtime',
        this.state,
        `runtime.register: components are registered before start(); the runtime is ${this.state}`,
      );
    }
    this.#registry.register(components);
    return this;
  }

  /** Registers (or replaces) a stream backend factory under `type`, for stream accumulators. */
  registerStreamBackend(type: string, factory: StreamBackendFactory): this {
    this.#streams.register(type, factory);
    return this;
  }

  /**
   * Checks the wiring, opens and restores the checkpoint, starts the pool, then the
   * accumulators, and lets the reactors go live. Anything that can fail comes before anything
   * runs: a failed start leaves nothing running. Rejects with RegistrationError naming a missing
   * reactor or accumulator, CheckpointError for a file in use, corrupt or holding mismatched
   * state. A second call returns the same promise.
   */
  start(): Promise<void> {
    return this.#lifecycle.start(() => this.#start());
  }

  /**
   * Feeds an accumulator (its socket path). Returns false when the event was NOT accepted
   * (backpressure): retry after `whenWritable(name)` or the `drain` event. Throws
   * RegistrationError for an unknown name, StateError unless started, and
   * UncloneableValueError (naming the accumulator and the path) for an event that cannot be
   * cloned or checkpointed, which is not accepted.
   *
   * The event is handed over: do not mutate it after pushing.
   */
  push(accumulator: string, event: unknown): boolean {
    // Every registered accumulator has an outlet once started: one lookup on the hot path.
    const outlet = this.#outlets.get(accumulator);
    if (outlet === undefined) this.#registry.accumulator(accumulator, 'runtime.push');
    // The message is built only when it is thrown: a template per push costs an allocation.
    if (this.#lifecycle.state !== RuntimeState.Started)
      this.#lifecycle.requireStarted(`runtime.push('${accumulator}')`);
    checkEvent(accumulator, event);
    if (outlet!.offer(event)) {
      this.#pushed++;
      this.#scheduleIdleCheck();
      return true;
    }
    this.#refused++;
    this.#observer.refused(accumulator);
    return false;
  }

  /** Resolves when a push to `accumulator` (to every accumulator, without a name) would be accepted. */
  whenWritable(accumulator?: string): Promise<void> {
    if (accumulator !== undefined) this.#registry.accumulator(accumulator, 'runtime.whenWritable');
    if (this.state !== RuntimeState.Started) return Promise.resolve();
    const outlets = accumulator === undefined ? [...this.#outlets.values()] : [this.#outlets.get(accumulator)!];
    return Promise.all(outlets.map((o) => o.whenWritable())).then(() => undefined);
  }

  /** The handle of a registered reactor. Throws RegistrationError for an unknown name. */
  reactor(name: string): ReactorHandle {
    return new ReactorHandle(this.#registry.reactor(name, 'runtime.reactor'));
  }

  /** Resolves when nothing is queued or running (a paused reactor's backlog does not count). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#scheduleIdleCheck();
    });
  }

  /**
   * Resolves once every boundary accepted so far is on disk (at once without a checkpoint).
   * Rejects with CheckpointError when the commit that should write them fails; they stay staged
   * and a later `persisted()` resolves once a retry has written them.
   */
  persisted(): Promise<void> {
    return this.#persistence?.persisted() ?? Promise.resolve();
  }

  /**
   * Everything an operator looks at: each accumulator, reactor and graph with its health,
   * counters, last event and fire times, buffer depth, topology and latency histograms; the
   * pool; checkpoint commit latency. Histograms are live views (see `LatencyHistogramView`).
   */
  inspect(): RuntimeReport {
    return this.#observer.report();
  }

  /**
   * The newest fire records of a reactor, newest first (the newest 256 are kept per reactor;
   * none with `metrics: false`). Throws RegistrationError for an unknown name.
   */
  recentFires(reactor: string, limit = 50): FireSummary[] {
    this.reactor(reactor);
    return this.#observer.recentFires(reactor, limit);
  }

  /** Counters for status lines. */
  stats(): RuntimeStats {
    const reactors: Record<string, RuntimeStats['reactors'][string]> = {};
    for (const r of this.#registry.reactors.values()) {
      reactors[r.name] = {
        fires: r.fires,
        failures: r.failures,
        batched: r.batched,
        queued: r.queued,
        health: r.health,
        paused: r.paused,
      };
    }
    const accumulators: Record<string, RuntimeStats['accumulators'][string]> = {};
    for (const a of this.#registry.accumulators.values()) {
      accumulators[a.name] = { kind: a.kind, events: a.events, failures: a.failures, health: a.health };
    }
    return { state: this.state, pushed: this.#pushed, refused: this.#refused, reactors, accumulators };
  }

  /**
   * Stops the accumulators (a batch delivers its last batch), lets every reactor that is not
   * paused drain, commits and closes the checkpoint, and closes the pool. A second call returns
   * the same promise. Rejects with CheckpointError when the last commit fails (everything is
   * closed all the same).
   */
  shutdown(): Promise<void> {
    return this.#lifecycle.shutdown(() => this.#stop());
  }

  /**
   * Shuts the runtime down gracefully on the first of `signals` (drain, persist, close), then
   * lets the process exit (code `process.exitCode ?? 0`); a second signal exits at once. Returns
   * a function that removes the handlers.
   *
   * @example
   * await runtime.start();
   * runtime.shutdownOnSignals();
   */
  shutdownOnSignals(
    signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
    options: ShutdownOnSignalsOptions = {},
  ): () => void {
    requireOptionsObject('shutdownOnSignals', options);
    rejectUnknownKeys('shutdownOnSignals', options, ['exit']);
    return installSignalHandlers(
      signals,
      () => this.shutdown(),
      (message) => this.#log(message),
      options,
    );
  }

  // --- start and stop -----------------------------------------------------------------------

  async #start(): Promise<void> {
    const registry = this.#registry;
    let restored = noRestoredState;
    let tracing: Awaited<ReturnType<typeof loadTracing>> | null = null;
    try {
      registry.checkWiring();
      if (this.#options.tracing === true) tracing = await loadTracing();
      for (const accumulator of registry.accumulators.values()) {
        const outlet = new Outlet(accumulator, this.#outletServices());
        accumulator.attach(outlet);
        accumulator.check();
        this.#outlets.set(accumulator.name, outlet);
      }
      if (this.#options.checkpoint !== undefined) {
        const persistence = new Persistence(
          new SqliteCheckpointStore(this.#options.checkpoint, this.#options.durability ?? 'process'),
          (e) => this.#reportError(e),
          (ms) => this.#observer.committed(ms),
        );
        await persistence.open();
        this.#persistence = persistence;
        restored = await persistence.restore(
          new Map([...registry.reactors].map(([name, r]) => [name, r.declaration])),
          registry.accumulators,
          this.#options.stateMismatch ?? 'fail',
          (e) => this.#reportError(e),
        );
      }
      this.#bridge = new HostBridge({
        push: (name, value, extras, traceparent) => this.#hostPush(name, value, extras, traceparent),
        log: (...args) => this.#log(...args),
      });
      await this.#startPool(this.#bridge.channel);
    } catch (error) {
      await this.#release();
      this.#outlets.clear();
      throw error;
    }

    for (const reactor of registry.reactors.values()) {
      for (const source of reactor.declaration.accumulators) this.#outlets.get(source)!.feeds.push(reactor);
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
      const state = restored.reactor(reactor.name);
      if (state !== undefined) reactor.restore(state.snapshot, state.queue);
    }
    this.#observer.started(tracing);
    for (const reactor of registry.reactors.values()) this.#updateReactorHealth(reactor);
    for (const accumulator of registry.accumulators.values()) {
      await accumulator.start(restored.accumulator(accumulator.name));
    }
  }

  /** Creates the runtime's pool when a graph runs on it, and loads their node modules there. */
  async #startPool(channel: string): Promise<void> {
    const graphs = [...this.#registry.graphs.values()].filter((g) => graphInternals(g).binding?.followsRuntime);
    if (graphs.length === 0) return;
    this.#pool = new NodePool({ threads: this.threads, hostChannel: channel });
    for (const graph of graphs) await graphInternals(graph).binding!.attach(this, this.#pool);
  }

  async #stop(): Promise<void> {
    for (const accumulator of this.#registry.accumulators.values()) await accumulator.stop();
    // Writers still waiting for room (a host.push into a paused reactor) give up now, so the
    // firings waiting on them can end; whenWritable() resolves at once from here on.
    for (const outlet of this.#outlets.values()) outlet.wakeWriters();
    await this.idle();
    for (const reactor of this.#registry.reactors.values()) this.#persistence?.changed(reactor);
    await this.#release();
  }

  /** Closes what a start opened; the checkpoint's last commit failing is reported last. */
  async #release(): Promise<void> {
    let failure: unknown = null;
    this.#bridge?.close();
    this.#bridge = null;
    try {
      await this.#persistence?.close();
    } catch (error) {
      failure = error;
    }
    this.#persistence = null;
    for (const graph of this.#registry.graphs.values()) await graphInternals(graph).binding?.detach(this);
    await this.#pool?.close();
    this.#pool = null;
    if (failure !== null) throw failure;
  }

  // --- wiring --------------------------------------------------------------------------------

  #outletServices(): OutletServices {
    return {
      queueCapacity: this.queueCapacity,
      open: () => this.state === RuntimeState.Started || this.state === RuntimeState.Starting,
      streamBackend: (type) => this.#streams.get(type),
      persisted: () => this.persisted(),
      report: (error) => this.#reportError(error),
      healthChanged: (outlet, health, previous) => {
        this.#notify('health', { kind: 'accumulator', name: outlet.name, health, previous });
        for (const reactor of outlet.feeds) this.#updateReactorHealth(reactor);
      },
      save: (name, read) => this.#persistence?.saveAccumulator(name, read),
      progressed: () => this.#scheduleIdleCheck(),
      drained: (name) => this.#notify('drain', name),
    };
  }

  #reactorHooks(): ReactorHooks {
    return {
      queueCapacity: this.queueCapacity,
      observing: () => this.#feedback.size > 0 || this.listenerCount('fire') > 0,
      sampling: (reactor) => this.#observer.sample(reactor),
      batchable: () => !this.#observer.tracing,
      timed: (_reactor, graph, nodeDurations) => this.#observer.timed(graph, nodeDurations),
      recorded: (_reactor, record) => {
        this.#observer.recorded(record);
        if (this.listenerCount('fire') > 0) this.#notify('fire', record);
        const feedback = record.ok ? this.#feedback.get(record.graph) : undefined;
        if (feedback !== undefined && record.outputs !== undefined && feedback.terminal in record.outputs) {
          feedback.target.writeFeedback!(record.outputs[feedback.terminal]);
        }
      },
      fired: (reactor, ok) => {
        if (ok) for (const accumulator of this.#afterFire.get(reactor) ?? []) accumulator.afterFire!();
        this.#scheduleIdleCheck();
      },
      accepted: (reactor, boundary) => {
        this.#persistence?.accepted(reactor, boundary);
        this.#observer.accepted(reactor, boundary.seq);
      },
      consumed: (reactor, seq) => this.#persistence?.consumed(reactor, seq),
      changed: (reactor) => this.#persistence?.changed(reactor),
      stopped: () => this.#scheduleIdleCheck(),
      room: (reactor) => {
        for (const source of reactor.declaration.accumulators) this.#outlets.get(source)?.wakeWriters();
      },
      starting: (reactor, graph, seq, manual) => this.#observer.starting(reactor, graph, seq, manual),
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
    this.#registry.accumulator(accumulator, 'host.push');
    if (extras) restoreValue(extras);
    const event = extras === undefined ? copyEvent(accumulator, value) : value;
    const outlet = this.#outlets.get(accumulator)!;
    this.#hostPushes++;
    const offer = (): boolean => outlet.offer(event);
    try {
      for (;;) {
        const state = this.state;
        if (state !== RuntimeState.Started && state !== RuntimeState.Stopping) {
          throw new StateError('runtime', state, `host.push('${accumulator}'): the runtime is ${state}`);
        }
        if (this.#observer.offer(traceparent, outlet.feeds, offer)) {
          this.#pushed++;
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
      this.#hostPushes--;
      this.#scheduleIdleCheck();
    }
  }

  // --- health, errors, idleness ---------------------------------------------------------------

  #updateReactorHealth(reactor: Reactor): void {
    const health = reactorHealthOf(
      reactor.declaration.accumulators.map((a) => this.#registry.accumulators.get(a)!.health),
    );
    const previous = reactor.health;
    if (previous === health) return;
    this.#notify('health', { kind: 'reactor', name: reactor.name, health, previous });
    reactor.setHealth(health);
  }

  /** Emits an event; a listener that throws is user code, reported and never let into the runtime. */
  #notify<K extends 'fire' | 'drain' | 'health' | 'state'>(event: K, ...args: RuntimeEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: RuntimeEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#reportError(new ListenerError(event, { cause: error }));
    }
  }

  #reportError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    // An 'error' event nobody listens to would throw and take the process down.
    if (this.listenerCount('error') === 0) {
      this.#log(`error: ${err.message}`);
      return;
    }
    try {
      this.emit('error', err);
    } catch (thrown) {
      this.#log(
        `error: ${err.message}; and an 'error' listener threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
      );
    }
  }

  #scheduleIdleCheck(): void {
    if (this.#idleWaiters.length === 0 || this.#idleCheckScheduled) return;
    this.#idleCheckScheduled = true;
    setImmediate(() => {
      this.#idleCheckScheduled = false;
      if (!this.#isIdle()) return;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }

  #isIdle(): boolean {
    if (this.#hostPushes > 0) return false;
    for (const reactor of this.#registry.reactors.values()) if (!reactor.quiescent()) return false;
    for (const accumulator of this.#registry.accumulators.values()) if (!accumulator.quiescent()) return false;
    return true;
  }
}
