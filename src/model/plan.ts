/**
 * Compiles validated nodes into the level-scheduled plan the executors walk.
 *
 * - Levels: a node's level is the length of the longest path to it from a root; nodes of one
 *   level are independent and may run in parallel. `levels` lists names in topology order.
 * - Argument wiring: a node is called with its cache inputs (in `inputs` order), then one
 *   argument per in-edge, in-edges ordered by the upstream node's position in the topology and,
 *   for one upstream with several edges to the same node, by declaration order.
 * - Dispatch units: a linear chain `a -> b` where `a` has that single linear out-edge, `b` has
 *   that single in-edge and no cache inputs, and neither has a time limit, can run as one worker
 *   task ("chain fusion"); a unit is the chain's nodes head to tail.
 */
import type { NormalizedNode } from './topology.js';

/** One edge of the plan; `variant` is null for a linear (`next`) edge. */
export interface PlanEdge {
  readonly from: number;
  readonly to: number;
  readonly variant: string | null;
  /** The argument position of this edge's value among `to`'s in-edges. */
  readonly slot: number;
}

/** One node of the plan. */
export interface PlanNode {
  readonly index: number;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly inEdges: readonly PlanEdge[];
  readonly outEdges: readonly PlanEdge[];
  /** Declared variants of a routing node, in declaration order; null for a non-routing node. */
  readonly variants: readonly string[] | null;
  readonly terminal: boolean;
  readonly level: number;
  readonly timeoutMs: number | undefined;
  /** The dispatch unit this node belongs to. */
  readonly unit: number;
}

/** A chain of nodes dispatched as one task (a single node when nothing was fused). */
export interface PlanUnit {
  readonly index: number;
  /** Node indices, head first. */
  readonly nodes: readonly number[];
  readonly head: number;
  readonly tail: number;
}

/** The compiled, level-scheduled plan of a graph. */
export interface GraphPlan {
  readonly graph: string;
  /** Nodes in topology order. */
  readonly nodes: readonly PlanNode[];
  /** Node names by level, level 0 (the roots) first. */
  readonly levels: readonly (readonly string[])[];
  /** Indices of the nodes with no in-edges. */
  readonly roots: readonly number[];
  /** Names of the nodes with no out-edges. */
  readonly terminals: readonly string[];
  readonly units: readonly PlanUnit[];
  /** The most nodes any level holds: 1 means nothing can ever run beside anything else. */
  readonly maxWidth: number;
  /** @internal In-degree of each node, copied into every run. */
  readonly inDegree: Int32Array;
  /** @internal Node indices with each node after all of its upstream nodes. */
  readonly topologicalOrder: Int32Array;
}

