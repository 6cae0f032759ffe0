/**
 * The fast paths of the value rules (src/model/value-fast.ts) against the general walk: what they
 * accept, they copy and check exactly as the walker does (same observable copy, same notes in a
 * sink); everything else they leave to the walker, touching nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/exec/platform.js';
import { fastCheck, fastCopy, fastCopyAll, kSlow } from '../../src/model/value-fast.js';
import { ValueSink } from '../../src/model/value-sink.js';
import { walk } from '../../src/model/value-walker.js';
import { observe } from './support/observe.js';

function plainSamples(): Array<[string, object]> {
  const shared = { x: 1 };
  const slab = Buffer.from('hello');
  return [
    ['a flat object', { value: 1, name: 'q', ok: true, none: null, gone: undefined, big: 3n }],
    ['integer-like keys first, then insertion order', { b: 1, 2: 'two', a: 3, 1: 'one' }],
    ['nested objects and arrays', { a: { b: { c: [1, 2, { d: 'e' }] } }, list: [[1], [2, [3]]] }],
    ['an array of primitives', [1, 'x', null, undefined, 2n, false]],
    ['an empty object and an empty array', { o: {}, a: [] }],
    ['one object held twice', { a: shared, b: shared, c: [shared] }],
    ['a Date', { at: new Date(1234) }],
    ['a Buffer of a pool slab', { payload: slab }],
    ['two Buffers of one slab, and a slice', { a: slab, b: Buffer.from('world'), c: slab.subarray(1, 3) }],
    ['a Buffer as the whole value', Buffer.alloc(4, 1)],
    [
      'a getter, read as a value',
      {
        get g() {
          return 5;
        },
      },
    ],
  ];
}

class Quote {
  value = 1;
}

function slowSamples(): Array<[string, () => object]> {
  return [
    ['a Proxy', () => new Proxy({ a: 1 }, {})],
    ['a Proxy inside', () => ({ a: new Proxy({}, {}) })],
    ['a frozen object', () => Object.freeze({ a: 1 })],
    ['a frozen array inside', () => ({ a: Object.freeze([1]) })],
    ['a class instance', () => new Quote()],
    ['a null-prototype object', () => Object.assign(Object.create(null) as object, { a: 1 })],
    ['an own __proto__ key', () => JSON.parse('{"__proto__": {"x": 1}}') as object],
    ['a Map', () => ({ m: new Map() })],
    ['an Error', () => ({ e: new Error('x') })],
    ['a function', () => ({ f: () => 1 })],
    ['a symbol', () => ({ s: Symbol('s') })],
    ['a hole', () => [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['an array with an extra property', () => Object.assign([1, 2], { extra: true })],
    [
      'a getter that throws',
      () => ({
        get g(): never {
          throw new Error('no');
        },
      }),
    ],
    ['nested deeper than the fast path follows', () => JSON.parse(`${'{"a":'.repeat(20)}1${'}'.repeat(20)}`) as object],
    ['more objects than the fast path tracks', () => ({ list: Array.from({ length: 100 }, (_, i) => ({ i })) })],
    ['a Uint8Array', () => ({ bytes: new Uint8Array(2) })],
    ['a Buffer on a SharedArrayBuffer', () => ({ b: Buffer.from(new SharedArrayBuffer(4)) })],
  ];
}

describe('fastCopy', () => {
  for (const [name, value] of plainSamples()) {
    it(`copies ${name} as the walker does`, () => {
      const fast = fastCopy(value);
      expect(fast).not.toBe(kSlow);
      expect(fast).not.toBe(value);
      expect(observe(fast)).toStrictEqual(observe(walk(value, 'value', true, null, null)));
    });
  }

  it('keeps the views of one buffer on one copy of it, as the walker does', () => {
    const slab = Buffer.from('shared slab');
    const copy = fastCopy({ a: slab.subarray(0, 6), b: slab.subarray(7) }) as { a: Buffer; b: Buffer };
    expect(copy.a.buffer).toBe(copy.b.buffer);
    expect(copy.a.buffer).not.toBe(slab.buffer);
  });

  it('copies a cycle as the walker does: the copy refers to itself', () => {
    const cycle: Record<string, unknown> = { n: 1 };
    cycle.self = cycle;
    const copy = fastCopy(cycle) as Record<string, unknown>;
    expect(copy).not.toBe(cycle);
    expect(copy.self).toBe(copy);
  });

  for (const [name, make] of slowSamples()) {
    it(`leaves ${name} to the walker`, () => {
      expect(fastCopy(make())).toBe(kSlow);
    });
  }

  describe('with an enumerable property added to Object.prototype', () => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).polluted;
    });
    it('leaves every value to the walker (for-in would see the inherited key)', () => {
      (Object.prototype as Record<string, unknown>).polluted = 1;
      expect(fastCopy({ a: 1 })).toBe(kSlow);
      expect(fastCheck({ a: 1 }, null)).toBe(false);
    });
  });
});

describe('fastCheck', () => {
  for (const [name, value] of plainSamples()) {
    it(`passes ${name}, noting what the walker notes`, () => {
      const fast = new ValueSink();
      const walked = new ValueSink();
      expect(fastCheck(value, fast)).toBe(true);
      walk(value, 'value', false, walked, null);
      expect(fast.extras()).toStrictEqual(walked.extras());
    });
  }

  for (const [name, make] of slowSamples()) {
    it(`leaves ${name} to the walker, and the sink as it was`, () => {
      const sink = new ValueSink();
      sink.buffers = [Buffer.alloc(1)];
      expect(fastCheck({ first: Buffer.alloc(2), value: make() }, sink)).toBe(false);
      expect(sink.buffers).toHaveLength(1);
    });
  }

  it('leaves a cycle to the walker (the check follows it to its depth bound)', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(fastCheck(cycle, null)).toBe(false);
  });

  it('passes frozen plain data when nothing notes what clone loses', () => {
    expect(fastCheck(Object.freeze({ a: 1 }), null)).toBe(true);
  });

  it('leaves a check that notes objects across a batch to the walker', () => {
    const sink = new ValueSink();
    sink.across = new Set();
    expect(fastCheck({ a: 1 }, sink)).toBe(false);
  });
});

describe('fastCopyAll', () => {
  it('copies several values as one: an object two of them hold stays one object', () => {
    const shared = { x: 1 };
    const values: unknown[] = [{ a: shared }, shared, 3];
    expect(fastCopyAll(values, 3)).toBe(true);
    const [first, second, third] = values as [{ a: object }, object, number];
    expect(second).not.toBe(shared);
    expect(first.a).toBe(second);
    expect(third).toBe(3);
  });

  it('leaves every value as it was when one needs the walker', () => {
    const plain = { a: 1 };
    const proxy = new Proxy({}, {});
    const values: unknown[] = [plain, proxy];
    expect(fastCopyAll(values, 2)).toBe(false);
    expect(values[0]).toBe(plain);
    expect(values[1]).toBe(proxy);
  });
});
