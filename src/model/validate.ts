/**
 * Build-time validation of a topology dict. Every failure is a TopologyError that
 * names the graph and the node(s) at fault. Where the reference system ignores a mistake silently
 * (unknown keys, unknown targets, cycles, `next` beside `routes`), this package rejects it.
 */
import { describe } from './describe.js';
import { TopologyError } from './errors.js';
import type { ReactorDeclaration } from './reactor-declaration.js';
import type { NodeSpec, NormalizedNode, Topology } from './topology.js';

const kSpecKeys = new Set(['inputs', 'next', 'routes', 'timeoutMs']);

/**
 * Checks a topology against its reactor (or its absence) and returns the nodes normalised, in
 * topology order. Throws {@link TopologyError}.
 */
export function validateTopology(
  graph: string,
  topology: Topology,
  reactor: ReactorDeclaration | null,
): NormalizedNode[] {
  if (typeof topology !== 'object' || topology === null || Array.isArray(topology)) {
    throw new TopologyError(
      graph,
      [],
      `graph '${graph}': 'graph' must be an object of node specs, got ${describe(topology)}`,
    );
  }
  const names = Object.keys(topology);
  if (names.length === 0) {
    throw new TopologyError(graph, [], `graph '${graph}' is empty: declare at least one node`);
  }
  const nodes = names.map((name) => normalizeSpec(graph, name, topology[name]!, reactor));
  const known = new Set(names);
  for (const node of nodes) {
    const targets = [...node.next, ...(node.routes ?? []).flatMap(([, t]) => t)];
    for (const target of targets) {
      if (!known.has(target)) {
        throw new TopologyError(
          graph,
          [node.name],
          `graph '${graph}': node '${node.name}' has an edge to '${target}', which is not a node of the topology`,
        );
      }
    }
  }
  const cycle = findCycle(nodes);
  if (cycle) {
    throw new TopologyError(graph, cycle, `graph '${graph}' has a cycle: ${[...cycle, cycle[0]].join(' -> ')}`);
  }
  return nodes;
}

function normalizeSpec(
  graph: string,
  name: string,
  spec: NodeSpec,
  reactor: ReactorDeclaration | null,
): NormalizedNode {
  const fail = (detail: string): never => {
    throw new TopologyError(graph, [name], `graph '${graph}': node '${name}' ${detail}`);
  };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    fail(`must be a spec object ({ inputs?, next?, routes?, timeoutMs? }), got ${describe(spec)}`);
  }
  for (const key of Object.keys(spec)) {
    if (!kSpecKeys.has(key)) fail(`has an unknown key '${key}' (expected inputs, next, routes or timeoutMs)`);
  }
  if (spec.next !== undefined && spec.routes !== undefined) {
    fail(`declares both 'next' and 'routes'; a node either routes or has linear edges`);
  }

  const inputs = spec.inputs === undefined ? [] : targetList(spec.inputs, `'inputs'`, fail, false);
  if (inputs.length > 0) {
    if (reactor === null) {
      fail(
        `declares inputs [${inputs.join(', ')}], but graph '${graph}' has no reactor; a trigger-less graph receives data through execute(context) instead`,
      );
    } else {
      for (const input of inputs) {
        if (!reactor.accumulators.includes(input)) {
          fail(
            `reads input '${input}', which is not one of reactor '${reactor.name}' accumulators [${reactor.accumulators.join(', ')}]`,
          );
        }
      }
    }
  }

  const next = spec.next === undefined ? [] : targetList(spec.next, `'next'`, fail, true);
  let routes: Array<readonly [string, readonly string[]]> | null = null;
  if (spec.routes !== undefined) {
    if (typeof spec.routes !== 'object' || spec.routes === null || Array.isArray(spec.routes)) {
      fail(`'routes' must be an object of variant -> target(s), got ${describe(spec.routes)}`);
    }
    routes = Object.entries(spec.routes).map(([variant, targets]) => [
      variant,
      targetList(targets, `route '${variant}'`, fail, true),
    ]);
    if (routes.length === 0) fail(`has an empty 'routes'; declare at least one variant or make it a terminal`);
  }

  const { timeoutMs } = spec;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    fail(`'timeoutMs' must be a positive number of milliseconds, got ${describe(timeoutMs)}`);
  }
  return { name, inputs, next, routes, timeoutMs };
}

/** A string or a non-empty array of distinct non-empty strings, as an array. */
function targetList(value: unknown, what: string, fail: (detail: string) => never, single: boolean): string[] {
  const list = single && typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || (single && list.length === 0)) {
    fail(
      `${what} must be ${single ? 'a node name or a non-empty array of node names' : 'an array of accumulator names'}, got ${describe(value)}`,
    );
  }
  const seen = new Set<string>();
  for (const item of list as unknown[]) {
    if (typeof item !== 'string' || item === '') fail(`${what} must hold non-empty strings, got ${describe(item)}`);
    if (seen.has(item as string)) fail(`${what} lists '${item as string}' twice`);
    seen.add(item as string);
  }
  return [...seen];
}

/** Returns the nodes of one cycle in edge order, or null. Iterative DFS with colours. */
function findCycle(nodes: readonly NormalizedNode[]): string[] | null {
  const successors = new Map(nodes.map((n) => [n.name, [...n.next, ...(n.routes ?? []).flatMap(([, t]) => t)]]));
  const colour = new Map<string, 1 | 2>(); // 1 = on the current path, 2 = finished
  for (const start of nodes) {
    if (colour.has(start.name)) continue;
    const path: string[] = [];
    const stack: Array<{ name: string; next: number }> = [{ name: start.name, next: 0 }];
    colour.set(start.name, 1);
    path.push(start.name);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const succ = successors.get(frame.name)!;
      if (frame.next < succ.length) {
        const target = succ[frame.next++]!;
        const c = colour.get(target);
        if (c === 1) return path.slice(path.indexOf(target));
        if (c === undefined) {
          colour.set(target, 1);
          path.push(target);
          stack.push({ name: target, next: 0 });
        }
      } else {
        colour.set(frame.name, 2);
        path.pop();
        stack.pop();
      }
    }
  }
  return null;
}
