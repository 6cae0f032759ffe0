/**
 * `nodeModule<typeof import('./nodes.js')>(path)`: a node module path that carries the module's
 * type, so a graph built from it on the pool is typed like one built from an object of functions.
 * The path is unchanged at run time; the type rides on a property that never exists.
 */

declare const kNodeTypes: unique symbol;

/** A node module path (a string or file URL) typed with its module `M`. */
export type NodeModule<M> = (string | URL) & { readonly [kNodeTypes]?: M };

/**
 * Gives a node module path its module's type. Pass the result as a builder's `nodes`: the built
 * graph's `execute()` input and `outputs` are then typed from the module's functions.
 *
 * @example
 * const graph = await new ComputationGraphBuilder('market_maker', {
 *   reactor: MarketMakerReactor,
 *   nodes: nodeModule<typeof import('./market-maker.nodes.js')>(new URL('./market-maker.nodes.js', import.meta.url)),
 *   graph: { decision: { inputs: ['alpha', 'beta'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } }, signal_handler: {}, audit_logger: {} },
 * }).build();
 * const { outputs } = await graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } });
 * outputs.signal_handler?.published; // typed from signal_handler's return type
 */
export function nodeModule<M>(path: string | URL): NodeModule<M> {
  return path as NodeModule<M>;
}
