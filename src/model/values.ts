/**
 * The value rules (contract 3.1): a value behaves as if it were structured-cloned at every node
 * boundary, the same on the inline executor and in pool workers, fused or not.
 *
 * Structured clone alone is not that rule: across a thread a `Buffer` arrives as a bare
 * `Uint8Array`, an `Error` loses its own properties (`code`), its subclass and a custom `name`,
 * and a class instance silently loses its prototype, while in-thread nothing is copied at all.
 * So both executors apply one rule, defined here:
 *
 * - primitives, plain objects, arrays, `Map`, `Set`, `Date`, `RegExp`, boxed primitives,
 *   `ArrayBuffer`, typed arrays, `DataView`, `Buffer` and `Blob` are copied as structured clone
 *   copies them (a `SharedArrayBuffer` keeps sharing its memory); a `Buffer` stays a `Buffer`;
 * - an `Error` arrives as its nearest built-in class (`Error`, `TypeError`, ...) with its
 *   `name`, `message`, `stack`, `cause` and own enumerable properties;
 * - an object that was frozen arrives frozen, so a deeply frozen value can be handed over
 *   in-thread without a copy and no reader can tell;
 * - refused, with a {@link ValueFault} naming the path: functions, symbols, Promises, weak
 *   collections, Proxies, class instances (they would arrive without their prototype), a getter
 *   that throws, an `Error` whose cause leads back to it, and values nested deeper than
 *   {@link kMaxDepth} levels (V8's serializer recurses and overflows the stack near 2,000).
 *
 * In a thread, {@link copyValue} makes that copy in one iterative walk. Across threads the
 * sender calls {@link inspectValue} (the same walk without copying) to refuse early and to note
 * what structured clone will lose ({@link ValueExtras}); the receiver calls {@link restoreValue}.
 * Both walks use an explicit stack, never recursion, and read every property inside one
 * try/catch, so no value can overflow the stack or let a getter's error escape.
 *
 * The model imports no Node built-in: whether an object is a Proxy is asked through
 * {@link installValueProbes}, which the executors' layer calls with `node:util`'s `types`.
 */
import { UncloneableValueError, type ValueSource } from './errors.js';

/** Containers nested deeper than this are refused (`valueType: 'too deep'`). */
export const kMaxDepth = 1000;

/** Why a value cannot cross a node boundary, and where in it. */
export class ValueFault {
  /** From the value's root, e.g. `value.handler`, `inputs.alpha.cb`, `event<map value #0>`. */
  readonly path: string;
  /** `function`, `symbol`, `Promise`, `Proxy`, a class name, `throwing getter`, `too deep`, ... */
  readonly valueType: string;
  /** How the message says it, e.g. `is a function`. */
  readonly detail: string;
  /** A getter's error. */
  readonly cause: unknown;

  constructor(path: string, valueType: string, detail: string, cause?: unknown) {
    this.path = path;
    this.valueType = valueType;
    this.detail = detail;
    this.cause = cause;
  }

  /** The error to report for a value from `source`. */
  toError(source: ValueSource): UncloneableValueError {
    return new UncloneableValueError(
      source,
      this.path,
      this.valueType,
      this.detail,
      this.cause === undefined ? undefined : { cause: this.cause },
    );
  }
}

/** The built-in error classes an `Error` value arrives as. */
export type ErrorType =
  'Error' | 'EvalError' | 'RangeError' | 'ReferenceError' | 'SyntaxError' | 'TypeError' | 'URIError' | 'AggregateError';

/** What structured clone loses of an `Error`, sent beside it and put back by {@link restoreValue}. */
export interface ErrorShape {
  /** Its nearest built-in class. */
  readonly type: ErrorType;
  /** Its `name` when that is neither the built-in's nor an own enumerable property. */
  readonly name?: string;
  /** Its own enumerable properties (`code`, ...). */
  readonly props: Record<string, unknown>;
  /** An `AggregateError`'s `errors`. */
  readonly errors?: unknown;
}

/**
 * What structured clone loses of a value, listed by the sender and sent in the same message as
 * the value: clone keeps identity within one message, so each entry is the very object inside
 * the received value and can be fixed in place, wherever it sits (an object, a Map key...).
 */
