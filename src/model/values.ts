/**
 * The value rules: a value behaves as if it were structured-cloned at every node
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
 *   `kMaxDepth` levels (V8's serializer recurses and overflows the stack near 2,000).
 *
 * Plain data (objects, dense arrays, `Date`s, `Buffer`s, a few levels deep) takes the fast paths
 * of `value-fast.ts`; anything else, and every refusal, the general walk of `value-walker.ts`.
 * In a thread, {@link copyValue} makes that copy in one iterative walk. Across threads the
 * sender calls {@link inspectValue} (the same walk without copying) to refuse early and to note
 * what structured clone will lose ({@link ValueExtras}); the receiver calls {@link restoreValue}.
 * Both walks use an explicit stack, never recursion, and read every property inside one
 * try/catch, so no value can overflow the stack or let a getter's error escape.
 *
 * The model imports no Node built-in: whether an object is a Proxy is asked through
 * `installValueProbes` (value-kinds.ts), which the executors' layer calls with `node:util`'s `types`.
 */
import { fixError } from './error-shape.js';
import { isPrimitive, keySegment } from './own-properties.js';
import { fastCheck, fastCopy, kSlow } from './value-fast.js';
import { primitiveFault, ValueFault } from './value-fault.js';
import { kBufferProto } from './value-kinds.js';
import type { ValueExtras, ValueSink } from './value-sink.js';
import { walk } from './value-walker.js';

/**
 * Checks `value` as it would cross a thread. Returns the first fault, or null. With a `sink`,
 * also collects what structured clone will lose and the buffers marked to move.
 */
export function inspectValue(value: unknown, root = 'value', sink: ValueSink | null = null): ValueFault | null {
  if (isPrimitive(value)) return null;
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return primitiveFault(type, root);
  if (fastCheck(value as object, sink)) return null;
  const result = walk(value as object, root, false, sink, null);
  return result instanceof ValueFault ? result : null;
}

/**
 * {@link inspectValue} over the parts of one message (a batch's values): what clone loses of
 * each is noted in the one `sink`. Each part is checked on its own, so plain data takes the fast
 * path however many parts there are (the fast path leaves a value of many objects to the walker).
 * With buffers marked to move, the parts are walked together, in one walk. Holes are skipped.
 * Returns the first fault, or null.
 */
export function inspectParts(parts: readonly unknown[], root: string, sink: ValueSink): ValueFault | null {
  if (sink.marked !== null) return inspectValue(parts, root, sink);
  for (let k = 0; k < parts.length; k++) {
    const fault = inspectValue(parts[k], root, sink);
    if (fault !== null) return fault;
  }
  return null;
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
  if (moved === null) {
    const copy = fastCopy(value as object);
    if (copy !== kSlow) return copy;
  }
  return walk(value as object, root, true, null, moved);
}

/**
 * Checks an event before an accumulator accepts it (`runtime.push`, a node's `host.push` on the
 * main thread) and returns the copy another thread would receive, so the caller keeps nothing
 * the accumulator holds. Throws an {@link UncloneableValueError} naming the accumulator and the
 * path (`event.cb is a function`) when it could not cross a node boundary. Plain data costs one
 * pass (the fast path), a primitive nothing.
 *
 * @example
 * copyEvent('alpha', { cb() {} }); // throws: accumulator 'alpha': ... event.cb is a function
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
/** The path root of a cache input: `inputs.alpha`, or `inputs["odd name"]`. */
export function inputRoot(source: string): string {
  return `inputs${keySegment(source)}`;
}
