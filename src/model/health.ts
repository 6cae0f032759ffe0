/**
 * Health of runtime components, as two small state machines.
 *
 * Accumulators (`AccumulatorHealth`):
 *
 *     starting ──► socket_only                          passthrough, state: fed by push only
 *     starting ──► live                                 polling, batch: their timers run
 *     starting ──► connecting ──► live                  stream: the backend connected
 *                      ▲  │  │
 *                      └──┘  └──► disconnected          the 5th retry failed too (backoffs 1, 2,
 *                   (failure, retry after backoff)       4, 8, 16 s): given up for good
 *
 * Reactors (`ReactorHealth`):
 *
 *     starting ──► warming ──► live ◄──► degraded
 *                     │                     ▲
 *                     └─────────────────────┘
 *
 * - `starting`: registered, `start()` not done yet.
 * - `warming`: started; some accumulator is not yet healthy (`live` or `socket_only`). Nothing
 *   fires; boundaries that arrive are kept (cache and dirty flags, or the sequential queue).
 * - `live`: every accumulator healthy; the reactor fires by its criteria.
 * - `degraded`: some accumulator is `disconnected`. The reactor keeps firing on what the others
 *   deliver (a `when_all` reactor waits for a source that may never come back).
 */

/** Accumulator health states. */
export const AccumulatorHealth = {
  Starting: 'starting',
  Connecting: 'connecting',
  Live: 'live',
  Disconnected: 'disconnected',
  SocketOnly: 'socket_only',
} as const;
export type AccumulatorHealth = (typeof AccumulatorHealth)[keyof typeof AccumulatorHealth];

/** Reactor health states. */
export const ReactorHealth = {
  Starting: 'starting',
  Warming: 'warming',
  Live: 'live',
  Degraded: 'degraded',
} as const;
export type ReactorHealth = (typeof ReactorHealth)[keyof typeof ReactorHealth];

/** True for the states in which an accumulator lets its reactor go live. */
export function isHealthy(health: AccumulatorHealth): boolean {
  return health === AccumulatorHealth.Live || health === AccumulatorHealth.SocketOnly;
}

/** The reactor state that follows from its accumulators' states. */
export function reactorHealthOf(accumulators: readonly AccumulatorHealth[]): ReactorHealth {
  if (accumulators.some((h) => h === AccumulatorHealth.Disconnected)) return ReactorHealth.Degraded;
  return accumulators.every(isHealthy) ? ReactorHealth.Live : ReactorHealth.Warming;
}

/** What a `health` event carries. */
export interface HealthEvent {
  readonly kind: 'accumulator' | 'reactor';
  readonly name: string;
  readonly health: AccumulatorHealth | ReactorHealth;
  readonly previous: AccumulatorHealth | ReactorHealth;
}
