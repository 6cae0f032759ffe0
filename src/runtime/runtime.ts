/**
 * The reactive runtime: a facade over small parts.
 *
 * - `runtime-options.ts`: the options, their defaults, and the checks of what is passed.
 * - `wiring.ts`: how accumulators, reactors, graphs, the checkpoint, the pool and the observer
 *   are connected at `start()` and released at `shutdown()`.
 * - `registry.ts`: accumulators, reactors and graphs by name; wiring checks at `start()`.
 * - `lifecycle.ts`: `created -> starting -> started -> stopping -> stopped`, idempotent
 *   `start()` and `shutdown()`.
 * - `outlet.ts`: each accumulator's host: delivery to the reactors it feeds, backpressure,
 *   waiting writers and `drain`.
 * - `persistence.ts` over `checkpoint/`: what is saved, matched and restored.
 * - `host-bridge.ts`: `host` for nodes, inline and in the runtime's pool workers.
 * - `idleness.ts`: `idle()`.
 * - `runtime-events.ts`: the events, and how a throwing listener is kept out.
 * - `signals.ts`: `shutdownOnSignals()`.
 *
 * Everything runs on the main thread except graph nodes on the pool executor. A boundary goes
 * accumulator -> outlet -> every reactor that lists it; a reactor fires its graphs; each graph's
 * record is a `fire` event. The runtime has one pool (`threads` workers in all), created at
 * `start()` when a registered graph runs on the pool and names no pool of its own.
 */
import { EventEmitter } from 'node:events';
import type { AccumulatorKind } from '../accumulators/accumulator.js';
import type { StreamBackendFactory } from '../accumulators/stream-backend.js';
import { StateError } from '../model/errors.js';
import type { AccumulatorHealth, ReactorHealth } from '../model/health.js';
import { rejectUnknownKeys, requireOptionsObject } from '../model/options.js';
import { copyEvent } from '../model/values.js';
import { ReactorHandle } from '../reactor/handle.js';
import type { FireSummary } from './fire-ring.js';
import { Lifecycle, RuntimeState } from './lifecycle.js';
import type { RuntimeReport } from './report.js';
import { notify, reportError, type Notify, type RuntimeEvents } from './runtime-events.js';
import { resolveRuntimeOptions, type ResolvedRuntimeOptions, type RuntimeOptions } from './runtime-options.js';
import { installSignalHandlers, type ShutdownOnSignalsOptions } from './signals.js';
import { RuntimeWiring } from './wiring.js';

export { RuntimeState } from './lifecycle.js';

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

export class Runtime extends EventEmitter<RuntimeEvents> {
  /** Worker threads of the runtime's pool. */
  readonly threads: number;
  /** The bound of sequential queues and unsized batch buffers. */
  readonly queueCapacity: number;
  readonly #options: ResolvedRuntimeOptions;
  readonly #reportError = (error: unknown): void => reportError(this, this.#options.log, error);
  /** Emits an event; a listener that throws is user code, reported and never let into the runtime. */
  readonly #notify: Notify = (event, ...args) => notify(this, this.#reportError, event, ...args);
  readonly #lifecycle = new Lifecycle((state, previous) => this.#notify('state', state, previous));
  readonly #wiring: RuntimeWiring;
  #pushed = 0;
  #refused = 0;

