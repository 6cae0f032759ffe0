/**
 * What kind of value an object is, by its prototype: the kinds the value rules copy (containers
 * up to ERROR, leaves after it), the built-ins they refuse by name, and the low-level copies of
 * buffers. Numbers rather than strings, so the walk compares kinds cheaply.
 */
import { kErrorTypeOf } from './error-shape.js';
import { ValueFault } from './value-fault.js';

/** The kinds of value; kinds up to ERROR are containers the walk descends into. */
export const PLAIN = 1;
export const ARRAY = 2;
export const MAP = 3;
export const SET = 4;
export const ERROR = 5; // kinds up to here are containers
export const DATE = 6;
export const REGEXP = 7;
export const BOXED = 8;
export const ARRAY_BUFFER = 9;
export const SHARED_BUFFER = 10;
export const VIEW = 11;
export const BUFFER = 12;
export const BLOB = 13;

/** Node's Buffer, when the platform has one (the model must not import it). */
export const kBufferCtor = (globalThis as { Buffer?: typeof Buffer }).Buffer;
export const kBufferProto: object | null = kBufferCtor === undefined ? null : kBufferCtor.prototype;

type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;
const kViewCtors: ViewCtor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView as unknown as ViewCtor,
];
/** Each typed array's (and DataView's) prototype to its constructor. */
export const kViewCtorOf = new Map<object, ViewCtor>(kViewCtors.map((C) => [C.prototype, C]));

/** The boxed primitives' prototypes to their `valueOf`. */
export const kValueOf = new Map<object, (this: unknown) => unknown>([
  [Number.prototype, Number.prototype.valueOf],
  [String.prototype, String.prototype.valueOf],
  [Boolean.prototype, Boolean.prototype.valueOf],
  [BigInt.prototype, BigInt.prototype.valueOf],
]);

/** Each known prototype to its kind. */
export const kKindOf = new Map<object | null, number>([
  [null, PLAIN],
  [Object.prototype, PLAIN],
  [Array.prototype, ARRAY],
  [Map.prototype, MAP],
  [Set.prototype, SET],
  [Date.prototype, DATE],
  [RegExp.prototype, REGEXP],
  [ArrayBuffer.prototype, ARRAY_BUFFER],
  [SharedArrayBuffer.prototype, SHARED_BUFFER],
  ...[...kValueOf.keys()].map((proto) => [proto, BOXED] as const),
  ...[...kViewCtorOf.keys()].map((proto) => [proto, VIEW] as const),
  ...[...kErrorTypeOf.keys()].map((proto) => [proto, ERROR] as const),
]);
if (kBufferProto !== null) kKindOf.set(kBufferProto, BUFFER);
for (const name of ['Blob', 'File']) {
  const C = (globalThis as Record<string, unknown>)[name];
  if (typeof C === 'function') kKindOf.set(C.prototype as object, BLOB);
}

/** Built-ins that structured clone refuses, named as themselves rather than as a class. */
const kRefusedBuiltins = new Set([
  'Promise',
  'WeakMap',
  'WeakSet',
  'WeakRef',
  'FinalizationRegistry',
  'Generator',
  'AsyncGenerator',
  'Symbol',
]);

/** Built-in readers, taken once: a value cannot shadow them with its own properties. */
export const getTime = Date.prototype.getTime;
export const regExpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source')!.get!;
export const regExpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags')!.get!;

/** The fault for an object of a prototype the rules do not know. */
export function refusal(path: string, value: object, proto: object | null): ValueFault {
  const ctor = proto === null ? undefined : (proto as { constructor?: unknown }).constructor;
  const name =
    typeof ctor === 'function' && ctor.name !== '' ? ctor.name : Object.prototype.toString.call(value).slice(8, -1);
  return kRefusedBuiltins.has(name)
    ? new ValueFault(path, name, `is a ${name}`)
    : new ValueFault(
        path,
        name,
        `is an instance of class ${name}, which would arrive without its prototype: pass plain data (objects, arrays, Maps...)`,
      );
}

/** True when an empty ArrayBuffer is a detached one (Node 20 has no `detached` getter). */
export function isDetached(buffer: ArrayBuffer): boolean {
  if (buffer.byteLength !== 0) return false;
  try {
    buffer.slice(0);
    return false;
  } catch {
    return true;
  }
}

/** A copy of `buffer`, resizable when it is. */
export function copyArrayBuffer(buffer: ArrayBuffer): ArrayBuffer {
  const resizable = buffer as ArrayBuffer & { resizable?: boolean; maxByteLength?: number };
  if (resizable.resizable !== true) return buffer.slice(0);
  // Node 20's lib types lack the resizable constructor; the runtime has it.
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength?: number }) => ArrayBuffer;
  const copy = new Resizable(buffer.byteLength, { maxByteLength: resizable.maxByteLength });
  new Uint8Array(copy).set(new Uint8Array(buffer));
  return copy;
}

// --- the walk --------------------------------------------------------------------------------

/** What the host platform can tell that JavaScript cannot. */
export interface ValueProbes {
  isProxy(value: object): boolean;
}

/**
 * Whether `value` is a Proxy, as the installed probes tell. A binding rather than a wrapper: the
 * value rules call it once per object, and the platform's function is then called directly.
 */
export let isProxy: (value: object) => boolean = () => false;

/** Installs the platform probes (the executors' layer passes `node:util`'s `types`). */
export function installValueProbes(installed: ValueProbes): void {
  isProxy = installed.isProxy;
}
