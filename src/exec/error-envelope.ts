/**
 * Errors as plain data, so a node's error keeps its `name`, `message`, `stack`, `cause` and own
 * properties across a thread boundary. Structured clone alone keeps only some of these: a custom
 * class arrives as a plain `Error` named `Error`, and own properties such as `code` are lost.
 */
import { cloacaErrorClass } from '../model/errors.js';
import { inspectValue } from '../model/values.js';

/** What crosses the boundary for a thrown value. */
export type ErrorEnvelope =
  | {
      readonly kind: 'error';
      readonly name: string;
      readonly message: string;
      readonly stack: string | undefined;
      readonly props: Record<string, unknown>;
      readonly cause?: ErrorEnvelope;
    }
  | { readonly kind: 'value'; readonly value: unknown };

const kOwnErrorKeys = new Set(['name', 'message', 'stack', 'cause']);

/** Turns anything thrown into an {@link ErrorEnvelope}; values that cannot be cloned become strings. */
export function toErrorEnvelope(thrown: unknown, depth = 0): ErrorEnvelope {
  if (!(thrown instanceof Error)) {
    return { kind: 'value', value: inspectValue(thrown) === null ? thrown : String(thrown) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (kOwnErrorKeys.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    props[key] = inspectValue(value) === null ? value : String(value);
  }
  const envelope = {
    kind: 'error' as const,
    name: thrown.name,
    message: thrown.message,
    stack: thrown.stack,
    props,
  };
  // Bounded: a cause chain that loops back on itself must not recurse forever.
  return thrown.cause !== undefined && depth < 8
    ? { ...envelope, cause: toErrorEnvelope(thrown.cause, depth + 1) }
    : envelope;
}

const kBuiltins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * Rebuilds the thrown value: an Error of the built-in class when the name is one; a cloaca
 * error (a node's `host.push` refused in a worker...) as an instance of its class; else `Error`
 * with that name.
 */
export function fromErrorEnvelope(envelope: ErrorEnvelope): unknown {
  if (envelope.kind === 'value') return envelope.value;
  const own = cloacaErrorClass(envelope.name);
  if (own !== undefined && envelope.props.code === own.code) {
    const error = Object.create(own.prototype) as Error;
    Object.defineProperty(error, 'message', { value: envelope.message, writable: true, configurable: true });
    Object.defineProperty(error, 'stack', { value: envelope.stack, writable: true, configurable: true });
    if (envelope.cause !== undefined) {
      Object.defineProperty(error, 'cause', {
        value: fromErrorEnvelope(envelope.cause),
        writable: true,
        configurable: true,
      });
    }
    return Object.assign(error, envelope.props, { name: envelope.name });
  }
  const Ctor = kBuiltins[envelope.name] ?? Error;
  const error =
    envelope.cause === undefined
      ? new Ctor(envelope.message)
      : new Ctor(envelope.message, { cause: fromErrorEnvelope(envelope.cause) });
  if (error.name !== envelope.name) {
    Object.defineProperty(error, 'name', {
      value: envelope.name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (envelope.stack !== undefined) error.stack = envelope.stack;
  Object.assign(error, envelope.props);
  return error;
}
