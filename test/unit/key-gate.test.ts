/**
 * The turns of a keyed reactor's keys (src/reactor/key-gate.ts): at most `limit` at once, a key
 * that fired gives its turn up while others wait, waiting keys served first come first served.
 */
import { describe, expect, it } from 'vitest';
import { KeyGate, KeyTurn, type GatedKey } from '../../src/reactor/key-gate.js';

/** A key that records its kicks. */
function key(kicks: string[], name: string): GatedKey {
  return { kick: () => kicks.push(name), gateTurn: KeyTurn.None, gateWaiting: false };
}

const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyGate', () => {
  it('admits up to its limit, then queues', () => {
    const kicks: string[] = [];
    const gate = new KeyGate(2);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => key(kicks, n)) as [GatedKey, GatedKey, GatedKey];
    expect(gate.enter(a)).toBe(true);
    expect(gate.enter(b)).toBe(true);
    expect(gate.enter(c)).toBe(false);
    expect([gate.running, gate.contended]).toStrictEqual([2, true]);
    expect(gate.enter(a)).toBe(true); // a has not fired in its turn yet
  });

  it('a key that fired gives its turn to the waiting key, and queues behind it', async () => {
    const kicks: string[] = [];
    const gate = new KeyGate(1);
    const [a, b] = ['a', 'b'].map((n) => key(kicks, n)) as [GatedKey, GatedKey];
    gate.enter(a);
    gate.fired(a);
    expect(gate.enter(a)).toBe(true); // nobody waits: a goes on
    expect(gate.enter(b)).toBe(false);
    expect(gate.enter(a)).toBe(false); // b waits: a yields
    await microtasks();
    expect(kicks).toStrictEqual(['b']);
    expect(gate.enter(b)).toBe(true);
    gate.fired(b);
    gate.leave(b);
    await microtasks();
    expect(kicks).toStrictEqual(['b', 'a']);
    expect(gate.enter(a)).toBe(true);
  });

  it('a forgotten key loses its place', async () => {
    const kicks: string[] = [];
    const gate = new KeyGate(1);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => key(kicks, n)) as [GatedKey, GatedKey, GatedKey];
    gate.enter(a);
    gate.enter(b);
    gate.enter(c);
    gate.forget(b);
    gate.leave(a);
    await microtasks();
    expect(kicks).toStrictEqual(['c']);
    expect(gate.running).toBe(1);
  });
});
