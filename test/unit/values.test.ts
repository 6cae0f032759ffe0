/**
 * The value rules (src/model/values.ts) against themselves: for every kind of value, the copy
 * made in-thread (`copyValue`, what the inline executor and a fused chain give a node) is
 * indistinguishable from what crosses a thread (`inspectValue`, then structured clone, then
 * `restoreValue`, what the pool gives a node): same prototypes, own properties and their
 * attributes, frozenness, bytes, and the same shape of shared references and cycles. Values the
 * rules refuse are refused by both with the same path and type.
 */
import { describe, expect, it } from 'vitest';
import '../../src/exec/platform.js';
import { ValueFault } from '../../src/model/value-fault.js';
import { ValueSink } from '../../src/model/value-sink.js';
import { kMaxDepth } from '../../src/model/value-walker.js';
import { copyValue, inspectParts, inspectValue, restoreValue } from '../../src/model/values.js';
import { observe } from './support/observe.js';

/** What a reader on another thread gets. */
function acrossThreads(value: unknown): unknown {
  const sink = new ValueSink();
  const fault = inspectValue(value, 'value', sink);
  if (fault !== null) return fault;
  const message = structuredClone({ value, extras: sink.extras() });
  if (message.extras !== undefined) restoreValue(message.extras);
  return message.value;
}

class QuoteError extends Error {
  code = 'E_QUOTE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QuoteError';
  }
}
class NamedOnPrototype extends TypeError {}
NamedOnPrototype.prototype.name = 'NamedOnPrototype';

function samples(): Array<[string, unknown]> {
  const shared = { x: 1 };
  const cycle: Record<string, unknown> = { n: 1 };
  cycle.self = cycle;
  const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
  (sparse as unknown as Record<string, unknown>).extra = 'e';
  const u8 = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const sab = new SharedArrayBuffer(8);
  const regexp = /a(b)c/gi;
  regexp.lastIndex = 2;
  const slab = Buffer.from('hello');
  const inner = new RangeError('inner');
  const withProps = Object.assign(new Error('outer'), { inner, payload: Buffer.from([9]) });
  const aggregate = new AggregateError([new Error('one'), new TypeError('two')], 'many');
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
  return [
    ['primitives', [1, 'x', undefined, null, 10n, true, -0, NaN]],
    ['plain data', { a: 1, b: [1, 2, { c: 'd' }], e: { f: null } }],
    ['a sparse array with an extra property', sparse],
    ['a regexp match (index, input, groups)', /b(c)/.exec('abc')],
    ['a null-prototype object', nullProto],
    ['an own __proto__ key', JSON.parse('{"__proto__": {"x": 1}, "y": 2}')],
    [
      'getters, read as values',
      {
        get g() {
          return 5;
        },
      },
    ],
    ['shared references', { a: shared, b: shared, c: [shared] }],
    ['a cycle', cycle],
    [
      'Map and Set',
      {
        m: new Map<unknown, unknown>([
          [{ k: 1 }, new Set([shared, 2])],
          [slab, 'buffer key'],
        ]),
      },
    ],
    ['Date, RegExp, boxed primitives', [new Date(5), regexp, Object(1), Object('s'), Object(false), Object(3n)]],
    [
      'views sharing a buffer',
      { a: u8, b: new Uint16Array(u8.buffer, 2, 2), d: new DataView(u8.buffer, 4, 4), f: new Float64Array(2) },
    ],
    ['BigInt64Array', new BigInt64Array([1n, -2n])],
    ['Buffers (a pool slab, an allocation, a slice)', [slab, Buffer.alloc(3, 7), slab.subarray(1, 3)]],
    ['ArrayBuffers', [new ArrayBuffer(3), new Resizable(2, { maxByteLength: 8 })]],
    ['a SharedArrayBuffer and a view on it', { sab, view: new Int32Array(sab) }],
    ['an Error subclass with a code and a cause', new QuoteError('bad', { cause: new TypeError('why') })],
    ['an Error named on its prototype', new NamedOnPrototype('proto name')],
    ['an Error holding an Error and a Buffer', withProps],
    ['an AggregateError', aggregate],
    ['deeply frozen data', Object.freeze({ a: Object.freeze([1, 2]), b: 'x' })],
    ['frozen above, mutable below', Object.freeze({ a: [1], d: Object.freeze(new Date(1)) })],
    ['a frozen Map', Object.freeze(new Map([[1, 2]]))],
    ['a Blob', new Blob(['abc'])],
  ];
}

describe('in-thread copies and cross-thread clones are indistinguishable', () => {
  it.each(samples())('%s', (_name, value) => {
    const copied = copyValue(value);
    expect(copied).not.toBeInstanceOf(ValueFault);
    expect(observe(copied)).toStrictEqual(observe(acrossThreads(value)));
  });

  it('a copy shares nothing mutable with the original', () => {
    const original = { list: [1], map: new Map([[1, { deep: true }]]), date: new Date(1) };
    const copy = copyValue(original) as typeof original;
    copy.list.push(2);
    copy.map.get(1)!.deep = false;
    copy.date.setTime(9);
    expect(original).toStrictEqual({ list: [1], map: new Map([[1, { deep: true }]]), date: new Date(1) });
  });

  it('deeply frozen plain data is handed over as it is; anything else is copied', () => {
    const frozen = Object.freeze({ a: Object.freeze([1, 2]), b: Object.freeze({ c: 'x' }) });
    expect(copyValue(frozen)).toBe(frozen);
    const halfFrozen = Object.freeze({ a: [1] });
    expect(copyValue(halfFrozen)).not.toBe(halfFrozen);
    const withSymbol = Object.freeze({ a: 1, [Symbol('s')]: 2 });
    expect(copyValue(withSymbol)).not.toBe(withSymbol);
  });
});

