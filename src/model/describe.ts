/**
 * Renders a received value for a validation message, the way p-queue prints what it got:
 * strings quoted, functions by name, objects by tag, the rest with their type.
 */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array [${value.map(describe).join(', ')}]`;
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  return `${String(value)} (${typeof value})`;
}
