/**
 * A built computation graph: its compiled plan bound to an executor (inline, or a pool binding).
 */
import { describe } from '../model/describe.js';
import { ExecutorClosedError, InvalidArgumentError } from '../model/errors.js';
import type { CostModel } from '../exec/cost-model.js';
import type { Executor, ExecutorKind } from '../exec/executor.js';
import {
  GraphRun,
  type ExecuteOptions,
  type GraphResult,
  type RunCallback,
  type RunOptions,
} from '../exec/graph-run.js';
import type { ExecuteArgs } from '../model/graph-types.js';
import type { ReactorDeclaration } from '../model/reactor-declaration.js';
import type { GraphPlan } from '../model/plan.js';
import { PoolBinding } from '../exec/pool-binding.js';

/** What the runtime needs of a graph and users do not: see {@link graphInternals}. */
export interface GraphInternals {
  /** The pool binding of a pool graph, null for an inline one. */
  readonly binding: PoolBinding | null;
  /**
   * Runs one traversal and reports to `complete`, synchronously when every node was synchronous
   * and inline; untimed (the result's `durationMs` is 0: a reactor times its own firings).
   * `options` carries the runtime's observer (metrics, tracing) when it has one; they must be
   * untimed too (`timed: false`).
   */
  run(input: unknown, options: RunOptions | undefined, complete: RunCallback): void;
}

// The same shape as an observer's options (see observability.ts), so a run's options stay monomorphic.
const kInternalRun: RunOptions = { observer: undefined, timed: false };

const kInternals = new WeakMap<ComputationGraph<any, any>, GraphInternals>();

/** The runtime's access to a graph's internals; not part of the package's public surface. */
export function graphInternals(graph: ComputationGraph<any, any>): GraphInternals {
  return kInternals.get(graph)!;
}
import { mapGraph, type MapOptions } from './map.js';
import { inspectValue } from '../model/values.js';

/** Where a graph writes back: after each successful firing, `terminal`'s output goes to `accumulator`. */
export interface GraphFeedback {
  readonly terminal: string;
  /** A state accumulator of the same runtime. */
  readonly accumulator: string;
}

/**
 * A built graph. `In` is what `execute()` takes and `Out` the type of `outputs`; both are inferred
 * by `ComputationGraphBuilder` when it knows the node functions' types (an object of functions,
 * or `nodeModule<typeof import('./nodes.js')>(path)`), and are `unknown` and
 * `Record<string, unknown>` otherwise.
 */
export class ComputationGraph<In = unknown, Out extends object = Record<string, unknown>> {
  /** The graph's name. */
  readonly name: string;
  /** The reactor that fires it, or null for a trigger-less graph. */
  readonly reactor: ReactorDeclaration | null;
  /** The compiled, level-scheduled plan (`plan.levels` shows what can run in parallel). */
  readonly plan: GraphPlan;
  /** Where its nodes run. */
  readonly executor: ExecutorKind;
  /** Where it writes back in a Runtime, or null. */
  readonly feedback: GraphFeedback | null;
  readonly #ctx: { plan: GraphPlan; costs: CostModel; executor: Executor; triggerless: boolean };
  #closed = false;

  /** @internal Built by `ComputationGraphBuilder.build()`. */
  constructor(
    name: string,
    reactor: ReactorDeclaration | null,
    plan: GraphPlan,
    costs: CostModel,
    executor: Executor,
    feedback: GraphFeedback | null,
  ) {
    this.name = name;
    this.reactor = reactor;
    this.plan = plan;
    this.executor = executor.kind;
    this.feedback = feedback;
    this.#ctx = { plan, costs, executor, triggerless: reactor === null };
    kInternals.set(this, {
      binding: executor instanceof PoolBinding ? executor : null,
      run: (input, options, complete) => {
        if (this.#closed) complete(new ExecutorClosedError(name), undefined);
        else new GraphRun(this.#ctx, input, options ?? kInternalRun, complete).start();
      },
    });
  }

  /**
   * Runs one traversal. For a reactor-bound graph `input` is the input cache (source name to
   * value; a missing source reads as `undefined`); for a trigger-less graph it is the context
   * every root node receives as its sole argument.
   *
   * Rejects with `GraphExecutionError` naming the node that failed, or, before anything runs,
   * with `UncloneableValueError` naming the path of an input no node could receive.
   *
   * @example
   * const { outputs } = await graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } });
   */
  execute(...args: ExecuteArgs<In, ExecuteOptions>): Promise<GraphResult<Out>> {
    const [input, options] = args as [unknown, ExecuteOptions?];
    if (this.#closed) return Promise.reject(new ExecutorClosedError(this.name));
    if (this.reactor !== null && input !== undefined && input !== null && typeof input !== 'object') {
      return Promise.reject(
        new InvalidArgumentError(
          'execute(input)',
          input,
          `graph '${this.name}': execute() takes the input cache as an object of source -> value, got ${describe(input)}`,
        ),
      );
    }
    // Refused before anything runs, naming the path (`inputs.alpha.cb is a function`).
    const fault = inspectValue(input, 'inputs');
    if (fault !== null) return Promise.reject(fault.toError({ graph: this.name }));
    return new Promise((resolve, reject) => {
      new GraphRun(this.#ctx, input, options, (error, result) =>
        // The builder's type parameters vouch for the outputs' shape.
        result === undefined ? reject(error) : resolve(result as GraphResult<Out>),
      ).start();
    });
  }

  /**
   * Runs the graph once per input of `source` (an iterable or async iterable of what
   * {@link execute} takes) and yields one result per input: in input order unless
   * `ordered: false`. At most `concurrency` inputs are in flight (default: twice the pool's
   * threads; 16 inline), and the source is read no faster than results are consumed.
   *
   * The first failure ends the iteration with its `GraphExecutionError`, whose `index` is the
   * failing input's position in the source; executions in flight are awaited and none starts
   * after it. Leaving the loop (or aborting `options.signal`) stops reading the source and calls
   * its iterator's `return()`. Results not yet yielded when it ends are dropped.
   *
   * @example
   * for await (const { outputs } of graph.map(readOrders(), { concurrency: 8 })) {
   *   await save(outputs.settle);
   * }
   */
  map(
    source: Iterable<In> | AsyncIterable<In>,
    options?: MapOptions,
  ): AsyncGenerator<GraphResult<Out>, void, undefined> {
    const executor = this.#ctx.executor;
    return mapGraph(
      this.name,
      (input: In) => this.execute(...([input] as ExecuteArgs<In, ExecuteOptions>)),
      source,
      options,
      executor instanceof PoolBinding ? executor.threads : null,
    );
  }

  /**
   * Whether `record` (a `fire` record of a Runtime) came from this graph; when it did, its
   * `outputs` are typed as this graph's.
   *
   * @example
   * runtime.on('fire', (record) => {
   *   if (graph.owns(record) && record.ok) console.log(record.outputs?.signal_handler?.published);
   * });
   */
  owns<R extends { readonly graph: string }>(record: R): record is R & { readonly outputs?: Out } {
    return record.graph === this.name;
  }

  /** Releases the executor (the graph's hold on its pool). Later executions reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.executor.close();
  }
}
