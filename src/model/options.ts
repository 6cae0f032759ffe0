/**
 * Checks shared by every factory and class that takes options: each failure is a
 * {@link ConfigurationError} naming the owner (`Runtime`, `batch accumulator 'fills'`...), the
 * option and the value received, the way p-queue prints what it got.
 */
import { describe } from './describe.js';
import { ConfigurationError } from './errors.js';

/** Throws unless `value` is an options object (not null, not an array). */
export function requireOptionsObject(owner: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(owner, value, `${owner}: expected an options object, got ${describe(value)}`);
  }
}

/** Throws for a key of `options` that is not in `known`, listing the known ones. */
export function rejectUnknownKeys(owner: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ConfigurationError(
        owner,
        key,
        `${owner}: unknown option '${key}' (expected ${known.map((k) => `'${k}'`).join(', ')})`,
      );
    }
  }
}

/** Throws unless `value` is an integer >= 1. */
export function requirePositiveInteger(owner: string, option: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new ConfigurationError(
      owner,
      value,
      `${owner}: '${option}' must be a positive integer, got ${describe(value)}`,
    );
  }
  return value as number;
}

/** Throws unless `value` is an integer from `min` to `max`, both included. */
export function requireIntegerInRange(owner: string, option: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new ConfigurationError(
      owner,
      value,
      `${owner}: '${option}' must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value as number;
}

/** Throws unless `value` is a non-empty string. */
export function requireNonEmptyString(owner: string, option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(
      owner,
      value,
      `${owner}: '${option}' must be a non-empty string, got ${describe(value)}`,
    );
  }
  return value;
}

/** Throws unless `value` is a boolean, or undefined. */
export function optionalBoolean(owner: string, option: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new ConfigurationError(owner, value, `${owner}: '${option}' must be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** Throws unless `value` is a function, or undefined. */
export function optionalFunction<F>(owner: string, option: string, value: unknown): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new ConfigurationError(owner, value, `${owner}: '${option}' must be a function, got ${describe(value)}`);
  }
  return value as F | undefined;
}

/** Throws unless `value` is one of `allowed`. */
export function requireOneOf<T extends string>(
  owner: string,
  option: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T)) {
    throw new ConfigurationError(
      owner,
      value,
      `${owner}: unknown ${option} ${describe(value)}, expected ${allowed.map((a) => `'${a}'`).join(' or ')}`,
    );
  }
  return value as T;
}
