/**
 * Error classes thrown or rejected by cloaca. Every class has a stable `code` (`CLOACA_ERR_...`,
 * listed in docs/errors.md) and carries the offending names as properties (`graph`, `node`,
 * `nodes`, ...), so callers can branch on them without parsing messages.
 *
 * `instanceof` works across duplicate copies of the package (a node module that resolves its own
 * copy of cloaca, a bundled copy): each class checks a brand registered with `Symbol.for`, the
 * way Piscina 5 brands its errors.
 */

const kBrand = Symbol.for('cloaca.error.brand');

/** Base class of every error cloaca creates. */
export class CloacaError extends Error {
  /** The code every instance of this class carries. */
  static readonly code: string = 'CLOACA_ERR_UNKNOWN';
  /** A stable, machine-readable code such as `CLOACA_ERR_TOPOLOGY`; it never changes between versions. */
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof CloacaError).code;
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
  static override readonly code = 'CLOACA_ERR_TOPOLOGY';
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
 * {@link RoutingError}. From `graph.map()`, `index` is the position of the failing input in the
 * source.
 */
export class GraphExecutionError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_GRAPH_EXECUTION';
  readonly graph: string;
  readonly node: string;
  /**
   * In an error that ended `graph.map()`: the position (0-based) in the source of the input
   * whose run failed. Absent on errors of `graph.execute()` and of reactor firings.
   */
  declare readonly index?: number;

  constructor(graph: string, node: string, message: string, options?: { cause?: unknown; index?: number }) {
    super(message, options);
    this.graph = graph;
    this.node = node;
    // Only set when known, so errors of execute() and firings keep the properties they had.
    if (options?.index !== undefined) this.index = options.index;
  }
}

/** A node ran past its `timeoutMs`. The worker that ran it was terminated and replaced. */
export class NodeTimeoutError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_NODE_TIMEOUT';
  readonly node: string;
  readonly timeoutMs: number;

  constructor(node: string, timeoutMs: number) {
    super(`node '${node}' did not finish within ${timeoutMs} ms`);
    this.node = node;
    this.timeoutMs = timeoutMs;
  }
}

/** The node whose run caused a worker to be replaced. */
export interface Culprit {
  readonly graph: string;
  readonly node: string;
}

/**
 * The worker thread running a node died (process.exit, out of memory) or was replaced because a
 * node ran past its time limit; the pool replaced it. `node` is the node of this run that was on
 * the worker; `culprit` is the node that caused the replacement (`node` itself when this run's own
 * node did it), or null when no node can be blamed (a worker that died between node calls).
 */
