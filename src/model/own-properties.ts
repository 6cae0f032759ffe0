/**
 * Own-property helpers shared by the value rules and the executors: reading a data property the
 * way V8's serializer does, writing one without triggering a setter or the `__proto__` setter,
 * and the classification of primitives and thenables.
 */

const kIdentifier = /^[A-Za-z_$][\w$]*$/;

/** An own data property's value, or undefined when there is none (what V8's serializer reads). */
export function ownData(object: object, key: string): { value: unknown } | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor !== undefined && 'value' in descriptor ? (descriptor as { value: unknown }) : undefined;
}

/** Defines a writable, non-enumerable own property (as `name`, `stack` and `errors` are on an error). */
export function defineHidden(target: object, key: string, value: unknown): void {
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

/** True for a value that is its own copy: neither an object, nor a function, nor a symbol. */
export function isPrimitive(value: unknown): boolean {
  const type = typeof value;
  return type === 'object' ? value === null : type !== 'function' && type !== 'symbol';
}

/** True for a promise or any object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** How a property key reads in a path: `.name`, or `["odd name"]`. */
export function keySegment(key: string): string {
  return kIdentifier.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * True when a frozen plain object or array can be handed over as it is: it has no own property a
 * copy would lose (a symbol key, a non-enumerable one) or read differently (an accessor). Its
 * children were already found shareable. Checked once per object (the result is remembered).
 */
export function shareable(object: object, array: boolean): boolean {
  const descriptors = Object.getOwnPropertyDescriptors(object) as Record<string | symbol, PropertyDescriptor>;
  for (const key of Reflect.ownKeys(descriptors)) {
    if (typeof key === 'symbol') return false;
    const descriptor = descriptors[key]!;
    if (!('value' in descriptor)) return false;
    if (!descriptor.enumerable && !(array && key === 'length')) return false;
  }
  return true;
}
