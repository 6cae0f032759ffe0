/**
 * A built computation graph: its compiled plan bound to an executor (inline, or a pool binding).
 */
import { describe } from '../model/describe.js';
import { ExecutorClosedError, InvalidArgumentError } from '../model/errors.js';
import type { CostModel } from '../exec/cost-model.js';
import type { Executor, ExecutorKind } from '../exec/executor.js';
import { GraphRun, type ExecuteOptions, type GraphResult, type RunCallback } from '../exec/graph-run.js';
import type { ReactorDeclaration } from '../model/reactor-declaration.js';
import type { GraphPlan } from '../model/plan.js';
import { PoolBinding } from './pool-binding.js';

/** What the runtime needs of a graph and users do not: see {@link graphInternals}. */
export interface GraphInternals {
  /** The pool binding of a pool graph, null for an inline one. */
  readonly binding: PoolBinding | null;
  /** Runs one traversal and reports to `complete`, synchronously when every node was synchronous and inline. */
  run(input: unknown, complete: RunCallback): void;
}

const kInternals = new WeakMap<ComputationGraph, GraphInternals>();

/** The runtime's access to a graph's internals; not part of the package's public surface. */
export function graphInternals(graph: ComputationGraph): GraphInternals {
  return kInternals.get(graph)!;
}

/** Where a graph writes back: after each successful firing, `terminal`'s output goes to `accumulator`. */
export interface GraphFeedback {
  readonly terminal: string;
  /** A state accumulator of the same runtime. */
  readonly accumulator: string;
}

export class ComputationGraph {
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
      run: (input, complete) => {
        if (this.#closed) complete(new ExecutorClosedError(name), undefined);
        else new GraphRun(this.#ctx, input, undefined, complete).start();
      },
    });
  }

  /**
   * Runs one traversal. For a reactor-bound graph `input` is the input cache (source name to
   * value; a missing source reads as `undefined`); for a trigger-less graph it is the context
   * every root node receives as its sole argument.
   *
   * Rejects with `GraphExecutionError` naming the node that failed.
   *
   * @example
   * const { outputs } = await graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } });
   */
  execute(input?: unknown, options?: ExecuteOptions): Promise<GraphResult> {
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
    return new Promise((resolve, reject) => {
      new GraphRun(this.#ctx, input, options, (error, result) =>
        result === undefined ? reject(error) : resolve(result),
      ).start();
    });
  }

  /** Releases the executor (the graph's hold on its pool). Later executions reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.executor.close();
  }
}
