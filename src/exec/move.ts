/**
 * `move()`: marks an ArrayBuffer or typed array in a node's return value to be transferred to the
 * main thread instead of copied. Unlike Piscina's own `move`, it works at any position in the
 * returned value (`{ meta, samples: move(f64) }`), and it returns its argument unchanged, so a
 * node's return type stays what it is. In-thread (the inline executor, a fused chain) a marked
 * buffer is handed to the next node without a copy: the node gave it away.
 *
 * The marks live in a registry keyed by `Symbol.for`, so a node module that resolves another copy
 * of cloaca still marks values for the worker that runs it.
 */

import { InvalidArgumentError } from '../model/errors.js';

interface MoveRegistry {
  readonly marked: WeakSet<object>;
  /** Whether this thread ever called move(); until then the worker skips looking for marks. */
  used: boolean;
}

const kRegistry = Symbol.for('cloaca.move.registry');

/** The process-wide (per thread) registry of values marked with {@link move}. */
export function moveRegistry(): MoveRegistry {
  const holder = globalThis as unknown as Record<symbol, MoveRegistry | undefined>;
  return (holder[kRegistry] ??= { marked: new WeakSet(), used: false });
}

/**
 * Marks `value` (an ArrayBuffer or an ArrayBuffer view) to be moved, not copied, when it leaves a
 * worker. The value is detached in the worker afterwards. Returns `value`.
 *
 * @example
 * export function render(spec) {
 *   const pixels = new Float64Array(1 << 20);
 *   // ...
 *   return { width: 1024, pixels: move(pixels) };
 * }
 */
export function move<T extends ArrayBuffer | ArrayBufferView>(value: T): T {
  if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
    throw new InvalidArgumentError(
      'move(value)',
      value,
      `move() takes an ArrayBuffer or a typed array, got ${Object.prototype.toString.call(value)}`,
    );
  }
  const registry = moveRegistry();
  registry.marked.add(value);
  registry.used = true;
  return value;
}
