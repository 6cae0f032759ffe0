/**
 * cloaca: event-driven computation graphs on Node.js worker threads.
 *
 * Declare a reactor and a graph, build it, execute it on the main thread (`inline`) or on a
 * Piscina pool of worker threads (`pool`) that runs independent nodes in parallel; or register
 * accumulators, reactors and graphs with a `Runtime` that fires the graphs as events arrive.
 *
 * @module cloaca
 */
export { reactor, toReactorDeclaration, ReactionMode, InputStrategy } from './model/reactor-declaration.js';
export type {
  ReactorOptions,
  KeyReader,
  KeyedDeclaration,
  ReactorDeclaration,
  ReactorDefinition,
  ReactorLike,
} from './model/reactor-declaration.js';
export { ComputationGraphBuilder } from './graph/builder.js';
export type { ComputationGraphOptions } from './graph/builder.js';
export { ComputationGraph } from './graph/computation-graph.js';
export type { GraphFeedback } from './graph/computation-graph.js';
export { nodeModule } from './graph/node-module.js';
export type { NodeModule } from './graph/node-module.js';
export type { MapOptions } from './graph/map.js';
export type { GraphInput, GraphOutputs, NodeFunctionsOf, ExecuteArgs } from './model/graph-types.js';
export type { NodeSpec, Topology, NodeFunction } from './model/topology.js';
export type { GraphPlan, PlanNode, PlanEdge, PlanUnit } from './model/plan.js';
export type { GraphResult, ExecuteOptions, NodeTrace } from './exec/graph-run.js';
export { ExecutorKind } from './exec/executor.js';
export { NodePool } from './exec/node-pool.js';
export type { NodePoolStats } from './exec/node-pool.js';
export type { NodePoolOptions } from './exec/node-pool-options.js';
export { move } from './exec/move.js';
export { Runtime, RuntimeState } from './runtime/runtime.js';
export type { RuntimeStats } from './runtime/runtime.js';
export type { RuntimeOptions } from './runtime/runtime-options.js';
export type { RuntimeEvents } from './runtime/runtime-events.js';
export type { Durability } from './runtime/checkpoint/store.js';
export type { StateMismatchPolicy } from './runtime/persistence.js';
export type { ShutdownOnSignalsOptions } from './runtime/signals.js';
export type {
  RuntimeReport,
  CheckpointOwnership,
  AccumulatorReport,
  ReactorReport,
  GraphReport,
  PoolReport,
  TopologyNode,
  TopologyEdge,
} from './runtime/report.js';
export type { FireSummary } from './runtime/fire-ring.js';
export type { LatencyHistogramView } from './runtime/latency-histogram.js';
export { AccumulatorHealth, ReactorHealth } from './model/health.js';
export type { HealthEvent } from './model/health.js';
export { parseDuration } from './model/duration.js';
export { ReactorHandle, KeyHandle } from './reactor/handle.js';
export { ReactorLoop } from './reactor/reactor-loop.js';
export type { FireRecord, KeyState, ReactorState } from './reactor/records.js';
export type { KeySummary } from './reactor/keyed-reactor.js';
export { AccumulatorKind } from './accumulators/accumulator.js';
export type { AccumulatorDeclaration } from './accumulators/accumulator.js';
export { passthroughAccumulator } from './accumulators/passthrough.js';
export type { PassthroughAccumulatorOptions } from './accumulators/passthrough.js';
export { streamAccumulator } from './accumulators/stream.js';
export type { StreamAccumulatorOptions, StreamRetryOptions, StreamLag } from './accumulators/stream.js';
export type { RedisStreamOptions, RedisTrim } from './accumulators/redis-options.js';
export { partitionOf, partitionStream } from './accumulators/partition.js';
export { pollingAccumulator } from './accumulators/polling.js';
export type { PollingAccumulatorOptions } from './accumulators/polling.js';
export { batchAccumulator } from './accumulators/batch.js';
export type { BatchAccumulatorOptions } from './accumulators/batch.js';
export { stateAccumulator } from './accumulators/state.js';
export type { StateAccumulatorOptions } from './accumulators/state.js';
export type {
  StreamBackend,
  StreamBackendConfig,
  StreamBackendFactory,
  StreamMessage,
  StreamPosition,
} from './accumulators/stream-backend.js';
export { MemoryBroker, MemoryTopic, memoryBroker } from './accumulators/memory-broker.js';
export type { MemoryTopicOptions } from './accumulators/memory-broker.js';
export {
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
} from './model/errors.js';
export type { Culprit, ValueSource } from './model/errors.js';
