/**
 * The types a typed graph carries: what `execute()` takes and what its `outputs` hold, computed
 * from the node functions' signatures and the topology dict's literal type. Types only; nothing
 * here exists at run time.
 *
 * - Outputs: each terminal (a node with neither `next` nor `routes`) maps to its function's
 *   awaited return type. A terminal that runs whenever the run succeeds (a root, or fed through
 *   `next` by a node that always runs) is a required key; one behind a routing edge may be
 *   skipped, so its key is optional.
 * - Input of a graph whose nodes declare `inputs` (a reactor-bound graph): the input cache, one key
 *   per source, typed by the parameter that receives it (the intersection when several entry
 *   nodes read one source); a key is optional when its parameter accepts `undefined`.
 * - Input of a trigger-less graph: the context every root receives, the intersection of the
 *   roots' first parameters.
 *
 * When either side is not known precisely (nodes given as a plain path, a topology typed as the
 * wide `Topology`), the graph falls back to `unknown` inputs and `Record<string, unknown>` outputs.
 */
import type { NodeFunction, Topology } from './topology.js';

/** The node functions of `M`: an object of functions, or a module namespace (named function exports win over a default export object's functions). */
export type NodeFunctionsOf<M> = Simplify<
  FunctionsIn<
    M extends { readonly default: infer D } ? Omit<FunctionsIn<D>, keyof FunctionsIn<Omit<M, 'default'>>> : unknown
  > &
    FunctionsIn<Omit<M, 'default'>>
>;

/** The input `execute()` takes for node functions `M` and topology `G`. */
export type GraphInput<M, G extends Topology> =
  IsWide<G> extends true
    ? unknown
    : Untyped<M> extends true
      ? unknown
      : [EntryNames<G>] extends [never]
        ? RootContext<NodeFunctionsOf<M>, G>
        : InputCache<NodeFunctionsOf<M>, G>;

/** The `outputs` of a successful run for node functions `M` and topology `G`. */
export type GraphOutputs<M, G extends Topology> =
  Untyped<M> extends true
    ? Record<string, unknown>
    : IsWide<G> extends true
      ? { readonly [K in keyof NodeFunctionsOf<M>]?: ReturnOf<NodeFunctionsOf<M>, K> }
      : Simplify<
          { readonly [K in SureTerminals<G>]: ReturnOf<NodeFunctionsOf<M>, K> } & {
            readonly [K in Exclude<Terminals<G>, SureTerminals<G>>]?: ReturnOf<NodeFunctionsOf<M>, K>;
          }
        >;

/**
 * `execute()`'s parameters for input type `In`: the input may be left out when `undefined` fits
 * it, or an empty object does (an input cache whose sources are all optional).
 */
export type ExecuteArgs<In, Options> = undefined extends In
  ? [input?: In, options?: Options]
  : Record<string, never> extends In
    ? [input?: In, options?: Options]
    : [input: In, options?: Options];

// ---- helpers ----

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type FunctionsIn<T> = { readonly [K in keyof T as T[K] extends NodeFunction ? K & string : never]: T[K] };

/** True for a record type with a string index (a type that names no node in particular). */
type IsWide<T> = string extends keyof T ? true : false;
/**
 * True when the node functions' types are not known: not given, a plain record of functions, or
 * a module path without its type (inferred as the path's own type).
 */
type Untyped<M> = unknown extends M ? true : [M] extends [string | URL] ? true : IsWide<NodeFunctionsOf<M>>;

type ReturnOf<F, K> = K extends keyof F ? (F[K] extends (...args: never[]) => infer R ? Awaited<R> : unknown) : unknown;

type Targets<S> = S extends string ? S : S extends readonly (infer E)[] ? E & string : never;

/** Nodes that `spec` sends its output to through `next`. */
type NextOf<S> = S extends { readonly next: infer T } ? Targets<T> : never;
/** Nodes that `spec` routes to. */
type RoutesOf<S> = S extends { readonly routes: infer R } ? { [V in keyof R]: Targets<R[V]> }[keyof R] : never;

type Names<G> = keyof G & string;
type Terminals<G> = {
  [K in Names<G>]: G[K] extends { readonly next: unknown } | { readonly routes: unknown } ? never : K;
}[Names<G>];
type Roots<G> = Exclude<Names<G>, { [K in Names<G>]: NextOf<G[K]> | RoutesOf<G[K]> }[Names<G>]>;
/** The nodes that feed `K` through `next`. */
type FedByNext<G, K> = { [P in Names<G>]: K extends NextOf<G[P]> ? P : never }[Names<G>];

/**
 * Whether node `K` runs in every successful run: a root does, and so does a node fed through
 * `next` by a node that does. Deeper than 24 levels counts as "may be skipped" (an optional key).
 */
type Runs<G, K, Depth extends readonly unknown[] = []> = Depth['length'] extends 24
  ? false
  : K extends Roots<G>
    ? true
    : true extends (FedByNext<G, K> extends infer P ? (P extends Names<G> ? Runs<G, P, [...Depth, 0]> : never) : never)
      ? true
      : false;
type SureTerminals<G> = { [K in Terminals<G>]: Runs<G, K> extends true ? K : never }[Terminals<G>];

type EntryNames<G> = {
  [K in Names<G>]: G[K] extends { readonly inputs: readonly [unknown, ...unknown[]] } ? K : never;
}[Names<G>];

type Params<F, K> = K extends keyof F ? (F[K] extends (...args: infer P) => unknown ? P : unknown[]) : unknown[];

/** Source name -> the type of the parameter it fills, for one entry node. */
type EntrySources<I extends readonly string[], P extends readonly unknown[]> = {
  [J in keyof I & `${number}` as I[J]]: J extends keyof P ? P[J] : unknown;
};
type CacheOf<F, G> = UnionToIntersection<
  {
    [K in EntryNames<G>]: G[K] extends { readonly inputs: infer I extends readonly string[] }
      ? EntrySources<I, Params<F, K>>
      : never;
  }[EntryNames<G>]
>;
type OptionalKeys<T> = { [K in keyof T]: undefined extends T[K] ? K : never }[keyof T];
type InputCache<F, G> =
  CacheOf<F, G> extends infer C
    ? Simplify<{ readonly [K in Exclude<keyof C, OptionalKeys<C>>]: C[K] } & { readonly [K in OptionalKeys<C>]?: C[K] }>
    : never;

type FirstParam<F, K> = Params<F, K> extends readonly [] ? unknown : Params<F, K>[0];
type RootContext<F, G> =
  UnionToIntersection<{ [K in Roots<G>]: { readonly context: FirstParam<F, K> } }[Roots<G>]> extends {
    readonly context: infer C;
  }
    ? C
    : unknown;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