export interface ValueExtras {
  /** Buffers, which arrive as bare Uint8Arrays. */
  readonly buffers?: readonly Uint8Array[];
  /** Errors, with what they lose. */
  readonly errors?: ReadonlyArray<readonly [error: Error, shape: ErrorShape]>;
  /** Objects that were frozen. */
  readonly frozen?: readonly object[];
}

/** What {@link inspectValue} collects besides checking: extras and buffers to transfer. */
export class ValueSink {
  buffers: Uint8Array[] | undefined = undefined;
  errors: Array<readonly [Error, ErrorShape]> | undefined = undefined;
  frozen: object[] | undefined = undefined;
  /** Buffers marked by `move()` (in `marked`) found in the value: to transfer instead of copy. */
  readonly transfers: Set<ArrayBuffer> | null;
  readonly marked: WeakSet<object> | null;
  /**
   * Objects of the other values that travel in the same message (a batch of units): clone keeps
   * identity across a whole message, so a value sharing one of them would arrive shared with
   * another unit's. When set, the walk adds what it visits and sets {@link overlaps} when it
   * meets an object already there; the caller then sends a copy instead.
   */
  across: Set<object> | null = null;
  overlaps = false;

  constructor(marked: WeakSet<object> | null = null) {
    this.marked = marked;
    this.transfers = marked === null ? null : new Set();
  }

  /** The extras to send beside the value, or undefined when clone loses nothing of it. */
  extras(): ValueExtras | undefined {
    if (this.buffers === undefined && this.errors === undefined && this.frozen === undefined) return undefined;
    const extras: { -readonly [K in keyof ValueExtras]: ValueExtras[K] } = {};
    if (this.buffers !== undefined) extras.buffers = this.buffers;
    if (this.errors !== undefined) extras.errors = this.errors;
    if (this.frozen !== undefined) extras.frozen = this.frozen;
    return extras;
  }
}

/** What the host platform can tell that JavaScript cannot. */
export interface ValueProbes {
  isProxy(value: object): boolean;
}

let probes: ValueProbes = { isProxy: () => false };

/** Installs the platform probes (the executors' layer passes `node:util`'s `types`). */
export function installValueProbes(installed: ValueProbes): void {
  probes = installed;
}

/**
 * Checks `value` as it would cross a thread. Returns the first fault, or null. With a `sink`,
 * also collects what structured clone will lose and the buffers marked to move.
 */
export function inspectValue(value: unknown, root = 'value', sink: ValueSink | null = null): ValueFault | null {
  if (isPrimitive(value)) return null;
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return primitiveFault(type, root);
  const result = walk(value as object, root, false, sink, null);
  return result instanceof ValueFault ? result : null;
}

/**
 * The copy of `value` that a reader on another thread would get (the rule of this module's
 * comment), made in this thread. Returns a {@link ValueFault} when the value cannot be copied.
 * Deeply frozen plain data is returned as it is; buffers marked in `moved` (by `move()`) are
 * handed over without a copy.
 */
export function copyValue(value: unknown, root = 'value', moved: WeakSet<object> | null = null): unknown {
  if (isPrimitive(value)) return value;
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return primitiveFault(type, root);
  return walk(value as object, root, true, null, moved);
}

/**
 * Checks an event before an accumulator accepts it (`runtime.push`, `host.push`, inject): throws
 * an {@link UncloneableValueError} naming the accumulator and the path (`event.cb is a
 * function`) when it could not cross a node boundary. Costs one walk of the event, nothing for
 * a primitive.
 *
 * @example
 * checkEvent('alpha', { cb() {} }); // throws: accumulator 'alpha': ... event.cb is a function
 */
export function checkEvent(accumulator: string, event: unknown): void {
  const fault = inspectValue(event, 'event');
  if (fault !== null) throw fault.toError({ accumulator });
}

/**
 * Checks an event as {@link checkEvent} does and returns the copy another thread would receive:
 * for a node's `host.push` on the main thread, so the node keeps nothing the accumulator holds,
 * as when it pushes from a worker.
 */
