/**
 * Learns how long each node takes and ranks dispatch units by the work left below them, so the
 * pool starts the ready unit with the longest remaining path first (critical-path scheduling).
 *
 * Before a node has been measured its cost counts as one "node of work" in the units of the
 * measured nodes (their mean), so a first run already prefers long chains by node count; after
 * that the exponential moving average of the measured durations takes over. Ranks and unit
 * estimates are recomputed lazily, once a node's estimate has moved by more than a tenth (and
 * more than {@link kJitterMs}) from the value they were last computed with: measured against that
 * value, not against the previous sample, so a slow drift (a cold first call fading out) is seen.
 */
import type { GraphPlan } from '../model/plan.js';

/** Smoothing of the moving average: the newest sample weighs this much. */
const kAlpha = 0.2;
/** A unit estimated below this many milliseconds may be pipelined behind other light units. */
const kLightUnitMs = 1;
/** Moves below this many milliseconds reorder nothing and change no batch worth changing. */
const kJitterMs = 0.01;

/**
 * The moving average `old` (NaN before a first sample) moved toward `sample`. One sample held up
 * (a collection, a thread descheduled) moves it by at most four times the estimate, so one slow
 * run does not count a light unit heavy for the next several; a real change still gets there in
 * a few samples.
 */
export function smoothed(old: number, sample: number): number {
  if (Number.isNaN(old)) return sample;
  return old + kAlpha * (Math.min(sample, 4 * old + 0.05) - old);
}

export class CostModel {
  readonly #plan: GraphPlan;
  /** Moving average per node in ms; NaN until measured. */
  readonly #cost: Float64Array;
  /** Each node's moving average when ranks and unit estimates were last computed. */
  readonly #basis: Float64Array;
  /** Longest remaining path per unit, in ms, the unit included. */
  readonly #rank: Float64Array;
  /** Estimated cost per unit in ms; NaN while any of its nodes is unmeasured. */
  readonly #unitCost: Float64Array;
  #dirty = true;

  constructor(plan: GraphPlan) {
    this.#plan = plan;
    this.#cost = new Float64Array(plan.nodes.length).fill(Number.NaN);
    this.#basis = new Float64Array(plan.nodes.length).fill(Number.NaN);
    this.#rank = new Float64Array(plan.units.length);
    this.#unitCost = new Float64Array(plan.units.length).fill(Number.NaN);
  }

  /** Records one measured run of a node. */
  observe(node: number, ms: number): void {
    const next = smoothed(this.#cost[node]!, ms);
    this.#cost[node] = next;
    if (this.#dirty) return;
    const basis = this.#basis[node]!;
    if (Number.isNaN(basis) || Math.abs(next - basis) > Math.max(0.1 * basis, kJitterMs)) this.#dirty = true;
  }

  /** The unit's rank: estimated work on the longest path from it to a terminal. */
  rank(unit: number): number {
    if (this.#dirty) this.#recompute();
    return this.#rank[unit]!;
  }

  /** True when the unit was measured and is cheap enough to queue behind another. */
  isLight(unit: number): boolean {
    if (this.#dirty) this.#recompute();
    const cost = this.#unitCost[unit]!;
    return cost < kLightUnitMs; // false for NaN: unmeasured units count as heavy
  }

  /** The unit's estimated cost in ms; NaN until each of its nodes was measured. */
  estimate(unit: number): number {
    if (this.#dirty) this.#recompute();
    return this.#unitCost[unit]!;
  }

  #recompute(): void {
    this.#dirty = false;
    this.#basis.set(this.#cost);
    const { nodes, units, topologicalOrder } = this.#plan;
    let sum = 0;
    let measured = 0;
    for (const c of this.#cost) {
      if (!Number.isNaN(c)) {
        sum += c;
        measured++;
      }
    }
    const unmeasured = measured === 0 ? 1 : sum / measured;
    const nodeRank = new Float64Array(nodes.length);
    for (let k = topologicalOrder.length - 1; k >= 0; k--) {
      const i = topologicalOrder[k]!;
      let below = 0;
      for (const e of nodes[i]!.outEdges) below = Math.max(below, nodeRank[e.to]!);
      const c = this.#cost[i]!;
      nodeRank[i] = (Number.isNaN(c) ? unmeasured : c) + below;
    }
    for (const unit of units) {
      this.#rank[unit.index] = nodeRank[unit.head]!;
      let cost = 0;
      for (const i of unit.nodes) cost += this.#cost[i]!;
      this.#unitCost[unit.index] = cost;
    }
  }
}