/** Compiles validated nodes (acyclic, targets known) into a {@link GraphPlan}. */
export function compilePlan(graph: string, normalized: readonly NormalizedNode[], fuse: boolean): GraphPlan {
  const indexOf = new Map(normalized.map((n, i) => [n.name, i]));
  const outgoing: Array<Array<{ to: number; variant: string | null }>> = normalized.map((n) => [
    ...n.next.map((t) => ({ to: indexOf.get(t)!, variant: null })),
    ...(n.routes ?? []).flatMap(([variant, targets]) => targets.map((t) => ({ to: indexOf.get(t)!, variant }))),
  ]);

  // In-edges in topology order of the upstream node (outer loop) and declaration order (inner).
  const inEdges: PlanEdge[][] = normalized.map(() => []);
  const outEdges: PlanEdge[][] = normalized.map(() => []);
  outgoing.forEach((edges, from) => {
    for (const { to, variant } of edges) {
      const edge: PlanEdge = { from, to, variant, slot: inEdges[to]!.length };
      inEdges[to]!.push(edge);
      outEdges[from]!.push(edge);
    }
  });

  const order = topologicalOrder(normalized.length, inEdges, outEdges);
  const level = new Int32Array(normalized.length);
  for (const i of order) {
    for (const e of inEdges[i]!) level[i] = Math.max(level[i]!, level[e.from]! + 1);
  }
  const levelCount = normalized.length === 0 ? 0 : Math.max(...level) + 1;
  const levels: string[][] = Array.from({ length: levelCount }, () => []);
  normalized.forEach((n, i) => levels[level[i]!]!.push(n.name));

  const unitOf = fuse ? fuseChains(normalized, inEdges, outEdges, order) : normalized.map((_, i) => i);
  const units = buildUnits(unitOf, order);

  const nodes: PlanNode[] = normalized.map((n, i) => ({
    index: i,
    name: n.name,
    inputs: n.inputs,
    inEdges: inEdges[i]!,
    outEdges: outEdges[i]!,
    variants: n.routes ? n.routes.map(([v]) => v) : null,
    terminal: outEdges[i]!.length === 0,
    level: level[i]!,
    timeoutMs: n.timeoutMs,
    unit: units.unitIndexOf[i]!,
  }));

  return {
    graph,
    nodes,
    levels,
    roots: nodes.filter((n) => n.inEdges.length === 0).map((n) => n.index),
    terminals: nodes.filter((n) => n.terminal).map((n) => n.name),
    units: units.list,
    maxWidth: Math.max(...levels.map((l) => l.length)),
    inDegree: Int32Array.from(inEdges, (e) => e.length),
    topologicalOrder: Int32Array.from(order),
  };
}

function topologicalOrder(n: number, inEdges: PlanEdge[][], outEdges: PlanEdge[][]): number[] {
  const pending = inEdges.map((e) => e.length);
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    for (const e of outEdges[order[k]!]!) if (--pending[e.to]! === 0) order.push(e.to);
  }
  return order;
}

/** Returns, for each node, the node heading its fused chain. */
function fuseChains(
  normalized: readonly NormalizedNode[],
  inEdges: PlanEdge[][],
  outEdges: PlanEdge[][],
  order: readonly number[],
): number[] {
  const headOf = normalized.map((_, i) => i);
  for (const i of order) {
    const ins = inEdges[i]!;
    if (ins.length !== 1) continue;
    const up = ins[0]!;
    const fusable =
      up.variant === null &&
      outEdges[up.from]!.length === 1 &&
      normalized[i]!.inputs.length === 0 &&
      normalized[i]!.timeoutMs === undefined &&
      normalized[up.from]!.timeoutMs === undefined;
    if (fusable) headOf[i] = headOf[up.from]!;
  }
  return headOf;
}

function buildUnits(headOf: readonly number[], order: readonly number[]): { list: PlanUnit[]; unitIndexOf: number[] } {
  const members = new Map<number, number[]>();
  for (const i of order) {
    const head = headOf[i]!;
    const list = members.get(head);
    if (list) list.push(i);
    else members.set(head, [i]);
  }
  const unitIndexOf: number[] = new Array(headOf.length);
  const list: PlanUnit[] = [];
  for (const [head, nodes] of members) {
    const index = list.length;
    for (const i of nodes) unitIndexOf[i] = index;
    list.push({ index, nodes, head, tail: nodes[nodes.length - 1]! });
  }
  return { list, unitIndexOf };
}

/**
 * The plan as JSON text (typed arrays as arrays), for a worker that runs whole traversals of it:
 * a string crosses a thread as one copy and keys a worker's cache of parsed plans.
 * {@link planFromText} reads it back.
 */
export function planToText(plan: GraphPlan): string {
  return JSON.stringify({ ...plan, inDegree: [...plan.inDegree], topologicalOrder: [...plan.topologicalOrder] });
}

/** The plan {@link planToText} wrote. */
export function planFromText(text: string): GraphPlan {
  const parsed = JSON.parse(text) as GraphPlan & { inDegree: number[]; topologicalOrder: number[] };
  return {
    ...parsed,
    inDegree: Int32Array.from(parsed.inDegree),
    topologicalOrder: Int32Array.from(parsed.topologicalOrder),
  };
}
