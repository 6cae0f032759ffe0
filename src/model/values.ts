/**
 * One walk over a node's return value that answers two questions before it crosses a thread
 * boundary: is there anything structured clone would refuse (a function, a symbol, a Promise, a
 * WeakMap...), and which buffers did the node mark with `move()`?
 *
 * Refusing in the node's own code path is what keeps a worker alive: a DataCloneError thrown
 * inside Piscina's `postMessage` kills the worker and rejects the task with `{}`. Walking is
 * cheaper than a trial `structuredClone` (primitives return at once; nothing is copied).
 */

/** Where the first uncloneable value sits and what it is. */
export interface Uncloneable {
  /** A path from the returned value, e.g. `value.handlers[2]`. */
  readonly path: string;
  /** `function`, `symbol`, `Promise`, `WeakMap`, ... */
  readonly type: string;
}

const kRefused = new Set([
  'Promise',
  'WeakMap',
  'WeakSet',
  'WeakRef',
  'FinalizationRegistry',
  'Generator',
  'AsyncGenerator',
]);

/**
 * Returns the first part of `value` that cannot be structured-cloned, or null. When `marked` is
 * given, buffers found in it (or viewed by a typed array found in it) are added to `transfers`.
 */
export function findUncloneable(
  value: unknown,
  marked: WeakSet<object> | null = null,
  transfers: Set<ArrayBuffer> | null = null,
): Uncloneable | null {
  const type = typeof value;
  if (type !== 'object' && type !== 'function' && type !== 'symbol') return null;
  // Every node result passes here: reuse one visited set and one trail rather than allocating
  // them per call (nothing the walk calls leads back into this function).
  const trail = kTrail;
  trail.length = 0;
  let found: string | null;
  try {
    found = walk(value, kSeen, trail, marked, transfers);
  } finally {
    kSeen.clear();
  }
  if (found === null) return null;
  let path = 'value';
  for (let k = trail.length - 1; k >= 0; k--) {
    const key = trail[k]!;
    path +=
      typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return { path, type: found };
}

const kSeen = new Set<object>();
const kTrail: Array<string | number> = [];

/** Returns the culprit's type, pushing the path to it onto `trail` innermost first. */
function walk(
  v: unknown,
  seen: Set<object>,
  trail: Array<string | number>,
  marked: WeakSet<object> | null,
  transfers: Set<ArrayBuffer> | null,
): string | null {
  switch (typeof v) {
    case 'function':
      return 'function';
    case 'symbol':
      return 'symbol';
    case 'object':
      if (v === null) return null;
      break;
    default:
      return null;
  }
  if (seen.has(v)) return null; // cycles and shared references clone fine
  seen.add(v);
  if (v instanceof ArrayBuffer) {
    if (marked !== null && marked.has(v)) transfers!.add(v);
    return null;
  }
  if (ArrayBuffer.isView(v)) {
    if (marked !== null && (marked.has(v) || marked.has(v.buffer)) && v.buffer instanceof ArrayBuffer)
      transfers!.add(v.buffer);
    return null;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = walk(v[i], seen, trail, marked, transfers);
      if (found !== null) return (trail.push(i), found);
    }
    return null;
  }
  if (v instanceof Map) {
    let i = 0;
    for (const [key, item] of v) {
      const found = walk(key, seen, trail, marked, transfers) ?? walk(item, seen, trail, marked, transfers);
      if (found !== null) return (trail.push(`<map entry ${i}>`), found);
      i++;
    }
    return null;
  }
  if (v instanceof Set) {
    let i = 0;
    for (const item of v) {
      const found = walk(item, seen, trail, marked, transfers);
      if (found !== null) return (trail.push(`<set entry ${i}>`), found);
      i++;
    }
    return null;
  }
  if (v instanceof Date || v instanceof RegExp || v instanceof Error) return null;
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  if (kRefused.has(tag)) return tag;
  for (const key of Object.keys(v)) {
    const found = walk((v as Record<string, unknown>)[key], seen, trail, marked, transfers);
    if (found !== null) return (trail.push(key), found);
  }
  return null;
}

/** True for a promise or any object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