export function copyEvent(accumulator: string, event: unknown): unknown {
  const copy = copyValue(event, 'event');
  if (copy instanceof ValueFault) throw copy.toError({ accumulator });
  return copy;
}

/** Puts back what structured clone lost of a received value (see {@link ValueExtras}). */
export function restoreValue(extras: ValueExtras): void {
  if (extras.buffers !== undefined) for (const buffer of extras.buffers) Object.setPrototypeOf(buffer, kBufferProto);
  if (extras.errors !== undefined) for (const [error, shape] of extras.errors) fixError(error, shape);
  if (extras.frozen !== undefined) for (const object of extras.frozen) Object.freeze(object);
}

/** True for a value that is its own copy: neither an object, nor a function, nor a symbol. */
export function isPrimitive(value: unknown): boolean {
  const type = typeof value;
  return type === 'object' ? value === null : type !== 'function' && type !== 'symbol';
}

/** The path root of a cache input: `inputs.alpha`, or `inputs["odd name"]`. */
export function inputRoot(source: string): string {
  return `inputs${kIdentifier.test(source) ? `.${source}` : `[${JSON.stringify(source)}]`}`;
}

/** True for a promise or any object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

// --- classification ------------------------------------------------------------------------

const PLAIN = 1;
const ARRAY = 2;
const MAP = 3;
const SET = 4;
const ERROR = 5; // kinds up to here are containers
const DATE = 6;
const REGEXP = 7;
const BOXED = 8;
const ARRAY_BUFFER = 9;
const SHARED_BUFFER = 10;
const VIEW = 11;
const BUFFER = 12;
const BLOB = 13;

const kBufferCtor = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const kBufferProto: object | null = kBufferCtor === undefined ? null : kBufferCtor.prototype;

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
const kViewCtorOf = new Map<object, ViewCtor>(kViewCtors.map((C) => [C.prototype, C]));

const kErrorCtors: Record<ErrorType, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
};
const kErrorTypeOf = new Map<object, ErrorType>(
  Object.entries(kErrorCtors).map(([type, C]) => [C.prototype as object, type as ErrorType]),
);

const kValueOf = new Map<object, (this: unknown) => unknown>([
  [Number.prototype, Number.prototype.valueOf],
  [String.prototype, String.prototype.valueOf],
  [Boolean.prototype, Boolean.prototype.valueOf],
  [BigInt.prototype, BigInt.prototype.valueOf],
]);

const kKindOf = new Map<object | null, number>([
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

const getTime = Date.prototype.getTime;
const regExpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source')!.get!;
const regExpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags')!.get!;

function primitiveFault(type: string, root: string): ValueFault {
  return new ValueFault(root, type, `is a ${type}`);
}

/** The fault for an object of a prototype the rules do not know. */
function refusal(path: string, value: object, proto: object | null): ValueFault {
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

/** The nearest built-in error class in `error`'s prototype chain. */
function errorTypeOf(error: object): ErrorType {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const type = kErrorTypeOf.get(proto);
    if (type !== undefined) return type;
  }
  return 'Error';
}

/** An own data property's value, or undefined when there is none (what V8's serializer reads). */
function ownData(object: object, key: string): { value: unknown } | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor !== undefined && 'value' in descriptor ? (descriptor as { value: unknown }) : undefined;
}

function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

/** Sets an own enumerable property, `__proto__` included (an assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Makes a received (or copied) error what its shape says. */
function fixError(error: Error, shape: ErrorShape): void {
  const proto = kErrorCtors[shape.type].prototype;
  if (Object.getPrototypeOf(error) !== proto) Object.setPrototypeOf(error, proto);
  if (shape.name !== undefined) defineHidden(error, 'name', shape.name);
  for (const key of Object.keys(shape.props))
    setOwn(error as unknown as Record<string, unknown>, key, shape.props[key]);
  if (shape.errors !== undefined) defineHidden(error, 'errors', shape.errors);
}

