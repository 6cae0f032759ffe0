/**
 * The runtime's lifecycle, as a state machine with explicit transitions:
 *
 *     created ──start()──► starting ──► started ──shutdown()──► stopping ──► stopped
 *       ▲  │                  │                                               ▲
 *       │  │                  │ the start failed: nothing is left running,    │
 *       └──┼──────────────────┘ and start() may be called again               │
 *          └── shutdown() before start() ─────────────────────────────────────┘
 *
 * `start()` and `shutdown()` are idempotent under concurrency: a call while one is in progress
 * (or done) returns the same promise. A shutdown during a start waits for the start to settle.
 * A stopped runtime cannot start again.
 */
import { StateError } from '../model/errors.js';
import { StateMachine, type Transitions } from '../model/state-machine.js';

/** Lifecycle states of a Runtime. */
export const RuntimeState = {
  Created: 'created',
  Starting: 'starting',
  Started: 'started',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type RuntimeState = (typeof RuntimeState)[keyof typeof RuntimeState];

const kTransitions: Transitions<RuntimeState> = {
  created: ['starting', 'stopped'],
  starting: ['started', 'created'],
  started: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** Where a runtime is between `new Runtime()` and the end of `shutdown()`, and the calls that move it. */
export class Lifecycle {
  readonly #machine: StateMachine<RuntimeState>;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;

  constructor(onChange: (state: RuntimeState, previous: RuntimeState) => void) {
    this.#machine = new StateMachine<RuntimeState>('runtime', RuntimeState.Created, kTransitions, onChange);
  }

  get state(): RuntimeState {
    return this.#machine.state;
  }

  /** Runs `run` once, from `created`; later calls get the same promise. `run` cleans up after itself on failure. */
  start(run: () => Promise<void>): Promise<void> {
    if (this.state === RuntimeState.Starting || this.state === RuntimeState.Started) return this.#starting!;
    if (this.state !== RuntimeState.Created) {
      return Promise.reject(
        new StateError('runtime', this.state, `runtime.start: the runtime is ${this.state}; create a new Runtime`),
      );
    }
    this.#machine.to(RuntimeState.Starting);
    this.#starting = run().then(
      () => this.#machine.to(RuntimeState.Started),
      (error: unknown) => {
        this.#machine.to(RuntimeState.Created);
        throw error;
      },
    );
    return this.#starting;
  }

  /** Runs `run` once, from `started`; later calls get the same promise. */
  shutdown(run: () => Promise<void>): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    switch (this.state) {
      case RuntimeState.Created:
        this.#machine.to(RuntimeState.Stopped);
        this.#stopping = Promise.resolve();
        break;
      case RuntimeState.Starting:
        this.#stopping = this.#starting!.then(
          () => this.#stop(run),
          () => this.#machine.to(RuntimeState.Stopped), // a failed start left nothing running
        );
        break;
      default:
        this.#stopping = this.#stop(run);
    }
    return this.#stopping;
  }

  /** Throws StateError unless started; `what` names the call. */
  requireStarted(what: string): void {
    if (this.state !== RuntimeState.Started) {
      throw new StateError('runtime', this.state, `${what}: the runtime is ${this.state}, not started`);
    }
  }

  async #stop(run: () => Promise<void>): Promise<void> {
    this.#machine.to(RuntimeState.Stopping);
    try {
      await run();
    } finally {
      this.#machine.to(RuntimeState.Stopped);
    }
  }
}
