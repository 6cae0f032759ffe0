/**
 * Node functions the benchmarks run: a no-op, and CPU-bound busy loops of a given length that
 * stand in for real per-node work (they occupy a core for that long, whatever the machine).
 */
import { performance } from 'node:perf_hooks';

/** Occupies the calling thread for `ms` milliseconds. */
export function burn(ms: number): number {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}

export function noop(x: unknown): unknown {
  return x;
}

export function step1(x: number): number {
  return x + 1;
}
export function step2(x: number): number {
  return x * 2;
}
export function step3(x: number): number {
  return x - 3;
}

// The object chain: what a service's nodes look like, a new object at every step.
interface Priced {
  readonly value: number;
}
export function entry(quote: Priced): Priced {
  return { value: quote.value };
}
export function add10(x: Priced): Priced {
  return { value: x.value + 10 };
}
export function publish(x: Priced): Priced & { readonly at: number } {
  return { value: x.value, at: 1 };
}

/** Wide graph: every root burns `ctx.ms`. */
export function wide(ctx: { ms: number }): number {
  return burn(ctx.ms);
}

// Unbalanced DAG: root -> { chain c1..c4 of `chainMs`, side s1..s6 of `sideMs` } -> join.
interface Unbalanced {
  readonly chainMs: number;
  readonly sideMs: number;
}
export function root(ctx: Unbalanced): Unbalanced {
  return ctx;
}
export function chain(ctx: Unbalanced): Unbalanced {
  burn(ctx.chainMs);
  return ctx;
}
export function side(ctx: Unbalanced): number {
  return burn(ctx.sideMs);
}
export function join(...parts: unknown[]): number {
  return parts.length;
}

// Node names are export names, so the graphs' many copies of one function are aliases.
const wideNodes = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`w${i}`, wide]));
const chainNodes = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, step1]));
export default {
  ...wideNodes,
  ...chainNodes,
  c1: chain,
  c2: chain,
  c3: chain,
  c4: chain,
  s1: side,
  s2: side,
  s3: side,
  s4: side,
  s5: side,
  s6: side,
};