describe('refusals are the same on both sides, with the path and the type', () => {
  class Matrix {
    n = 1;
  }
  const causeCycle = new Error('loop');
  causeCycle.cause = { back: causeCycle };
  const deep: Record<string, unknown> = {};
  let at = deep;
  for (let i = 0; i < kMaxDepth + 500; i++) at = at.c = {};
  const detached = new ArrayBuffer(4);
  structuredClone(detached, { transfer: [detached] });

  it.each([
    ['a function', { a: [1, { f() {} }] }, 'value.a[1].f', 'function'],
    ['a symbol', new Map([[1, Symbol('s')]]), 'value<map value #0>', 'symbol'],
    ['a Promise', { p: Promise.resolve() }, 'value.p', 'Promise'],
    ['a WeakMap', new Set([new WeakMap()]), 'value<set item #0>', 'WeakMap'],
    ['a Proxy', { p: new Proxy({}, {}) }, 'value.p', 'Proxy'],
    ['a class instance', { m: new Matrix() }, 'value.m', 'Matrix'],
    ['a Symbol object', [Object(Symbol('s'))], 'value[0]', 'Symbol'],
    ['an Error whose cause leads back to it', causeCycle, 'value.cause.back', 'Error cause cycle'],
    ['a detached ArrayBuffer', { b: detached }, 'value.b', 'detached ArrayBuffer'],
    ['an odd key', { 'odd key': () => 1 }, 'value["odd key"]', 'function'],
  ] as const)('%s', (_name, value, path, valueType) => {
    for (const fault of [copyValue(value), acrossThreads(value)]) {
      expect(fault).toBeInstanceOf(ValueFault);
      expect({ path: (fault as ValueFault).path, valueType: (fault as ValueFault).valueType }).toStrictEqual({
        path,
        valueType,
      });
    }
  });

  it(`values nested deeper than ${kMaxDepth} levels, without overflowing the stack`, () => {
    for (const fault of [copyValue(deep), acrossThreads(deep)]) {
      expect(fault).toBeInstanceOf(ValueFault);
      expect((fault as ValueFault).valueType).toBe('too deep');
      expect((fault as ValueFault).path).toMatch(/^value(\.c){20}…\(\d+ more\)…(\.c){20}$/);
    }
  });

  it('a getter that throws, with its error as the cause', () => {
    const boom = new Error('boom');
    const value = {
      ok: 1,
      nested: {
        get bad() {
          throw boom;
        },
      },
    };
    for (const fault of [copyValue(value), acrossThreads(value)]) {
      expect(fault).toBeInstanceOf(ValueFault);
      expect(fault).toMatchObject({ path: 'value.nested.bad', valueType: 'throwing getter', cause: boom });
    }
  });
});

describe('the parts of one message (a batch)', () => {
  /** Many parts, more objects than one fast check takes: a Buffer, a frozen object and an error in each. */
  const parts = (): unknown[] =>
    Array.from({ length: 80 }, (_, n) => ({
      bytes: Buffer.from(`p${n}`),
      frozen: Object.freeze({ n }),
      error: Object.assign(new RangeError(`r${n}`), { code: `R${n}` }),
    }));

  it('notes what clone loses of every part in one sink, as one walk of them all would', () => {
    const value = parts();
    const each = new ValueSink();
    const together = new ValueSink();
    expect(inspectParts(value, 'value', each)).toBeNull();
    expect(inspectValue(value, 'value', together)).toBeNull();
    const received = structuredClone({ value, extras: each.extras() });
    restoreValue(received.extras!);
    expect(received.value).toHaveLength(80);
    for (const [n, part] of (received.value as Array<{ bytes: Buffer; frozen: object; error: Error }>).entries()) {
      expect(Buffer.isBuffer(part.bytes) && part.bytes.toString()).toBe(`p${n}`);
      expect(Object.isFrozen(part.frozen)).toBe(true);
      expect(part.error).toBeInstanceOf(RangeError);
      expect((part.error as Error & { code?: string }).code).toBe(`R${n}`);
    }
    expect(new Set(each.extras()!.buffers)).toStrictEqual(new Set(together.extras()!.buffers));
  });

  it('answers the first part it refuses, and skips holes', () => {
    const value: unknown[] = [{ ok: 1 }];
    value[2] = { cb: () => 1 }; // value[1] is a hole
    value[3] = { fine: true };
    const fault = inspectParts(value, 'inputs', new ValueSink());
    expect(fault).toBeInstanceOf(ValueFault);
    expect(fault).toMatchObject({ path: 'inputs.cb', valueType: 'function' });
  });
});
