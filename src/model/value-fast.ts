/**
 * The fast paths of the value rules, for what events and results usually are: plain objects and
 * dense arrays of primitives, nested a few levels, with `Date`s and `Buffer`s among them. One
 * recursive pass checks (and, copying, copies) such a value without the general walk's frames,
 * memo tables and per-walk reset, and allocates nothing beyond the copy.
 *
 * A fast path never decides a refusal: anything it does not know for certain is plain data (a
 * Proxy, a frozen or non-extensible object, a class instance, a Map, an Error, a hole, a key
 * named `__proto__`, a function, a getter that throws, a value deeper than `kFastDepth` or
 * holding more than `kFastContainers` objects, an enumerable property added to
 * `Object.prototype`) answers {@link kSlow}, and the caller walks the value with the general
 * walker (`value-walker.ts`), which applies every rule and names the path of a fault. What the
 * fast paths accept, they treat exactly as the walker does: own enumerable string keys in their
 * order, one copy per object however often it is referenced, a `Buffer` copied with its whole
 * `ArrayBuffer` (views of one buffer keep sharing one copy), a `Date` as its time.
 */
import { isPrimitive } from './own-properties.js';
import { copyArrayBuffer, getTime, isProxy, kBufferCtor, kBufferProto } from './value-kinds.js';
import type { ValueSink } from './value-sink.js';

/** A fast path's answer when the value needs the general walk. */
export const kSlow: unique symbol = Symbol('slow');

/** Deepest nesting a fast path follows (a cycle reaches it and goes to the walker). */
const kFastDepth = 12;
/** Most objects a fast path visits in one value (its identity table is a linear scan). */
const kFastContainers = 48;

/** An object with no properties: an enumerable key inherited from `Object.prototype` shows up in it. */
const kEmpty: object = Object.freeze({});

// The identity table of the copy in progress: originals and their copies, in visit order. Module
// state, reused by every call; a getter that checks or copies a value while a fast path runs
// finds it `busy` and takes the walker.
const originals: object[] = [];
const copies: unknown[] = [];
/** Entries of the table in use (cleared by hand: setting an array's length is not cheap). */
let used = 0;
let busy = false;
/** Objects the check in progress has visited (shared ones count each time). */
let visited = 0;

/** True while `Object.prototype` has no enumerable property (for-in then yields own keys only). */
function prototypeClean(): boolean {
  for (const _ in kEmpty) return false;
  return true;
}

/**
 * The copy of `value` under the value rules, or {@link kSlow} when it holds anything the fast
 * path leaves to the walker. Nothing marked to move may be in it (the caller checks).
 */
export function fastCopy(value: object): unknown {
  if (busy || !prototypeClean()) return kSlow;
  busy = true;
  try {
    return copyOf(value, 0);
  } catch {
    // A getter threw: the walker reports it, with its path.
    return kSlow;
  } finally {
    release();
  }
}

/** Ends a copy: clears the identity table (it must not keep values alive) and frees the fast path. */
function release(): void {
  for (let i = 0; i < used; i++) {
    originals[i] = kEmpty;
    copies[i] = undefined;
  }
  used = 0;
  busy = false;
}

/** Notes `copy` as the copy of `original`. */
function remember(original: object, copy: unknown): void {
  originals[used] = original;
  copies[used++] = copy;
}

/** The copy already made of `object` in this value, or undefined. */
function recall(object: object): unknown {
  for (let i = 0; i < used; i++) if (originals[i] === object) return copies[i];
  return undefined;
}

/**
 * Copies `values[0..count)` in place, as parts of one value (an object held by two of them stays
 * one object in the copies). False when one needs the walker; `values` is then left as it was.
 */
export function fastCopyAll(values: unknown[], count: number): boolean {
  if (busy || !prototypeClean()) return false;
  busy = true;
  try {
    for (let k = 0; k < count; k++) {
      const value = values[k];
      const copy = isPrimitive(value) ? value : typeof value === 'object' ? copyOf(value!, 0) : kSlow;
      if (copy === kSlow) return false;
      scratch[k] = copy;
    }
    for (let k = 0; k < count; k++) {
      values[k] = scratch[k];
      scratch[k] = undefined;
    }
    return true;
  } catch {
    return false;
  } finally {
    release();
  }
}

/** The copies of {@link fastCopyAll} until all of them are made. */
const scratch: unknown[] = [];

