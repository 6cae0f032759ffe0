/**
 * The topology dict: what users write to declare a graph, and its normalised form after
 * validation (see `validate.ts`).
 */

/** One node of the topology dict. A node with neither `next` nor `routes` is a terminal. */
export interface NodeSpec {
  /** Accumulator (source) names this node reads from the input cache, in argument order. */
  readonly inputs?: readonly string[];
  /** Linear edge(s): the node's output goes to every target (fan-out for an array). */
  readonly next?: string | readonly string[];
  /** Conditional routing: the node returns `[variant, value]` and `value` goes to that variant's target(s). */
  readonly routes?: Readonly<Record<string, string | readonly string[]>>;
  /** Per-node time limit in milliseconds; the run fails with a `NodeTimeoutError` past it. */
  readonly timeoutMs?: number;
}

/** Node name to spec, in the order that decides fan-in argument order. */
export type Topology = Readonly<Record<string, NodeSpec>>;

/** A node function: called with the cache inputs, then one argument per in-edge. */
// `any` here is deliberate: node functions declare their own parameter and return types.
export type NodeFunction = (...args: any[]) => unknown;

/** A validated node: every field present, targets as arrays, in topology order. */
export interface NormalizedNode {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly next: readonly string[];
  /** `null` for a non-routing node; otherwise `[variant, targets]` in declaration order. */
  readonly routes: ReadonlyArray<readonly [variant: string, targets: readonly string[]]> | null;
  readonly timeoutMs: number | undefined;
}
