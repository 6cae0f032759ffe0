/** What the value tests compare: everything a reader can observe about a value. */

/** Everything observable about a value, as plain data; references and cycles by id. */
export function observe(value: unknown, ids = new Map<object, number>()): unknown {
  if (typeof value === 'bigint') return { bigint: String(value) };
  if (typeof value !== 'object' || value === null) return value === undefined ? { undefined: true } : value;
  const known = ids.get(value);
  if (known !== undefined) return { ref: known };
  const id = ids.size;
  ids.set(value, id);
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  const seen: Record<string, unknown> = {
    id,
    proto: proto === null ? null : (proto.constructor?.name ?? '?'),
    tag: Object.prototype.toString.call(value),
    frozen: Object.isFrozen(value),
    extensible: Object.isExtensible(value),
  };
  if (ArrayBuffer.isView(value)) {
    seen.view = {
      offset: value.byteOffset,
      length: value.byteLength,
      bytes: [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)],
      buffer: observe(value.buffer, ids),
    };
    return seen;
  }
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    seen.bytes = [...new Uint8Array(value)];
    seen.resizable = (value as ArrayBuffer & { resizable?: boolean }).resizable ?? false;
    return seen;
  }
  if (value instanceof Map) seen.entries = [...value].map(([k, v]) => [observe(k, ids), observe(v, ids)]);
  if (value instanceof Set) seen.items = [...value].map((v) => observe(v, ids));
  if (value instanceof Date) seen.time = value.getTime();
  if (value instanceof RegExp) seen.regexp = [value.source, value.flags, value.lastIndex];
  if (value instanceof Error) seen.error = [value.name, value.message];
  if (value instanceof Blob) seen.size = value.size;
  for (const box of [Number, String, Boolean, BigInt] as Array<{ prototype: { valueOf(): unknown } }>) {
    if (value instanceof (box as unknown as typeof Object)) seen.boxed = String(box.prototype.valueOf.call(value));
  }
  // A Blob's own symbol keys are Node's internals, in no fixed order.
  const keys = value instanceof Blob ? Object.getOwnPropertyNames(value) : Reflect.ownKeys(value);
  seen.props = keys.map((key) => {
    const d = Object.getOwnPropertyDescriptor(value, key)!;
    const flags = `${d.enumerable ? 'e' : ''}${d.writable ? 'w' : ''}${d.configurable ? 'c' : ''}`;
    return [String(key), flags, 'value' in d ? observe(d.value, ids) : 'accessor'];
  });
  return seen;
}