  /**
   * Throws ConfigurationError for an unknown option or a bad value, naming the option and
   * printing the value.
   *
   * @example
   * const runtime = new Runtime({ threads: 4, checkpoint: './cloaca.db' });
   */
  constructor(options: RuntimeOptions = {}) {
    super();
    this.#options = resolveRuntimeOptions(options);
    this.threads = this.#options.threads;
    this.queueCapacity = this.#options.queueCapacity;
    this.#wiring = new RuntimeWiring(this.#options, {
      runtime: this,
      state: () => this.state,
      notify: this.#notify,
      reportError: this.#reportError,
      pushed: () => {
        this.#pushed++;
      },
    });
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
    this.#wiring.registry.register(components);
    return this;
  }

  /** Registers (or replaces) a stream backend factory under `type`, for stream accumulators. */
  registerStreamBackend(type: string, factory: StreamBackendFactory): this {
    this.#wiring.streams.register(type, factory);
    return this;
  }

  /**
   * Checks the wiring, opens and restores the checkpoint, starts the pool, then the
   * accumulators, and lets the reactors go live. Anything that can fail comes before anything
   * runs: a failed start leaves nothing running. Rejects with RegistrationError naming a missing
   * reactor or accumulator, CheckpointError for a file (or a PostgreSQL `id`) in use, corrupt or
   * holding mismatched state. With `standby`, resolves once this runtime owns its `id`. A second
   * call returns the same promise.
   */
  start(): Promise<void> {
    return this.#lifecycle.start(() => this.#wiring.start());
  }

  /**
   * Feeds an accumulator (its socket path). Returns false when the event was NOT accepted
   * (backpressure): retry after `whenWritable(name)` or the `drain` event. Throws
   * RegistrationError for an unknown name, StateError unless started, and
   * UncloneableValueError (naming the accumulator and the path) for an event that cannot be
   * cloned or checkpointed, which is not accepted.
   *
   * The runtime keeps a copy of the event (made by the same rules as a node boundary): mutating
   * the event after pushing it changes nothing the runtime holds.
   */
  push(accumulator: string, event: unknown): boolean {
    // Every registered accumulator has an outlet once started: one lookup on the hot path.
    const outlet = this.#wiring.outlets.get(accumulator);
    if (outlet === undefined) this.#wiring.registry.accumulator(accumulator, 'runtime.push');
    // The message is built only when it is thrown: a template per push costs an allocation.
    if (this.#lifecycle.state !== RuntimeState.Started)
      this.#lifecycle.requireStarted(`runtime.push('${accumulator}')`);
    // Checked and copied in one pass; plain data takes the fast path of the value rules.
    if (outlet!.offer(copyEvent(accumulator, event))) {
      this.#pushed++;
      this.#wiring.idleness.check();
      return true;
    }
    this.#refused++;
    this.#wiring.observer.refused(accumulator);
    return false;
  }

  /** Resolves when a push to `accumulator` (to every accumulator, without a name) would be accepted. */
  whenWritable(accumulator?: string): Promise<void> {
    const { registry, outlets: byName } = this.#wiring;
    if (accumulator !== undefined) registry.accumulator(accumulator, 'runtime.whenWritable');
    if (this.state !== RuntimeState.Started) return Promise.resolve();
    const outlets = accumulator === undefined ? [...byName.values()] : [byName.get(accumulator)!];
    return Promise.all(outlets.map((o) => o.whenWritable())).then(() => undefined);
  }

  /** The handle of a registered reactor. Throws RegistrationError for an unknown name. */
  reactor(name: string): ReactorHandle {
    return new ReactorHandle(this.#wiring.registry.reactor(name, 'runtime.reactor'));
  }

  /** Resolves when nothing is queued or running (a paused reactor's backlog does not count). */
  idle(): Promise<void> {
    return this.#wiring.idleness.wait();
  }

  /**
   * Resolves once every boundary accepted so far is on disk (at once without a checkpoint).
   * Rejects with CheckpointError when the commit that should write them fails; they stay staged
   * and a later `persisted()` resolves once a retry has written them.
   */
  persisted(): Promise<void> {
    return this.#wiring.persisted();
  }

  /**
   * Everything an operator looks at: each accumulator, reactor and graph with its health,
   * counters, last event and fire times, buffer depth, topology and latency histograms; the
   * pool; checkpoint commit latency. Histograms are live views (see `LatencyHistogramView`).
   */
  inspect(): RuntimeReport {
    return this.#wiring.observer.report();
  }

  /**
   * The newest fire records of a reactor, newest first (the newest 256 are kept per reactor;
   * none with `metrics: false`). Throws RegistrationError for an unknown name.
   */
  recentFires(reactor: string, limit = 50): FireSummary[] {
    this.reactor(reactor);
    return this.#wiring.observer.recentFires(reactor, limit);
  }

  /** Counters for status lines. */
  stats(): RuntimeStats {
    const reactors: Record<string, RuntimeStats['reactors'][string]> = {};
    for (const r of this.#wiring.registry.reactors.values()) {
      reactors[r.name] = {
        fires: r.fires,
        failures: r.counts.failures,
        batched: r.counts.batched,
        queued: r.queued,
        health: r.health,
        paused: r.paused,
      };
    }
    const accumulators: Record<string, RuntimeStats['accumulators'][string]> = {};
    for (const a of this.#wiring.registry.accumulators.values()) {
      accumulators[a.name] = { kind: a.kind, events: a.events, failures: a.failures, health: a.health };
    }
    return { state: this.state, pushed: this.#pushed, refused: this.#refused, reactors, accumulators };
  }

  /**
   * Stops the accumulators (a batch delivers its last batch), lets every reactor that is not
   * paused drain, commits and closes the checkpoint, and closes the pool. A second call returns
   * the same promise. Rejects with CheckpointError when the last commit fails (everything is
   * closed all the same). A runtime still waiting to own its checkpoint's id as a standby stops
   * waiting: its `start()` rejects; one that lost the ownership of its id commits nothing.
   */
  shutdown(): Promise<void> {
    if (this.state === RuntimeState.Starting) this.#wiring.abandonStart();
    return this.#lifecycle.shutdown(() => this.#wiring.stop());
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
      (message) => this.#options.log(message),
      options,
    );
  }
}