function copyOf(v: object, depth: number): unknown {
  const known = recall(v);
  if (known !== undefined) return known;
  if (depth === kFastDepth || used >= kFastContainers || isProxy(v)) return kSlow;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype) {
    if (Object.isFrozen(v)) return kSlow;
    const object = v as Record<string, unknown>;
    const copy: Record<string, unknown> = {};
    remember(v, copy);
    for (const key in object) {
      if (key === '__proto__') return kSlow;
      let child = object[key];
      if (!isPrimitive(child)) {
        if (typeof child !== 'object') return kSlow;
        child = copyOf(child as object, depth + 1);
        if (child === kSlow) return kSlow;
      }
      copy[key] = child;
    }
    return copy;
  }
  if (proto === Array.prototype) {
    const array = v as unknown[];
    const length = array.length;
    if (!dense(array, length) || Object.isFrozen(v)) return kSlow;
    const copy = new Array<unknown>(length);
    remember(v, copy);
    for (let i = 0; i < length; i++) {
      let child = array[i];
      if (!isPrimitive(child)) {
        if (typeof child !== 'object') return kSlow;
        child = copyOf(child as object, depth + 1);
        if (child === kSlow) return kSlow;
      }
      copy[i] = child;
    }
    return copy;
  }
  if (proto === Date.prototype) {
    if (Object.isFrozen(v)) return kSlow;
    const copy = new Date(getTime.call(v));
    remember(v, copy);
    return copy;
  }
  if (proto === kBufferProto && proto !== null) {
    const view = v as Uint8Array;
    const buffer = view.buffer;
    // Empty may mean detached, and a SharedArrayBuffer shares: the walker tells those apart.
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return kSlow;
    let bufferCopy = recall(buffer) as ArrayBuffer | undefined;
    if (bufferCopy === undefined) {
      bufferCopy = copyArrayBuffer(buffer);
      remember(buffer, bufferCopy);
    }
    const copy = kBufferCtor!.from(bufferCopy, view.byteOffset, view.length);
    remember(v, copy);
    return copy;
  }
  return kSlow;
}

/**
 * Whether `value` passes the value rules, as the walker's check would find, noting its `Buffer`s
 * in `sink` (they arrive across a thread as bare `Uint8Array`s). False means "ask the walker",
 * not "refused"; the sink is then left as it was.
 */
export function fastCheck(value: object, sink: ValueSink | null): boolean {
  // A batch's check notes every object it visits (`across`); buffers marked to move are looked up.
  if (busy || (sink !== null && (sink.across !== null || sink.marked !== null)) || !prototypeClean()) return false;
  busy = true;
  const buffers = sink?.buffers?.length ?? 0;
  let ok: boolean;
  try {
    visited = 0;
    ok = checkOf(value, 0, sink);
  } catch {
    ok = false;
  } finally {
    busy = false;
  }
  if (!ok && sink?.buffers !== undefined) sink.buffers.length = buffers;
  return ok;
}

function checkOf(v: object, depth: number, sink: ValueSink | null): boolean {
  if (depth === kFastDepth || ++visited > kFastContainers || isProxy(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype) {
    // Frozen matters only to a check that notes what clone loses (the object arrives frozen).
    if (sink !== null && Object.isFrozen(v)) return false;
    const object = v as Record<string, unknown>;
    for (const key in object) {
      if (key === '__proto__') return false;
      const child = object[key];
      if (!isPrimitive(child) && (typeof child !== 'object' || !checkOf(child as object, depth + 1, sink)))
        return false;
    }
    return true;
  }
  if (proto === Array.prototype) {
    const array = v as unknown[];
    const length = array.length;
    if (!dense(array, length) || (sink !== null && Object.isFrozen(v))) return false;
    for (let i = 0; i < length; i++) {
      const child = array[i];
      if (!isPrimitive(child) && (typeof child !== 'object' || !checkOf(child as object, depth + 1, sink)))
        return false;
    }
    return true;
  }
  if (proto === Date.prototype) return sink === null || !Object.isFrozen(v);
  if (proto === kBufferProto && proto !== null) {
    const buffer = (v as Uint8Array).buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return false;
    if (sink !== null) (sink.buffers ??= []).push(v as Uint8Array);
    return true;
  }
  return false;
}

/** True when `array`'s own keys are exactly '0'..'length-1': no hole, no extra property. */
function dense(array: unknown[], length: number): boolean {
  if (length === 0) return Object.keys(array).length === 0;
  const keys = Object.keys(array);
  return keys.length === length && keys[length - 1] === String(length - 1);
}
