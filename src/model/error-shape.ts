/**
 * The shape of an `Error` value: its nearest built-in class and what structured clone loses of it
 * (a custom `name`, its own properties, an `AggregateError`'s `errors`), how to read that shape off
 * an error, and how to make an error (a copy, or a received clone) what its shape says.
 */
import { defineHidden, ownData, setOwn } from './own-properties.js';

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

/** The built-in error class of each name. */
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
/** Each built-in error prototype to its class name. */
export const kErrorTypeOf = new Map<object, ErrorType>(
  Object.entries(kErrorCtors).map(([type, C]) => [C.prototype as object, type as ErrorType]),
);

/** The nearest built-in error class in `error`'s prototype chain. */
export function errorTypeOf(error: object): ErrorType {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const type = kErrorTypeOf.get(proto);
    if (type !== undefined) return type;
  }
  return 'Error';
}

/** Makes a received (or copied) error what its shape says. */
export function fixError(error: Error, shape: ErrorShape): void {
  const proto = kErrorCtors[shape.type].prototype;
  if (Object.getPrototypeOf(error) !== proto) Object.setPrototypeOf(error, proto);
  if (shape.name !== undefined) defineHidden(error, 'name', shape.name);
  for (const key of Object.keys(shape.props))
    setOwn(error as unknown as Record<string, unknown>, key, shape.props[key]);
  if (shape.errors !== undefined) defineHidden(error, 'errors', shape.errors);
}

/** The error's children after its message and stack: `cause`, `errors`, then own enumerable keys. */
export function errorLabels(error: Error, type: ErrorType): { labels: string[]; native: number } {
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
export function errorShape(error: Error, type: ErrorType, labels: readonly string[]): ErrorShape {
  const name = String(error.name);
  const ownName = labels.includes('name');
  return !ownName && name !== type ? { type, name, props: {} } : { type, props: {} };
}

/** A new error of `error`'s built-in class with its message, stack and name (no cause, no props). */
export function errorCopy(error: Error, shape: ErrorShape): Error {
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