/** The error's children after its message and stack: `cause`, `errors`, then own enumerable keys. */
function errorLabels(error: Error, type: ErrorType): { labels: string[]; native: number } {
  const labels: string[] = [];
  if (ownData(error, 'cause') !== undefined) labels.push('cause');
  const aggregate = type === 'AggregateError' && ownData(error, 'errors') !== undefined;
  if (aggregate) labels.push('errors');
  const native = labels.length;
  for (const key of Object.keys(error)) {
    if (key === 'message' || key === 'stack' || key === 'cause' || (aggregate && key === 'errors')) continue;
    labels.push(key);
  }
  return { labels, native };
}

/** The shape of `error` without its props (filled in as the walk reads them). */
function errorShape(error: Error, type: ErrorType, labels: readonly string[]): ErrorShape {
  const name = String(error.name);
  const ownName = labels.includes('name');
  return !ownName && name !== type ? { type, name, props: {} } : { type, props: {} };
}

/** A new error of `error`'s built-in class with its message, stack and name (no cause, no props). */
function errorCopy(error: Error, shape: ErrorShape): Error {
  const message = ownData(error, 'message');
  const Ctor = shape.type === 'AggregateError' ? Error : kErrorCtors[shape.type];
  const copy = message === undefined ? new Ctor() : new Ctor(String(message.value));
  const stack = error.stack;
  if (typeof stack !== 'string') delete copy.stack;
  // Node 22+ gives errors an own `stack` accessor, and so does a clone from another thread:
  // assigning through it keeps that shape; Node 20 has a data property.
  else if (Object.getOwnPropertyDescriptor(copy, 'stack')?.set !== undefined) copy.stack = stack;
  else defineHidden(copy, 'stack', stack);
  fixError(copy, { type: shape.type, name: shape.name, props: {} });
  return copy;
}

/** True when an empty ArrayBuffer is a detached one (Node 20 has no `detached` getter). */
function isDetached(buffer: ArrayBuffer): boolean {
  if (buffer.byteLength !== 0) return false;
  try {
    buffer.slice(0);
    return false;
  } catch {
    return true;
  }
}

function copyArrayBuffer(buffer: ArrayBuffer): ArrayBuffer {
  const resizable = buffer as ArrayBuffer & { resizable?: boolean; maxByteLength?: number };
  if (resizable.resizable !== true) return buffer.slice(0);
  // Node 20's lib types lack the resizable constructor; the runtime has it.
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength?: number }) => ArrayBuffer;
  const copy = new Resizable(buffer.byteLength, { maxByteLength: resizable.maxByteLength });
  new Uint8Array(copy).set(new Uint8Array(buffer));
  return copy;
}

// --- the walk --------------------------------------------------------------------------------

/** Returned by `visit` when it pushed a frame instead of producing a result. */
const kPushed = Symbol('pushed');
/** Memo entry of a frozen container not copied (yet): it may turn out shareable as it is. */
const kLazy = Symbol('lazy');
/** Deeply frozen plain data proven shareable: handed over as it is, without another walk. */
const kShareable = new WeakSet<object>();
const kIndex = /^(?:0|[1-9]\d*)$/;
const kIdentifier = /^[A-Za-z_$][\w$]*$/;

let idle: Walker | null = null;

/** Runs one walk on the idle walker, or on a fresh one if it is in use (a getter that checks a value). */
function walk(
  value: object,
  root: string,
  copying: boolean,
  sink: ValueSink | null,
  moved: WeakSet<object> | null,
): unknown {
  const walker = idle ?? new Walker();
  idle = null;
  try {
    return walker.run(value, root, copying, sink, moved);
  } finally {
    idle = walker;
  }
}

/**
 * One iterative depth-first walk. Frames live in parallel arrays (no object per frame); a frame
 * is a container being walked, its children enumerated by `keys` (labels, or a Map's flattened
 * entries, or a Set's items) and `index`.
 */
