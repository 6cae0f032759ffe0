/**
 * A small state machine: named states, an explicit table of the moves allowed from each, and a
 * listener told of every move. The runtime's lifecycle and a reactor's firing loop are both one.
 * A move the table does not allow is a bug in the caller, reported as a StateError naming the
 * component and both states, never a silent change.
 */
import { StateError } from './errors.js';

/** A component that names itself on demand. */
export interface Labelled {
  /** How errors name it (`reactor 'quotes' key 'AAPL'`). */
  readonly label: string;
}

/** Each state to the states it may move to. */
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

/**
 * A state and its allowed moves.
 *
 * @example
 * const door = new StateMachine('door', 'closed', { closed: ['open'], open: ['closed'] });
 * door.to('open'); // door.state === 'open'
 * door.to('open'); // throws StateError: door: no transition open -> open
 */
export class StateMachine<S extends string> {
  #state: S;
  /**
   * Named only when a move is refused: a component made by the thousand (a reactor per key)
   * passes itself and builds its `label` then, not one string (or closure) per machine.
   */
  readonly #component: string | Labelled;
  /** The table as sets, checked on every move (a reactor moves twice per firing); one per table. */
  readonly #allowed: ReadonlyMap<S, ReadonlySet<S>>;
  readonly #onChange: ((state: S, previous: S) => void) | null;

  constructor(
    component: string | Labelled,
    initial: S,
    transitions: Transitions<S>,
    onChange: ((state: S, previous: S) => void) | null = null,
  ) {
    this.#component = component;
    this.#state = initial;
    this.#allowed = allowedMoves(transitions);
    this.#onChange = onChange;
  }

  /** The current state. */
  get state(): S {
    return this.#state;
  }

  /** Moves to `next`, then tells the listener. Throws StateError when the table does not allow it. */
  to(next: S): void {
    const previous = this.#state;
    if (!this.#allowed.get(previous)!.has(next)) {
      const component = typeof this.#component === 'string' ? this.#component : this.#component.label;
      throw new StateError(component, previous, `${component}: no transition ${previous} -> ${next}`);
    }
    this.#state = next;
    this.#onChange?.(next, previous);
  }
}

/** Tables already turned into sets: every machine of one table shares them. */
const kCompiled = new WeakMap<object, ReadonlyMap<string, ReadonlySet<string>>>();

function allowedMoves<S extends string>(transitions: Transitions<S>): ReadonlyMap<S, ReadonlySet<S>> {
  let allowed = kCompiled.get(transitions);
  if (allowed === undefined) {
    allowed = new Map(Object.entries<readonly S[]>(transitions).map(([from, to]) => [from, new Set(to)]));
    kCompiled.set(transitions, allowed);
  }
  return allowed as ReadonlyMap<S, ReadonlySet<S>>;
}
