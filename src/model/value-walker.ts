/**
 * The walk behind every value check and copy: one iterative depth-first pass over a value with an
 * explicit stack (never recursion, so no value can overflow it), reading every property inside one
 * try/catch (so a getter's error becomes a fault, not an escape). Checking and copying share it;
 * the sink collects what a thread crossing loses.
 */
import { errorCopy, errorLabels, errorShape, errorTypeOf } from './error-shape.js';
import { defineHidden, isPrimitive, keySegment, ownData, setOwn, shareable } from './own-properties.js';
import { ValueFault } from './value-fault.js';
import {
  ARRAY,
  ARRAY_BUFFER,
  BOXED,
  BUFFER,
  DATE,
  ERROR,
  MAP,
  PLAIN,
  REGEXP,
  SET,
  VIEW,
  copyArrayBuffer,
  getTime,
  isDetached,
  kBufferCtor,
  kKindOf,
  kValueOf,
  isProxy,
  kViewCtorOf,
  refusal,
  regExpFlags,
  regExpSource,
} from './value-kinds.js';
import type { ValueSink } from './value-sink.js';

/** Containers nested deeper than this are refused (`valueType: 'too deep'`). */
export const kMaxDepth = 1000;

/** Returned by `visit` when it pushed a frame instead of producing a result. */
const kPushed = Symbol('pushed');
/** Memo entry of a frozen container not copied (yet): it may turn out shareable as it is. */
const kLazy = Symbol('lazy');
/** Deeply frozen plain data proven shareable: handed over as it is, without another walk. */
const kShareable = new WeakSet<object>();
const kIndex = /^(?:0|[1-9]\d*)$/;

let idle: Walker | null = null;

/** Runs one walk on the idle walker, or on a fresh one if it is in use (a getter that checks a value). */
export function walk(
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
    if (isProxy(v)) return new ValueFault(this.#path(), 'Proxy', 'is a Proxy');
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
    return keySegment(label);
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
