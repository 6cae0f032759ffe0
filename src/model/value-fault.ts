/**
 * Why a value cannot cross a node boundary: the path from its root and what sits there. Every
 * value check reports one of these; the caller turns it into the error for its source.
 */
import { UncloneableValueError, type ValueSource } from './errors.js';

/** Why a value cannot cross a node boundary, and where in it. */
export class ValueFault {
  /** From the value's root, e.g. `value.handler`, `inputs.alpha.cb`, `event<map value #0>`. */
  readonly path: string;
  /** `function`, `symbol`, `Promise`, `Proxy`, a class name, `throwing getter`, `too deep`, ... */
  readonly valueType: string;
  /** How the message says it, e.g. `is a function`. */
  readonly detail: string;
  /** A getter's error. */
  readonly cause: unknown;

  constructor(path: string, valueType: string, detail: string, cause?: unknown) {
    this.path = path;
    this.valueType = valueType;
    this.detail = detail;
    this.cause = cause;
  }

  /** The error to report for a value from `source`. */
  toError(source: ValueSource): UncloneableValueError {
    return new UncloneableValueError(
      source,
      this.path,
      this.valueType,
      this.detail,
      this.cause === undefined ? undefined : { cause: this.cause },
    );
  }
}

/** The fault for a function or a symbol at `root`. */
export function primitiveFault(type: string, root: string): ValueFault {
  return new ValueFault(root, type, `is a ${type}`);
}
