/** A reactor's input cache (src/reactor/input-cache.ts): latest values, dirty flags, the criterion and the when_all gate. */
import { describe, expect, it } from 'vitest';
import { InputCache } from '../../src/reactor/input-cache.js';

describe('InputCache', () => {
  it('when_any holds once any source delivered since the last clear', () => {
    const cache = new InputCache(['a', 'b'], 'when_any');
    expect(cache.criterionHolds()).toBe(false);
    cache.update('a', 1);
    expect(cache.criterionHolds()).toBe(true);
    expect(cache.dirtyFlags()).toEqual({ a: true, b: false });
    cache.clearDirty();
    expect(cache.criterionHolds()).toBe(false);
    expect(cache.dirtyFlags()).toEqual({ a: false, b: false });
  });

  it('when_all holds only when every source delivered since the last clear', () => {
    const cache = new InputCache(['a', 'b'], 'when_all');
    cache.update('a', 1);
    cache.update('a', 2);
    expect(cache.criterionHolds()).toBe(false);
    cache.update('b', 3);
    expect(cache.criterionHolds()).toBe(true);
    cache.clearDirty();
    cache.update('b', 4);
    expect(cache.criterionHolds()).toBe(false);
  });

  it('keeps the latest value per source, and a snapshot is a copy the cache no longer touches', () => {
    const cache = new InputCache(['a'], 'when_any');
    cache.update('a', 1);
    const snapshot = cache.snapshot();
    cache.update('a', 2);
    expect(snapshot).toEqual({ a: 1 });
    expect(cache.values).toEqual({ a: 2 });
  });

  it('under when_all, gates sequential boundaries until every source has delivered once', () => {
    const cache = new InputCache(['a', 'b'], 'when_all');
    expect(cache.gated).toBe(true);
    expect(cache.apply('a', 1)).toBe(true); // held back, its flag set
    expect(cache.dirtyFlags()).toEqual({ a: true, b: false });
    expect(cache.apply('b', 2)).toBe(false); // every source has delivered: it fires
    expect(cache.gated).toBe(false);
    expect(cache.apply('a', 3)).toBe(false);
    expect(cache.values).toEqual({ a: 3, b: 2 });
  });

  it('under when_any, never gates', () => {
    const cache = new InputCache(['a', 'b'], 'when_any');
    expect(cache.gated).toBe(false);
    expect(cache.apply('a', 1)).toBe(false);
  });

  it('writes __proto__ as an own value, not as the prototype', () => {
    const cache = new InputCache(['__proto__'], 'when_any');
    cache.update('__proto__', { polluted: true });
    expect(Object.getPrototypeOf(cache.values)).toBe(Object.prototype);
    expect(Object.keys(cache.snapshot())).toEqual(['__proto__']);
  });

  it('replace() swaps the whole cache and counts each given source as delivered; restore() brings values and flags back', () => {
    const cache = new InputCache(['a', 'b'], 'when_all');
    cache.replace({ a: 1, b: 2 });
    expect(cache.values).toEqual({ a: 1, b: 2 });
    expect(cache.gated).toBe(false);
    const restored = new InputCache(['a', 'b'], 'when_all');
    restored.restore({ cache: { a: 5 }, dirty: { a: true, b: false }, paused: false });
    expect(restored.values).toEqual({ a: 5 });
    expect(restored.dirtyFlags()).toEqual({ a: true, b: false });
    expect(restored.gated).toBe(true);
  });

  it('a burst of latest values is read back as its newest value per source, in every way the cache is read', () => {
    const cache = new InputCache(['a', 'b'], 'when_any');
    for (let i = 0; i < 1000; i++) cache.update(i % 2 === 0 ? 'a' : 'b', i);
    expect(cache.snapshot()).toEqual({ a: 998, b: 999 });
    cache.update('a', 'newer');
    expect(cache.values).toEqual({ a: 'newer', b: 999 });
    expect(cache.dirtyFlags()).toEqual({ a: true, b: true });
  });

  it('a write after a pending latest value wins, and a replaced cache drops what was pending', () => {
    const written = new InputCache(['a', 'b'], 'when_any');
    written.update('a', 1);
    written.set('a', 2); // a broadcast or batch write, after the boundary
    expect(written.snapshot()).toEqual({ a: 2 });
    const replaced = new InputCache(['a', 'b'], 'when_any');
    replaced.update('a', 1);
    replaced.replace({ b: 2 });
    expect(replaced.snapshot()).toEqual({ b: 2 });
    replaced.update('b', 3);
    expect(replaced.snapshot()).toEqual({ b: 3 });
    const rolledBack = new InputCache(['a'], 'when_any');
    rolledBack.update('a', 1);
    rolledBack.values = { a: 0 };
    expect(rolledBack.snapshot()).toEqual({ a: 0 });
  });

  it('keeps a value for a source it does not declare', () => {
    const cache = new InputCache(['a'], 'when_any');
    cache.update('other', 1);
    expect(cache.values).toEqual({ other: 1 });
    expect(cache.criterionHolds()).toBe(false);
  });
});
