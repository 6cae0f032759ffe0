/** The state-machine helper (src/model/state-machine.ts) and the tables that use it: the reactor loop and the runtime lifecycle. */
import { describe, expect, it } from 'vitest';
import { StateError } from '../../src/model/errors.js';
import { StateMachine } from '../../src/model/state-machine.js';
import { kLoopTransitions, ReactorLoop } from '../../src/reactor/reactor-loop.js';

describe('StateMachine', () => {
  it('moves along the table and tells the listener each move', () => {
    const moves: string[] = [];
    const door = new StateMachine('door', 'closed', { closed: ['open'], open: ['closed'] }, (s, p) =>
      moves.push(`${p}->${s}`),
    );
    door.to('open');
    door.to('closed');
    expect(door.state).toBe('closed');
    expect(moves).toEqual(['closed->open', 'open->closed']);
  });

  it('refuses a move the table does not allow with a StateError naming the component and both states', () => {
    const door = new StateMachine('door', 'closed', { closed: ['open'], open: ['closed'] });
    let error: unknown;
    try {
      door.to('closed');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateError);
    expect((error as StateError).component).toBe('door');
    expect((error as StateError).state).toBe('closed');
    expect((error as StateError).message).toBe('door: no transition closed -> closed');
    expect(door.state).toBe('closed');
  });

  it('asks a labelled component for its name only when it refuses a move', () => {
    let asked = 0;
    const owner = {
      get label() {
        asked++;
        return "reactor 'q' key 'AAPL'";
      },
    };
    const door = new StateMachine(owner, 'closed', { closed: ['open'], open: ['closed'] });
    door.to('open');
    expect(asked).toBe(0);
    expect(() => door.to('open')).toThrow("reactor 'q' key 'AAPL': no transition open -> open");
    expect(asked).toBe(1);
  });
});

describe('the reactor loop table', () => {
  const loop = () => new StateMachine<ReactorLoop>("reactor 'r'", ReactorLoop.Idle, kLoopTransitions);

  it('allows each move of the loop: a latest burst collapses, a firing waits, a long drain yields', () => {
    const m = loop();
    for (const next of [
      'collapsing',
      'pumping',
      'firing',
      'pumping',
      'yielding',
      'pumping',
      'idle',
      'pumping',
    ] as const) {
      m.to(next);
    }
    expect(m.state).toBe('pumping');
  });

  it('never fires or yields straight from idle, and never idles while a firing is in flight', () => {
    expect(() => loop().to(ReactorLoop.Firing)).toThrow("reactor 'r': no transition idle -> firing");
    expect(() => loop().to(ReactorLoop.Yielding)).toThrow(StateError);
    const m = loop();
    m.to(ReactorLoop.Pumping);
    m.to(ReactorLoop.Firing);
    expect(() => m.to(ReactorLoop.Idle)).toThrow('no transition firing -> idle');
  });
});
