/**
 * A reactor's firing loop, as a state machine:
 *
 *     idle ──(latest boundary, a key's sequential boundary)──► collapsing ──(microtask)──► pumping
 *     idle ──(unkeyed sequential boundary, command, resume, health)──► pumping
 *     pumping ──(a firing completed synchronously)──► pumping
 *     pumping ──(a firing waits on a node)──► firing ──(it completes)──► pumping
 *     pumping ──(a batch of boundaries goes to a worker)──► firing ──(it is answered)──► pumping
 *     pumping ──(256 firings in a row)──► yielding ──(setImmediate)──► pumping
 *     pumping ──(nothing to fire)──► idle
 *
 * `collapsing` lets a synchronous burst of pushes under `latest` fire once instead of once per
 * push, and a key of a keyed reactor fire its share of a burst in one go; `yielding` keeps a
 * long synchronous drain (inline graphs of synchronous nodes) from starving I/O and timers. In
 * every state but `idle` a new boundary or command is only recorded: the loop picks it up.
 */
import type { Transitions } from '../model/state-machine.js';

/** The states of a reactor's firing loop. */
export const ReactorLoop = {
  Idle: 'idle',
  Collapsing: 'collapsing',
  Pumping: 'pumping',
  Firing: 'firing',
  Yielding: 'yielding',
} as const;
export type ReactorLoop = (typeof ReactorLoop)[keyof typeof ReactorLoop];

/** The moves the loop may make (the diagram above). */
export const kLoopTransitions: Transitions<ReactorLoop> = {
  idle: ['collapsing', 'pumping'],
  collapsing: ['pumping'],
  pumping: ['firing', 'yielding', 'idle'],
  firing: ['pumping'],
  yielding: ['pumping'],
};

/** Firings run back to back before the loop yields to the event loop. */
export const kFiringsPerTurn = 256;
