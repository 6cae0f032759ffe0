/**
 * The reactive runtime: registries of accumulators, reactors and graphs; the wiring between
 * them; checkpoints; backpressure; lifecycle.
 *
 * Lifecycle (`RuntimeState`): `created` (register components) -> `started` (accumulators run,
 * reactors fire) -> `stopping` (accumulators stopped, batches flushed, reactors drained) ->
 * `stopped` (checkpoint written and closed, pool closed, graphs closed).
 *
 * Everything runs on the main thread except graph nodes on the pool executor. A boundary goes
 * accumulator -> every reactor that lists it; a reactor fires its graphs; each graph's record is
 * a `fire` event. Pushes are refused (`push` returns false) while a sequential reactor fed by the
 * accumulator has `queueCapacity` boundaries waiting, or a batch buffer is full; `whenWritable()`
 * and the `drain` event say when to retry.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { describe } from '../model/describe.js';
import { ConfigurationError, RegistrationError } from '../model/errors.js';
import {
  Accumulator,
  AccumulatorKind,
  instantiate,
  isAccumulatorDeclaration,
  type AccumulatorHost,
} from '../accumulators/accumulator.js';
import { BatchAccumulator } from '../accumulators/batch.js';
import { memoryBroker } from '../accumulators/memory-broker.js';
import { StateAccumulator } from '../accumulators/state.js';
import { StreamAccumulator } from '../accumulators/stream.js';
import { StreamBackendRegistry, type StreamBackendFactory } from '../accumulators/stream-backend.js';
import { NodePool } from '../exec/node-pool.js';
import { ComputationGraph } from '../graph/computation-graph.js';
import { isReactorLike, toReactorDeclaration } from '../model/reactor-declaration.js';
import { ReactorHandle } from '../reactor/handle.js';
import { Reactor, type FireRecord, type QueuedBoundary, type ReactorHooks } from '../reactor/reactor.js';
import { Checkpoint, type Durability } from './checkpoint.js';
import { reactorHealthOf, type AccumulatorHealth, type HealthEvent, type ReactorHealth } from '../model/health.js';
import { HostBridge } from './host-bridge.js';
import { hostRegistry, type HostApi } from '../exec/host-channel.js';
import { RuntimeObserver, type RuntimeReport } from './observability.js';
import type { FireSummary } from './fire-ring.js';
import { loadTracing } from './tracing.js';

/** Lifecycle states of a {@link Runtime}. */
export const RuntimeState = {
  Created: 'created',
  Started: 'started',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type RuntimeState = (typeof RuntimeState)[keyof typeof RuntimeState];

/** Options of a {@link Runtime}. */
export interface RuntimeOptions {
  /** Worker threads of the runtime's pool; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** SQLite file to checkpoint to and restore from; omit to keep state in memory only. */
  readonly checkpoint?: string;
  /** `'process'` (default): commits survive SIGKILL; `'power'`: also a power cut (slower). */
  readonly durability?: Durability;
  /** Most boundaries a sequential reactor queues, and most events an unsized batch buffers; default 10,000. */
  readonly queueCapacity?: number;
  /** Where `host.log(...)` from nodes, and errors nobody listens for, go; default `console.log`. */
  readonly log?: (...args: unknown[]) => void;
  /**
   * Keep latency histograms, last event and fire times and each reactor's recent fire records
   * (`inspect()`, `recentFires()`, the metrics of `cloaca/http`). Costs well under 5% of the
   * runtime's throughput.
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
  /** An accumulator dropped an event, a stream backend failed, or a checkpoint commit failed. */
  error: [error: Error];
  /** A component's health moved. */
  health: [event: HealthEvent];
  /** An accumulator that refused a push accepts again. */
  drain: [accumulator: string];
}

/** What `runtime.stats()` returns. */
export interface RuntimeStats {
  readonly state: RuntimeState;
  /** Events accepted by `push` (all accumulators). */
  readonly pushed: number;
  /** Pushes refused for backpressure. */
  readonly refused: number;
  readonly reactors: Record<
    string,
    { fires: number; failures: number; queued: number; health: ReactorHealth; paused: boolean }
  >;
  readonly accumulators: Record<
    string,
    { kind: AccumulatorKind; events: number; failures: number; health: AccumulatorHealth }
  >;
}

const kDefaultQueueCapacity = 10_000;
/** Fire records kept per reactor for `recentFires()`. */
const kFireHistory = 256;
const kNone: readonly never[] = [];

/** One registered accumulator with its wiring. */
interface Slot {
  readonly accumulator: Accumulator;
  /** Reactors that list it. */
  readonly feeds: Reactor[];
  /** Refused a push since it was last writable. */
  needsDrain: boolean;
  writers: Array<() => void>;
}

export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly threads: number;
  readonly queueCapacity: number;
  readonly #options: RuntimeOptions;
  readonly #log: (...args: unknown[]) => void;
  readonly #slots = new Map<string, Slot>();
  readonly #reactors = new Map<string, Reactor>();
  readonly #graphs = new Map<string, ComputationGraph>();
  /** Accumulators and reactors share one namespace (both are addressed by name); graphs have their own. */
  readonly #endpointNames = new Set<string>();
  readonly #streams = new StreamBackendRegistry();
  /** Graph name -> where its feedback goes. */
  readonly #feedback = new Map<string, { readonly terminal: string; readonly target: StateAccumulator }>();
  /** Reactor -> the batch accumulators that flush after its successful firings. */
  readonly #batchesOf = new Map<Reactor, readonly BatchAccumulator[]>();
  #state: RuntimeState = RuntimeState.Created;
  #checkpoint: Checkpoint | null = null;
  #pool: NodePool | null = null;
  #bridge: HostBridge | null = null;
  #hostApi: HostApi | null = null;
  #idleWaiters: Array<() => void> = [];
  #idleCheckScheduled = false;
  #hostPushes = 0;
  #pushed = 0;
  #refused = 0;
  readonly #hooks: ReactorHooks;
  readonly #observer: RuntimeObserver;

  constructor(options: RuntimeOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError('Runtime', options, `Runtime: expected an options object, got ${describe(options)}`);
    }
    const { threads = availableParallelism(), queueCapacity = kDefaultQueueCapacity } = options;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new ConfigurationError(
        'Runtime',
        threads,
        `Runtime: 'threads' must be a positive integer, got ${describe(threads)}`,
      );
    }
    if (!Number.isInteger(queueCapacity) || queueCapacity < 1) {
      throw new ConfigurationError(
        'Runtime',
        queueCapacity,
        `Runtime: 'queueCapacity' must be a positive integer, got ${describe(queueCapacity)}`,
      );
    }
    for (const flag of ['metrics', 'tracing'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
        throw new ConfigurationError(
          'Runtime',
          options[flag],
          `Runtime: '${flag}' must be a boolean, got ${describe(options[flag])}`,
        );
      }
    }
    if (options.checkpoint !== undefined && (typeof options.checkpoint !== 'string' || options.checkpoint === '')) {
      throw new ConfigurationError(
        'Runtime',
        options.checkpoint,
        `Runtime: 'checkpoint' must be a file path, got ${describe(options.checkpoint)}`,
      );
    }
    this.threads = threads;
    this.queueCapacity = queueCapacity;
    this.#options = options;
    this.#log = options.log ?? ((...args) => console.log('[cloaca]', ...args));
    this.#streams.register('memory', memoryBroker.backend);
    this.#hooks = this.#makeHooks();
    this.#observer = new RuntimeObserver(
      {
        state: () => this.#state,
        queueCapacity,
        accumulators: () => this.#slots.values(),
        reactors: () => this.#reactors.values(),
        graphs: () => this.#graphs.values(),
        pool: () => this.#pool,
        checkpointed: options.checkpoint !== undefined,
      },
      options.metrics ?? true,
      kFireHistory,
    );
  }

  /** Where the runtime is in its lifecycle. */
  get state(): RuntimeState {
    return this.#state;
  }

  /**
   * Registers accumulators (what the accumulator factories return), reactors (`reactor({...})`
   * or a decorated class) and built graphs. Before `start()` only. Throws RegistrationError for
   * two components under one name (accumulators and reactors share a namespace; a graph may be
   * named after its reactor).
   */
  register(...components: unknown[]): this {
    if (this.#state !== RuntimeState.Created) {
      throw new RegistrationError(
        '',
        `runtime.register: components are registered before start(); the runtime is ${this.#state}`,
      );
    }
    for (const component of components) {
      if (isAccumulatorDeclaration(component)) {
        this.#claimEndpoint(component.name, 'accumulator');
        this.#slots.set(component.name, {
          accumulator: instantiate(component),
          feeds: [],
          needsDrain: false,
          writers: [],
        });
      } else if (component instanceof ComputationGraph) {
        if (this.#graphs.has(component.name)) {
          throw new RegistrationError(
            component.name,
            `runtime.register: a graph named '${component.name}' is already registered`,
          );
        }
        if (component.reactor === null) {
          throw new RegistrationError(
            component.name,
            `runtime.register: graph '${component.name}' has no reactor, so nothing would fire it; run trigger-less graphs with graph.execute(context)`,
          );
        }
        this.#graphs.set(component.name, component);
      } else if (isReactorLike(component)) {
        const declaration = toReactorDeclaration(component);
        this.#claimEndpoint(declaration.name, 'reactor');
        this.#reactors.set(declaration.name, new Reactor(declaration, this.#hooks));
      } else {
        throw new RegistrationError(
          '',
          `runtime.register: expected an accumulator, a reactor or a built graph, got ${describe(component)}`,
        );
      }
    }
    return this;
  }

  /** Registers (or replaces) a stream backend factory under `type`, for stream accumulators. */
  registerStreamBackend(type: string, factory: StreamBackendFactory): this {
    this.#streams.register(type, factory);
    return this;
  }

  /**
   * Validates the wiring, restores the checkpoint, starts the accumulators and lets the reactors
   * go live. Rejects with RegistrationError naming a missing reactor or accumulator.
   */
  async start(): Promise<void> {
    if (this.#state !== RuntimeState.Created) {
      throw new RegistrationError('', `runtime.start: the runtime is already ${this.#state}`);
    }
    this.#validate();
    // Everything that can fail on the environment (the tracing package, the checkpoint file, the
    // pool's module imports) comes before anything starts; a failed start leaves nothing running.
    const tracing =
      this.#options.tracing === true
        ? await loadTracing().catch((error: unknown) => {
            this.#state = RuntimeState.Stopped;
            throw error;
          })
        : null;
    const restored = this.#openCheckpoint();
    this.#hostApi = {
      push: (accumulator, value, traceparent) => this.#hostPush(accumulator, value, traceparent),
      log: (...args) => this.#log(...args),
    };
    try {
      await this.#startPool(this.#hostApi);
    } catch (error) {
      this.#state = RuntimeState.Stopped;
      this.#checkpoint?.close();
      await this.#pool?.close();
      throw error;
    }
    for (const reactor of this.#reactors.values()) {
      for (const source of reactor.declaration.accumulators) this.#slots.get(source)!.feeds.push(reactor);
    }
    for (const graph of this.#graphs.values()) {
      this.#reactors.get(graph.reactor!.name)!.graphs.push(graph);
      if (graph.feedback !== null) {
        const target = this.#slots.get(graph.feedback.accumulator)!.accumulator as StateAccumulator;
        this.#feedback.set(graph.name, { terminal: graph.feedback.terminal, target });
      }
    }
    // Per firing, only batch accumulators act on "after a successful firing": look them up once.
    for (const reactor of this.#reactors.values()) {
      const batches = reactor.declaration.accumulators
        .map((source) => this.#slots.get(source)!.accumulator)
        .filter((a): a is BatchAccumulator => a instanceof BatchAccumulator);
      if (batches.length > 0) this.#batchesOf.set(reactor, batches);
    }
    this.#observer.started(tracing);
    this.#state = RuntimeState.Started;
    hostRegistry().running.add(this.#hostApi);

    for (const reactor of this.#reactors.values()) {
      const state = restored?.reactors.get(reactor.name);
      if (state !== undefined) reactor.restore(state.cache, state.dirty, state.queue);
      this.#setReactorHealth(reactor);
    }
    for (const slot of this.#slots.values()) {
      const { accumulator } = slot;
      accumulator.attach(this.#hostFor(slot));
      if (accumulator instanceof BatchAccumulator) accumulator.capacity = this.queueCapacity;
      if (accumulator instanceof StreamAccumulator) accumulator.factory = this.#streams.get(accumulator.config.type);
      await accumulator.start(restored?.accumulators.get(accumulator.name));
    }
  }

  /**
   * Feeds an accumulator (its socket path). Returns false when the event was NOT accepted
   * (backpressure): retry after `whenWritable(name)` or the `drain` event. Throws
   * RegistrationError for an unknown name.
   */
  push(accumulator: string, event: unknown): boolean {
    const slot = this.#slot(accumulator, 'runtime.push');
    if (this.#state !== RuntimeState.Started) {
      throw new RegistrationError(
        accumulator,
        `runtime.push('${accumulator}'): the runtime is ${this.#state}, not started`,
      );
    }
    if (slot.accumulator.offer(event)) {
      this.#pushed++;
      this.#scheduleIdleCheck();
      return true;
    }
    this.#refused++;
    this.#observer.refused(accumulator);
    slot.needsDrain = true;
    return false;
  }

  /** Resolves when a push to `accumulator` (to every accumulator, without a name) would be accepted. */
  whenWritable(accumulator?: string): Promise<void> {
    const slots =
      accumulator === undefined ? [...this.#slots.values()] : [this.#slot(accumulator, 'runtime.whenWritable')];
    return Promise.all(
      slots.map((slot) =>
        this.#state !== RuntimeState.Started || slot.accumulator.writable()
          ? undefined
          : new Promise<void>((resolve) => slot.writers.push(resolve)),
      ),
    ).then(() => undefined);
  }

  /** The handle of a registered reactor. Throws RegistrationError for an unknown name. */
  reactor(name: string): ReactorHandle {
    const reactor = this.#reactors.get(name);
    if (reactor === undefined) {
      throw new RegistrationError(
        name,
        `runtime.reactor: no reactor named '${name}' (registered: ${[...this.#reactors.keys()].join(', ') || 'none'})`,
      );
    }
    return new ReactorHandle(reactor);
  }

  /** Resolves when nothing is queued or running (a paused reactor's backlog does not count). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#scheduleIdleCheck();
    });
  }

  /** Resolves once every boundary accepted so far is on disk (at once without a checkpoint). */
  persisted(): Promise<void> {
    return this.#checkpoint?.persisted() ?? Promise.resolve();
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
    for (const r of this.#reactors.values()) {
      reactors[r.name] = { fires: r.fires, failures: r.failures, queued: r.queued, health: r.health, paused: r.paused };
    }
    const accumulators: Record<string, RuntimeStats['accumulators'][string]> = {};
    for (const { accumulator: a } of this.#slots.values()) {
      accumulators[a.name] = { kind: a.kind, events: a.events, failures: a.failures, health: a.health };
    }
    return { state: this.#state, pushed: this.#pushed, refused: this.#refused, reactors, accumulators };
  }

  /**
   * Stops the accumulators (a batch delivers its last batch), lets every reactor that is not
   * paused drain, writes the checkpoint and closes it, and closes the graphs and the pool.
   */
  async shutdown(): Promise<void> {
    if (this.#state === RuntimeState.Stopping || this.#state === RuntimeState.Stopped) return;
    const started = this.#state === RuntimeState.Started;
    this.#state = RuntimeState.Stopping;
    if (started) {
      for (const { accumulator } of this.#slots.values()) await accumulator.stop();
      // Writers still waiting for room (a host.push into a paused reactor) give up now, so the
      // firings waiting on them can end; whenWritable() resolves at once from here on.
      for (const slot of this.#slots.values()) this.#wakeWriters(slot);
      await this.idle();
    }
    if (this.#hostApi !== null) hostRegistry().running.delete(this.#hostApi);
    this.#bridge?.close();
    if (this.#checkpoint !== null) {
      for (const reactor of this.#reactors.values()) this.#hooks.changed(reactor);
      this.#checkpoint.close();
    }
    for (const graph of this.#graphs.values()) await graph.close();
    await this.#pool?.close();
    this.#state = RuntimeState.Stopped;
  }

  // --- start-up ------------------------------------------------------------------------------

  #claimEndpoint(name: string, kind: string): void {
    if (this.#endpointNames.has(name)) {
      throw new RegistrationError(
        name,
        `runtime.register: an accumulator or reactor named '${name}' is already registered; cannot register ${kind} '${name}'`,
      );
    }
    this.#endpointNames.add(name);
  }

  #validate(): void {
    for (const reactor of this.#reactors.values()) {
      const missing = reactor.declaration.accumulators.filter((a) => !this.#slots.has(a));
      if (missing.length > 0) {
        throw new RegistrationError(
          reactor.name,
          `runtime.start: reactor '${reactor.name}' reads accumulator${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not registered`,
        );
      }
    }
    for (const graph of this.#graphs.values()) {
      const declared = graph.reactor!;
      const reactor = this.#reactors.get(declared.name);
      if (reactor === undefined) {
        throw new RegistrationError(
          declared.name,
          `runtime.start: graph '${graph.name}' is bound to reactor '${declared.name}', which is not registered`,
        );
      }
      if (reactor.declaration !== declared && JSON.stringify(reactor.declaration) !== JSON.stringify(declared)) {
        throw new RegistrationError(
          declared.name,
          `runtime.start: graph '${graph.name}' was built with a different declaration of reactor '${declared.name}' than the one registered`,
        );
      }
      if (graph.feedback !== null) {
        const target = this.#slots.get(graph.feedback.accumulator)?.accumulator;
        if (!(target instanceof StateAccumulator)) {
          throw new RegistrationError(
            graph.feedback.accumulator,
            `runtime.start: graph '${graph.name}' feeds back into '${graph.feedback.accumulator}', which is not a registered state accumulator`,
          );
        }
      }
    }
    for (const { accumulator } of this.#slots.values()) {
      if (accumulator instanceof StreamAccumulator && !this.#streams.has(accumulator.config.type)) {
        throw new RegistrationError(
          accumulator.name,
          `runtime.start: stream accumulator '${accumulator.name}' uses backend type '${accumulator.config.type}', which is not registered (registerStreamBackend)`,
        );
      }
    }
  }

  /** Moves graphs on the process-wide default pool onto a pool of the runtime's own size, wired for `host`. */
  async #startPool(api: HostApi): Promise<void> {
    const graphs = [...this.#graphs.values()].filter((g) => g.onSharedPool);
    if (graphs.length === 0) return;
    const channel = `cloaca-host-${randomUUID()}`;
    const pool = new NodePool({ threads: this.threads, hostChannel: channel });
    this.#pool = pool;
    for (const graph of graphs) await graph.adoptPool(pool);
    this.#bridge = new HostBridge(channel, api);
  }

  #openCheckpoint() {
    const path = this.#options.checkpoint;
    if (path === undefined) return null;
    try {
      this.#checkpoint = new Checkpoint(
        path,
        (error) => this.#reportError(error),
        this.#options.durability,
        (ms) => this.#observer.committed(ms),
      );
      return this.#checkpoint.load();
    } catch (error) {
      this.#checkpoint?.close();
      this.#checkpoint = null;
      throw new ConfigurationError(
        'Runtime',
        path,
        `runtime.start: cannot use checkpoint file '${path}': ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  // --- wiring ----------------------------------------------------------------------------------

  #slot(name: string, caller: string): Slot {
    const slot = this.#slots.get(name);
    if (slot === undefined) {
      throw new RegistrationError(
        name,
        `${caller}: no accumulator named '${name}' (registered: ${[...this.#slots.keys()].join(', ') || 'none'})`,
      );
    }
    return slot;
  }

  #hostFor(slot: Slot): AccumulatorHost {
    const { accumulator, feeds } = slot;
    const name = accumulator.name;
    return {
      emit: (value) => {
        for (const reactor of feeds) reactor.deliver(name, value);
      },
      fail: (error) => this.#reportError(error),
      setHealth: (health) => this.#setAccumulatorHealth(slot, health),
      save: () => this.#checkpoint?.saveAccumulator(name, () => accumulator.checkpointData()),
      canEmit: () => {
        for (const reactor of feeds) if (!reactor.hasRoom()) return false;
        return true;
      },
      whenCanEmit: () => this.whenWritable(name),
      progressed: () => {
        this.#wakeWriters(slot);
        this.#scheduleIdleCheck();
      },
    };
  }

  #makeHooks(): ReactorHooks {
    return {
      queueCapacity: this.queueCapacity,
      recorded: (_reactor, record) => {
        this.#observer.recorded(record);
        if (this.listenerCount('fire') > 0) this.#notify('fire', record);
        const feedback = record.ok ? this.#feedback.get(record.graph) : undefined;
        if (feedback !== undefined && record.outputs !== undefined && feedback.terminal in record.outputs) {
          feedback.target.write(record.outputs[feedback.terminal]);
        }
      },
      fired: (reactor, ok) => {
        if (ok) for (const batch of this.#batchesOf.get(reactor) ?? kNone) batch.afterFire();
        this.#scheduleIdleCheck();
      },
      accepted: (reactor, boundary: QueuedBoundary) => {
        this.#checkpoint?.append(reactor.name, boundary);
        this.#observer.accepted(reactor, boundary.seq);
      },
      consumed: (reactor, seq) => {
        if (this.#checkpoint === null) return;
        this.#checkpoint.consume(reactor.name, seq);
        this.#hooks.changed(reactor);
      },
      changed: (reactor) => this.#checkpoint?.saveReactor(reactor.name, () => reactor.snapshotState()),
      room: (reactor) => {
        for (const source of reactor.declaration.accumulators) this.#wakeWriters(this.#slots.get(source)!);
      },
      starting: (reactor, graph, seq, manual) => this.#observer.starting(reactor, graph, seq, manual),
    };
  }

  /** Resolves waiting writers of an accumulator that accepts again, and announces `drain`. */
  #wakeWriters(slot: Slot): void {
    const open = this.#state !== RuntimeState.Started || slot.accumulator.writable();
    if (!open) return;
    if (slot.writers.length > 0) {
      const writers = slot.writers;
      slot.writers = [];
      for (const wake of writers) wake();
    }
    if (slot.needsDrain && this.#state === RuntimeState.Started) {
      slot.needsDrain = false;
      this.#notify('drain', slot.accumulator.name);
    }
  }

  async #hostPush(accumulator: string, value: unknown, traceparent: string | undefined): Promise<void> {
    const slot = this.#slot(accumulator, 'host.push');
    this.#hostPushes++;
    const offer = (): boolean => slot.accumulator.offer(value);
    try {
      while (this.#state === RuntimeState.Started && !this.#observer.offer(traceparent, slot.feeds, offer))
        await this.whenWritable(accumulator);
      if (this.#state !== RuntimeState.Started) {
        throw new RegistrationError(accumulator, `host.push('${accumulator}'): the runtime is ${this.#state}`);
      }
      this.#pushed++;
    } finally {
      this.#hostPushes--;
      this.#scheduleIdleCheck();
    }
  }

  // --- health, errors, idleness ---------------------------------------------------------------

  #setAccumulatorHealth(slot: Slot, health: AccumulatorHealth): void {
    const accumulator = slot.accumulator;
    const previous = accumulator.health;
    if (previous === health) return;
    accumulator.health = health;
    this.#notify('health', { kind: 'accumulator', name: accumulator.name, health, previous });
    for (const reactor of slot.feeds) this.#setReactorHealth(reactor);
  }

  #setReactorHealth(reactor: Reactor): void {
    const health = reactorHealthOf(reactor.declaration.accumulators.map((a) => this.#slots.get(a)!.accumulator.health));
    const previous = reactor.health;
    if (previous === health) return;
    this.#notify('health', { kind: 'reactor', name: reactor.name, health, previous });
    reactor.setHealth(health);
  }

  /** Emits an event; a listener that throws is user code, reported and never let into the reactor loop. */
  #notify<K extends 'fire' | 'drain' | 'health'>(event: K, ...args: RuntimeEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: RuntimeEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#reportError(
        new Error(`a '${event}' listener threw: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        }),
      );
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
    for (const reactor of this.#reactors.values()) if (!reactor.quiescent()) return false;
    for (const { accumulator } of this.#slots.values()) if (!accumulator.quiescent()) return false;
    return true;
  }
}
