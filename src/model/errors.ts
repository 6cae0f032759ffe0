/**
 * Error classes thrown or rejected by cloaca. Every class carries the offending names as
 * properties (`graph`, `node`, `nodes`, ...) so callers can branch on them without parsing
 * messages.
 *
 * `instanceof` works across duplicate copies of the package (a node module that resolves its own
 * copy of cloaca, a bundled copy): each class checks a brand registered with `Symbol.for`, the
 * way Piscina 5 brands its errors.
 */

const kBrand = Symbol.for('cloaca.error.brand');

/** Base class of every error cloaca creates. */
export class CloacaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    Object.defineProperty(this, kBrand, { value: new.target.name, enumerable: false });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // An instance made by another copy of the package carries the brand of its class name.
    const brand = (value as Record<symbol, unknown>)[kBrand];
    return typeof brand === 'string' && (this.name === 'CloacaError' || brand === this.name);
  }
}

/**
 * A graph declaration that cannot be built: bad topology, a missing node function, a cycle, a
 * bad reactor declaration, or a node module that fails to import (then `cause` is the import
 * error).
 */
export class TopologyError extends CloacaError {
  /** The graph being built (or the reactor being declared). */
  readonly graph: string;
  /** The nodes at fault, in topology order; empty when the fault is graph-wide. */
  readonly nodes: readonly string[];

  constructor(graph: string, nodes: readonly string[], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.graph = graph;
    this.nodes = nodes;
  }
}

/**
 * One graph run failed. `node` names the node at fault; `cause` is what went wrong there: the
 * error the node threw (with its `name`, `message`, `stack` and own properties), a
 * {@link NodeTimeoutError}, a {@link WorkerExitError}, an {@link UncloneableValueError} or a
 * {@link RoutingError}.
 */
export class GraphExecutionError extends CloacaError {
  readonly graph: string;
  readonly node: string;

  constructor(graph: string, node: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.graph = graph;
    this.node = node;
  }
}

/** A node ran past its `timeoutMs`. The worker that ran it was terminated and replaced. */
export class NodeTimeoutError extends CloacaError {
  readonly node: string;
  readonly timeoutMs: number;

  constructor(node: string, timeoutMs: number) {
    super(`node '${node}' did not finish within ${timeoutMs} ms`);
    this.node = node;
    this.timeoutMs = timeoutMs;
  }
}

/** The worker thread running a node died (process.exit, out of memory); the pool replaced it. */
export class WorkerExitError extends CloacaError {
  readonly node: string;

  constructor(node: string, detail: string, options?: { cause?: unknown }) {
    super(`the worker running node '${node}' died: ${detail}`, options);
    this.node = node;
  }
}

/** A node returned a value that cannot cross a thread boundary (a function, a symbol, ...). */
export class UncloneableValueError extends CloacaError {
  readonly node: string;
  /** Where in the returned value the culprit sits, e.g. `value.handler` or `value[2]`. */
  readonly path: string;
  /** What the culprit is: `function`, `symbol`, `Promise`, `WeakMap`, ... */
  readonly valueType: string;

  constructor(node: string, path: string, valueType: string) {
    super(`node '${node}' returned a value that cannot be cloned: ${path} is a ${valueType}`);
    this.node = node;
    this.path = path;
    this.valueType = valueType;
  }
}

/** A routing node returned something other than `[variant, value]` with a known variant. */
export class RoutingError extends CloacaError {
  readonly node: string;
  /** The variants the node's `routes` declare. */
  readonly variants: readonly string[];
  /** What the node returned (its variant, or a description of the bad shape). */
  readonly received: string;

  constructor(node: string, variants: readonly string[], received: string, detail: string) {
    super(`routing node '${node}' ${detail} (routes: ${variants.map((v) => `'${v}'`).join(', ')})`);
    this.node = node;
    this.variants = variants;
    this.received = received;
  }
}

/** Work was submitted to a graph or executor after `close()`. */
export class ExecutorClosedError extends CloacaError {
  readonly graph: string;

  constructor(graph: string) {
    super(`graph '${graph}' is closed`);
    this.graph = graph;
  }
}

/** A runtime component was declared with a bad option (a malformed duration, a bad capacity...). */
export class ConfigurationError extends CloacaError {
  /** The component (accumulator, reactor, runtime option) at fault. */
  readonly component: string;
  /** The received value, as it was given. */
  readonly value: unknown;

  constructor(component: string, value: unknown, message: string) {
    super(message);
    this.component = component;
    this.value = value;
  }
}

/**
 * The runtime's registry refused something: an unknown accumulator or reactor name, two
 * components under one name, a graph whose reactor is not registered, a reactor whose
 * accumulators are not registered.
 */
export class RegistrationError extends CloacaError {
  /** The name at fault. */
  readonly component: string;

  constructor(component: string, message: string) {
    super(message);
    this.component = component;
  }
}

/** An accumulator's `process`/`poll` threw, or its stream backend failed; the event was dropped. */
export class AccumulatorError extends CloacaError {
  readonly accumulator: string;
  /** The event being processed when it failed, if any. */
  readonly event: unknown;

  constructor(accumulator: string, message: string, event: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.accumulator = accumulator;
    this.event = event;
  }
}
