/**
 * cloaca: event-driven computation graphs on Node.js worker threads.
 *
 * Declare a reactor and a graph, build it, execute it on the main thread (`inline`) or on a
 * Piscina pool of worker threads (`pool`) that runs independent nodes in parallel.
 */
export { reactor, toReactorDeclaration, ReactionMode, InputStrategy } from './reactor/declaration.js';
export type { ReactorOptions, ReactorDeclaration, ReactorDefinition, ReactorLike } from './reactor/declaration.js';
export { ComputationGraphBuilder } from './graph/builder.js';
export type { ComputationGraphOptions } from './graph/builder.js';
export { ComputationGraph } from './graph/computation-graph.js';
export type { NodeSpec, Topology, NodeFunction } from './graph/topology.js';
export type { GraphPlan, PlanNode, PlanEdge, PlanUnit } from './graph/plan.js';
export type { GraphResult, ExecuteOptions, NodeTrace } from './exec/graph-run.js';
export { ExecutorKind } from './exec/executor.js';
export { NodePool } from './exec/node-pool.js';
export type { NodePoolOptions, NodePoolStats } from './exec/node-pool.js';
export { move } from './move.js';
export {
  CloacaError,
  TopologyError,
  GraphExecutionError,
  NodeTimeoutError,
  WorkerExitError,
  UncloneableValueError,
  RoutingError,
  ExecutorClosedError,
} from './errors.js';