export class WorkerExitError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_WORKER_EXIT';
  readonly node: string;
  readonly culprit: Culprit | null;

  constructor(node: string, detail: string, options?: { cause?: unknown; culprit?: Culprit | null }) {
    const culprit = options?.culprit ?? null;
    super(
      culprit === null || culprit.node === node
        ? `the worker running node '${node}' died: ${detail}`
        : `the worker running node '${node}' was replaced because of node '${culprit.node}' of graph '${culprit.graph}': ${detail}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.node = node;
    this.culprit = culprit;
  }
}

/**
 * Where a value that cannot cross a node boundary came from: a node's result or argument
 * (`node`, with its `graph` when known), an `execute()` input (`graph`), or an event pushed to
 * an accumulator (`accumulator`).
 */
export type ValueSource =
  | { readonly node: string; readonly graph?: string; readonly argument?: boolean }
  | { readonly graph: string; readonly node?: undefined }
  | {
      readonly accumulator: string;
      /** Which of its values it was, as the message says it (default `the pushed event`). */
      readonly what?: string;
    };

/**
 * A value cannot cross a node boundary: it holds a function, a symbol, a Promise, a class
 * instance, a Proxy, a getter that throws, or it is nested too deep. `path` locates the culprit
 * from the value's root: `value.handler` (a node's result), `inputs.alpha.cb` (an `execute()`
 * input or a node's cache input), `event.cb` (a pushed event). Exactly one of `node`, `graph`
 * (without `node`) and `accumulator` says where the value came from; a getter's error is `cause`.
 */
export class UncloneableValueError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_UNCLONEABLE_VALUE';
  /** The node that returned (or was to receive) the value. */
  readonly node: string | undefined;
  /** The graph, for an `execute()` input (and for a node's value when known). */
  readonly graph: string | undefined;
  /**
   * The accumulator the value was pushed to, given to (`fireWith`), or made for (a `process` or
   * `poll` result, a received message).
   */
  readonly accumulator: string | undefined;
  /** Where in the value the culprit sits, e.g. `value.handler`, `inputs.alpha.cb`, `event.cb`. */
  readonly path: string;
  /** What the culprit is: `function`, `symbol`, `Promise`, a class name, `throwing getter`, `too deep`, ... */
  readonly valueType: string;

  constructor(source: ValueSource, path: string, valueType: string, detail: string, options?: { cause?: unknown }) {
    super(`${subjectOf(source)} cannot be cloned: ${path} ${detail}`, options);
    const from = source as { node?: string; graph?: string; accumulator?: string };
    this.node = from.node;
    this.graph = from.graph;
    this.accumulator = from.accumulator;
    this.path = path;
    this.valueType = valueType;
  }
}

function subjectOf(source: ValueSource): string {
  if ('accumulator' in source) return `accumulator '${source.accumulator}': ${source.what ?? 'the pushed event'}`;
  if (source.node === undefined) return `graph '${source.graph}': the execute() input`;
  const graph = source.graph === undefined ? '' : `graph '${source.graph}': `;
  return `${graph}node '${source.node}' ${source.argument === true ? 'was given a value that' : 'returned a value that'}`;
}

/** A routing node returned something other than `[variant, value]` with a known variant. */
export class RoutingError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_ROUTING';
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
  static override readonly code = 'CLOACA_ERR_CLOSED';
  readonly graph: string;

  constructor(graph: string) {
    super(`graph '${graph}' is closed`);
    this.graph = graph;
  }
}

/** A runtime component was declared with a bad option (a malformed duration, a bad capacity...). */
export class ConfigurationError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_CONFIGURATION';
  /** The component (accumulator, reactor, runtime option) at fault. */
  readonly component: string;
  /** The received value, as it was given. */
  readonly value: unknown;

  constructor(component: string, value: unknown, message: string, options?: { cause?: unknown }) {
    super(message, options);
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
  static override readonly code = 'CLOACA_ERR_REGISTRATION';
  /** The name at fault. */
  readonly component: string;

  constructor(component: string, message: string) {
    super(message);
    this.component = component;
  }
}

/** An accumulator's `process`/`poll` threw, or its stream backend failed; the event was dropped. */
export class AccumulatorError extends CloacaError {
  static override readonly code: string = 'CLOACA_ERR_ACCUMULATOR';
  readonly accumulator: string;
  /** The event being processed when it failed, if any. */
  readonly event: unknown;

  constructor(accumulator: string, message: string, event: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.accumulator = accumulator;
    this.event = event;
  }
}

/**
 * A stream entry that cannot be delivered (a Redis entry whose `data` field is not JSON): it was
 * reported, copied to the dead-letter stream and acknowledged; the consumer goes on.
 */
export class StreamEntryError extends AccumulatorError {
  static override readonly code = 'CLOACA_ERR_STREAM_ENTRY';
  /** The stream the entry was read from. */
  readonly stream: string;
  /** The entry's id. */
  readonly entry: string;

  constructor(
    accumulator: string,
    stream: string,
    entry: string,
    message: string,
    event: unknown,
    options?: { cause?: unknown },
  ) {
    super(accumulator, message, event, options);
    this.stream = stream;
    this.entry = entry;
  }
}

/**
 * A call made in the wrong lifecycle state: `push` before `start()` or after `shutdown()`,
 * `register` after `start()`, `start()` after `shutdown()`, `host.push` outside a runtime.
 */
export class StateError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_STATE';
  /** The component whose state refused the call (a runtime, an accumulator, `host`). */
  readonly component: string;
  /** The state it was in. */
  readonly state: string;

  constructor(component: string, state: string, message: string) {
    super(message);
    this.component = component;
    this.state = state;
  }
}

/** A function was called with an argument of the wrong shape; `value` is what it received. */
export class InvalidArgumentError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_INVALID_ARGUMENT';
  /** The argument at fault, e.g. `fireWith(cache)`. */
  readonly argument: string;
  readonly value: unknown;

  constructor(argument: string, value: unknown, message: string) {
    super(message);
    this.argument = argument;
    this.value = value;
  }
}

/**
 * A checkpoint file cannot be used: it is owned by another runtime, it is corrupt or truncated,
 * it cannot be opened, a commit to it failed, or its saved state no longer matches what is
 * registered (then `components` names what was left in the file).
 */
export class CheckpointError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_CHECKPOINT';
  /** The checkpoint file, or the runtime `id` of a PostgreSQL checkpoint. */
  readonly path: string;
  /** The components whose saved state is at fault; empty when the fault is file-wide. */
  readonly components: readonly string[];

  constructor(path: string, components: readonly string[], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
    this.components = components;
  }
}

/** A `fire`, `health`, `drain` or `error` listener threw; reported, never let into the runtime. */
export class ListenerError extends CloacaError {
  static override readonly code = 'CLOACA_ERR_LISTENER';
  /** The event whose listener threw. */
  readonly event: string;

  constructor(event: string, options?: { cause?: unknown }) {
    const cause = options?.cause;
    super(`a '${event}' listener threw: ${cause instanceof Error ? cause.message : String(cause)}`, options);
    this.event = event;
  }
}

/**
 * A boundary of a keyed reactor whose key is missing or invalid (not a string or a finite number):
 * the event is refused, nothing else is affected.
 */
export class KeyError extends CloacaError {
  /** The code every KeyError carries. */
  static override readonly code = 'CLOACA_ERR_KEY';
  /** The keyed reactor. */
  readonly reactor: string;
  /** The accumulator the boundary came from. */
  readonly source: string;
  /** The value the key was read from. */
  readonly value: unknown;

  constructor(reactor: string, source: string, value: unknown, message: string) {
    super(message);
    this.reactor = reactor;
    this.source = source;
    this.value = value;
  }
}

const kClasses: ReadonlyMap<string, typeof CloacaError> = new Map(
  [
    CloacaError,
    TopologyError,
    GraphExecutionError,
    NodeTimeoutError,
    WorkerExitError,
    UncloneableValueError,
    RoutingError,
    ExecutorClosedError,
    ConfigurationError,
    RegistrationError,
    AccumulatorError,
    StreamEntryError,
    StateError,
    InvalidArgumentError,
    CheckpointError,
    ListenerError,
    KeyError,
  ].map((c) => [c.name, c as typeof CloacaError]),
);

/** The error class of that name, to rebuild an error that crossed a thread as the same class. */
export function cloacaErrorClass(name: string): typeof CloacaError | undefined {
  return kClasses.get(name);
}
