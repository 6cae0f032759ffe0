/**
 * A built computation graph: its compiled plan bound to an executor.
 */
import { describe } from '../describe.js';
import { ExecutorClosedError } from '../errors.js';
import type { CostModel } from '../exec/cost-model.js';
import type { Executor, ExecutorKind } from '../exec/executor.js';
import { GraphRun, type ExecuteOptions, type GraphResult, type RunContext } from '../exec/graph-run.js';
import type { ReactorDeclaration } from '../reactor/declaration.js';
import type { GraphPlan } from './plan.js';

export class ComputationGraph {
  /** The graph's name. */
  readonly name: string;
  /** The reactor that fires it, or null for a trigger-less graph. */
  readonly reactor: ReactorDeclaration | null;
  /** The compiled, level-scheduled plan (`plan.levels` shows what can run in parallel). */
  readonly plan: GraphPlan;
  /** Where its nodes run. */
  readonly executor: ExecutorKind;
  readonly #ctx: RunContext;
  #closed = false;

  /** @internal Built by `ComputationGraphBuilder.build()`. */
  constructor(name: string, reactor: ReactorDeclaration | null, plan: GraphPlan, costs: CostModel, executor: Executor) {
    this.name = name;
    this.reactor = reactor;
    this.plan = plan;
    this.executor = executor.kind;
    this.#ctx = { plan, costs, executor, triggerless: reactor === null };
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
        new TypeError(`graph '${this.name}': execute() takes the input cache as an object of source -> value, got ${describe(input)}`),
      );
    }
    return new GraphRun(this.#ctx, input, options).start();
  }

  /** Releases the executor (the graph's reference to its pool). Later executions reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.executor.close();
  }
}