class Walker {
  readonly #objects: object[] = [];
  readonly #kinds: number[] = [];
  readonly #keys: unknown[][] = [];
  readonly #index: number[] = [];
  /** Copying: the copy (or kLazy). */
  readonly #copies: unknown[] = [];
  /** A Map's pending key (copying), a lazy frame's results (copying), an Error's shape (sink). */
  readonly #aux: unknown[] = [];
  /** An Error frame's count of native children (`cause`, `errors`) before its own properties. */
  readonly #native: number[] = [];
  /** Whether the frame's object is frozen (its copy is frozen too). */
  readonly #frozen: boolean[] = [];
  /** Whether the frame's array has exactly the indices 0..length-1 as its own keys. */
  readonly #dense: boolean[] = [];
  #depth = 0;
  /** The deepest frame used by this run: what `#reset` must clear. */
  #high = 0;
  #root = 'value';
  #copying = false;
  #sink: ValueSink | null = null;
  #moved: WeakSet<object> | null = null;
  readonly #seen = new Set<object>();
  readonly #memo = new Map<object, unknown>();
  /** Errors whose `cause` is being walked: a reference back to one is refused (V8 fails on it). */
  readonly #openCauses = new Set<object>();
  /** Buffers under the views met so far, noted once each in the sink's `across` set. */
  readonly #viewBuffers = new Set<object>();

  run(value: object, root: string, copying: boolean, sink: ValueSink | null, moved: WeakSet<object> | null): unknown {
    this.#root = root;
    this.#copying = copying;
    this.#sink = sink;
    this.#moved = moved;
    try {
      let result = this.#visit(value);
      while (result === kPushed) {
        const top = this.#depth - 1;
        const length = this.#keys[top]!.length;
        let i = this.#index[top]!;
        if (i < length) {
          let child: unknown;
          if (this.#dense[top] && this.#copies[top] !== kLazy) {
            // A dense array: take its primitive elements in one tight loop (numeric data).
            const array = this.#objects[top] as unknown[];
            const copy = this.#copies[top] as unknown[] | undefined;
            for (; ; i++) {
              child = array[i];
              if (!isPrimitive(child)) break;
              if (copy !== undefined) copy[i] = child;
              if (i + 1 === length) break;
            }
            this.#index[top] = i + 1;
            if (isPrimitive(child)) continue;
          } else {
            this.#index[top] = i + 1;
            child = this.#child(top, i);
            if (isPrimitive(child)) {
              // A primitive is its own result; into a plain copy it goes straight (most children).
              const copy = this.#copies[top];
              if (copy !== undefined && copy !== kLazy && this.#kinds[top]! === PLAIN) {
                setOwn(copy as Record<string, unknown>, this.#keys[top]![i] as string, child);
              } else {
                this.#assign(top, i, child, child);
              }
              continue;
            }
          }
          const r = this.#visit(child);
          if (r instanceof ValueFault) return r;
          if (r !== kPushed) this.#assign(top, i, child, r);
          continue;
        }
        const finished = this.#finish(top);
        if (this.#depth === 0) {
          result = finished;
          break;
        }
        const parent = this.#depth - 1;
        this.#assign(parent, this.#index[parent]! - 1, this.#objects[top], finished);
      }
      return result;
    } catch (error) {
      const detail = `threw when read: ${error instanceof Error ? error.message : String(error)}`;
      return new ValueFault(this.#path(), 'throwing getter', detail, error);
    } finally {
      this.#reset();
    }
  }

  /** A primitive or a leaf's result, a fault, or kPushed after pushing a container. */
  #visit(v: unknown): unknown {
    switch (typeof v) {
      case 'function':
      case 'symbol':
        return new ValueFault(this.#path(), typeof v, `is a ${typeof v}`);
      case 'object':
        if (v === null) return v;
        break;
      default:
        return v;
    }
    if (this.#openCauses.size > 0 && this.#openCauses.has(v)) {
      return new ValueFault(this.#path(), 'Error cause cycle', 'is an Error whose cause leads back to it');
    }
    if (this.#copying) {
      const known = this.#memo.get(v);
      if (known === kLazy) return this.#materialize(this.#frameOf(v));
      if (known !== undefined) return known;
    } else {
      if (this.#seen.has(v)) return v;
      this.#seen.add(v);
      // A buffer already noted under a view of this value is not another value's.
      if (this.#sink?.across && !this.#viewBuffers.has(v)) this.#across(this.#sink, v);
    }
    if (probes.isProxy(v)) return new ValueFault(this.#path(), 'Proxy', 'is a Proxy');
    const proto = Object.getPrototypeOf(v) as object | null;
    let kind = proto === Object.prototype ? PLAIN : proto === Array.prototype ? ARRAY : kKindOf.get(proto);
    if (kind === undefined) {
      if (!(v instanceof Error)) return refusal(this.#path(), v, proto);
      kind = ERROR;
    }
    const frozen = (this.#copying || this.#sink !== null) && Object.isFrozen(v);
    if (frozen && this.#sink !== null) (this.#sink.frozen ??= []).push(v);
    if (kind > ERROR) return this.#leaf(v, kind, proto!, frozen);
    if (frozen && this.#copying && kind <= ARRAY && kShareable.has(v)) return v;
    return this.#push(v, kind, proto, frozen);
  }

  #push(v: object, kind: number, proto: object | null, frozen: boolean): unknown {
    if (this.#depth >= kMaxDepth) {
      return new ValueFault(
        this.#path(),
        'too deep',
        `is nested more than ${kMaxDepth.toLocaleString('en-US')} levels deep`,
      );
    }
    const top = this.#depth++;
    if (this.#depth > this.#high) this.#high = this.#depth;
    this.#objects[top] = v;
    this.#kinds[top] = kind;
    this.#index[top] = 0;
    this.#aux[top] = undefined;
    this.#native[top] = 0;
    this.#frozen[top] = frozen;
    this.#dense[top] = false;
    let copy: unknown = undefined;
    switch (kind) {
      case PLAIN:
      case ARRAY: {
        const keys = Object.keys(v);
        this.#keys[top] = keys;
        // Keys '0'..'n-1' and nothing else: no hole, no extra property; read and write by number.
        const length = kind === ARRAY ? (v as unknown[]).length : -1;
        this.#dense[top] = keys.length === length && (length === 0 || keys[length - 1] === String(length - 1));
        if (!this.#copying) break;
        // A frozen container is not copied unless a child must be: it may be shared as it is.
        const lazy = frozen && (proto === Object.prototype || proto === Array.prototype);
        if (lazy) this.#aux[top] = [];
        copy = lazy ? kLazy : kind === ARRAY ? new Array((v as unknown[]).length) : {};
        break;
      }
      case MAP: {
        const entries: unknown[] = [];
        for (const [key, value] of v as Map<unknown, unknown>) entries.push(key, value);
        this.#keys[top] = entries;
        if (this.#copying) copy = new Map();
        break;
      }
      case SET:
        this.#keys[top] = [...(v as Set<unknown>)];
        if (this.#copying) copy = new Set();
        break;
      default: {
        const error = v as Error;
        const type = errorTypeOf(error);
        const { labels, native } = errorLabels(error, type);
        this.#keys[top] = labels;
        this.#native[top] = native;
        const shape = errorShape(error, type, labels);
        if (this.#copying) copy = errorCopy(error, shape);
        else if (this.#sink !== null) {
          this.#aux[top] = shape;
          (this.#sink.errors ??= []).push([error, shape]);
        }
      }
    }
    if (this.#copying) {
      this.#copies[top] = copy;
      this.#memo.set(v, copy);
    }
    return kPushed;
  }

  /** Child `i` of frame `top`, read the way V8's serializer reads it. */
  #child(top: number, i: number): unknown {
    const object = this.#objects[top]!;
    const key = this.#keys[top]![i];
    switch (this.#kinds[top]) {
      case MAP:
      case SET:
        return key;
      case ERROR:
        if (key === 'cause') this.#openCauses.add(object);
        else this.#openCauses.delete(object);
        if (i < this.#native[top]!) return ownData(object, key as string)!.value;
        return (object as unknown as Record<string, unknown>)[key as string];
      default:
        return this.#dense[top] ? (object as unknown[])[i] : (object as Record<string, unknown>)[key as string];
    }
  }

  /** Files child `i`'s result `r` (copying) or notes it (an Error's shape). */
  #assign(top: number, i: number, original: unknown, r: unknown): void {
    const kind = this.#kinds[top]!;
    if (!this.#copying) {
      if (kind === ERROR && this.#sink !== null) {
        const shape = this.#aux[top] as { props: Record<string, unknown>; errors?: unknown };
        const label = this.#keys[top]![i] as string;
        if (i >= this.#native[top]!) setOwn(shape.props, label, original);
        else if (label === 'errors') shape.errors = original;
      }
      return;
    }
    switch (kind) {
      case PLAIN:
      case ARRAY: {
        if (this.#copies[top] === kLazy) {
          if (r === original) {
            (this.#aux[top] as unknown[]).push(r);
            return;
          }
          this.#materialize(top);
        }
        if (this.#dense[top]) (this.#copies[top] as unknown[])[i] = r;
        else setOwn(this.#copies[top] as Record<string, unknown>, this.#keys[top]![i] as string, r);
        return;
      }
      case MAP:
        if ((i & 1) === 0) this.#aux[top] = r;
        else (this.#copies[top] as Map<unknown, unknown>).set(this.#aux[top], r);
        return;
      case SET:
        (this.#copies[top] as Set<unknown>).add(r);
        return;
      default: {
        const label = this.#keys[top]![i] as string;
        const copy = this.#copies[top] as Record<string, unknown>;
        if (i < this.#native[top]!) defineHidden(copy, label, r);
        else setOwn(copy, label, r);
      }
    }
  }

  /** Pops frame `top`; returns the container's result. */
  #finish(top: number): unknown {
    const object = this.#objects[top]!;
    this.#depth--;
    if (this.#kinds[top] === ERROR) this.#openCauses.delete(object);
    if (!this.#copying) return object;
    if (this.#copies[top] === kLazy) {
      if (shareable(object, this.#kinds[top] === ARRAY)) {
        // Remembered only when no child was shared because it was marked to move.
        if (this.#moved === null) kShareable.add(object);
        this.#memo.set(object, object);
        return object;
      }
      this.#materialize(top);
    }
    const copy = this.#copies[top] as object;
    if (this.#frozen[top]) Object.freeze(copy);
    return copy;
  }

  /** Turns a lazy frame into a copy holding the children read so far. */
  #materialize(top: number): unknown {
    const object = this.#objects[top]!;
    const copy: Record<string, unknown> =
      this.#kinds[top] === ARRAY ? (new Array((object as unknown[]).length) as never) : {};
    const results = this.#aux[top] as unknown[];
    const keys = this.#keys[top]!;
    for (let k = 0; k < results.length; k++) setOwn(copy, keys[k] as string, results[k]);
    this.#copies[top] = copy;
    this.#memo.set(object, copy);
    return copy;
  }

  #frameOf(object: object): number {
    let top = this.#depth - 1;
    while (this.#objects[top] !== object) top--;
    return top;
  }

  /** The result for a value that holds no other value (copying), or the value itself. */
  #leaf(v: object, kind: number, proto: object, frozen: boolean): unknown {
    const sink = this.#sink;
    if (!this.#copying) {
      if (kind === ARRAY_BUFFER || kind === VIEW || kind === BUFFER) {
        const buffer = kind === ARRAY_BUFFER ? (v as ArrayBuffer) : (v as ArrayBufferView).buffer;
        if (buffer instanceof ArrayBuffer && isDetached(buffer)) return this.#detached();
        // Views of one buffer in two values would share it after the clone.
        if (
          sink?.across &&
          kind !== ARRAY_BUFFER &&
          buffer instanceof ArrayBuffer &&
          !this.#viewBuffers.has(buffer) &&
          !this.#seen.has(buffer)
        ) {
          this.#viewBuffers.add(buffer);
          this.#across(sink, buffer);
        }
        if (kind === BUFFER && sink !== null) (sink.buffers ??= []).push(v as Uint8Array);
        const marked = sink?.marked;
        if (marked && buffer instanceof ArrayBuffer && (marked.has(v) || marked.has(buffer)))
          sink!.transfers!.add(buffer);
      }
      return v;
    }
    let copy: unknown;
    switch (kind) {
      case DATE:
        copy = new Date(getTime.call(v));
        break;
      case REGEXP:
        copy = new RegExp(regExpSource.call(v) as string, regExpFlags.call(v) as string);
        break;
      case BOXED:
        copy = Object(kValueOf.get(proto)!.call(v));
        break;
      case ARRAY_BUFFER:
        if (isDetached(v as ArrayBuffer)) return this.#detached();
        copy = this.#moved?.has(v) ? v : copyArrayBuffer(v as ArrayBuffer);
        break;
      case VIEW:
      case BUFFER: {
        const view = v as ArrayBufferView;
        const buffer = view.buffer;
        if (buffer instanceof ArrayBuffer && isDetached(buffer)) return this.#detached();
        if (this.#moved !== null && (this.#moved.has(v) || this.#moved.has(buffer))) {
          copy = v;
          break;
        }
        let bufferCopy = this.#memo.get(buffer) as ArrayBufferLike | undefined;
        if (bufferCopy === undefined) {
          bufferCopy = buffer instanceof ArrayBuffer ? copyArrayBuffer(buffer) : buffer;
          this.#memo.set(buffer, bufferCopy);
        }
        const length = kind === VIEW && proto === DataView.prototype ? view.byteLength : (view as Uint8Array).length;
        copy =
          kind === BUFFER
            ? kBufferCtor!.from(bufferCopy, view.byteOffset, length)
            : new (kViewCtorOf.get(proto)!)(bufferCopy, view.byteOffset, length);
        break;
      }
      default: // a SharedArrayBuffer shares its memory; a Blob is immutable
        copy = v;
    }
    this.#memo.set(v, copy);
    if (frozen && copy !== v) Object.freeze(copy);
    return copy;
  }

  /** Notes `object` in the sink's set of objects of other values, flagging a shared one. */
  #across(sink: ValueSink, object: object): void {
    if (sink.across!.has(object)) sink.overlaps = true;
    else sink.across!.add(object);
  }

  #detached(): ValueFault {
    return new ValueFault(this.#path(), 'detached ArrayBuffer', 'is a detached ArrayBuffer (moved or transferred)');
  }

  /** The path to the child being visited: the root, then each frame's current child. */
  #path(): string {
    const segments: string[] = [];
    for (let top = 0; top < this.#depth; top++) segments.push(this.#segment(top, this.#index[top]! - 1));
    if (segments.length > 40) {
      segments.splice(20, segments.length - 40, `…(${segments.length - 40} more)…`);
    }
    return this.#root + segments.join('');
  }

  #segment(top: number, i: number): string {
    if (i < 0) return '';
    switch (this.#kinds[top]) {
      case MAP:
        return `<map ${(i & 1) === 0 ? 'key' : 'value'} #${i >> 1}>`;
      case SET:
        return `<set item #${i}>`;
    }
    const label = this.#keys[top]![i] as string;
    if (this.#kinds[top] === ARRAY && kIndex.test(label)) return `[${label}]`;
    return kIdentifier.test(label) ? `.${label}` : `[${JSON.stringify(label)}]`;
  }

  #reset(): void {
    for (let top = 0; top < this.#high; top++) {
      this.#objects[top] = undefined as never;
      this.#keys[top] = undefined as never;
      this.#copies[top] = undefined;
      this.#aux[top] = undefined;
    }
    this.#depth = 0;
    this.#high = 0;
    this.#sink = null;
    this.#moved = null;
    // clear() allocates a new table: skip it when there is nothing to clear.
    if (this.#seen.size > 0) this.#seen.clear();
    if (this.#memo.size > 0) this.#memo.clear();
    if (this.#openCauses.size > 0) this.#openCauses.clear();
    if (this.#viewBuffers.size > 0) this.#viewBuffers.clear();
  }
}

/**
 * True when a frozen plain object or array can be handed over as it is: it has no own property a
 * copy would lose (a symbol key, a non-enumerable one) or read differently (an accessor). Its
 * children were already found shareable. Checked once per object (the result is remembered).
 */
function shareable(object: object, array: boolean): boolean {
  const descriptors = Object.getOwnPropertyDescriptors(object) as Record<string | symbol, PropertyDescriptor>;
  for (const key of Reflect.ownKeys(descriptors)) {
    if (typeof key === 'symbol') return false;
    const descriptor = descriptors[key]!;
    if (!('value' in descriptor)) return false;
    if (!descriptor.enumerable && !(array && key === 'length')) return false;
  }
  return true;
}
