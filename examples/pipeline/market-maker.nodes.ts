/**
 * Node functions of the market-maker pipeline (`npm start`): the graph of Cloacina's API example, with the fills
 * summary from the batch accumulator as a third input of `decision`.
 *
 * Every event carries `at`, the epoch time (ms, sub-ms precision) it was generated, so the main
 * thread can measure event-to-result latency; the terminals pass the newest one through.
 */
import { performance } from 'node:perf_hooks';

export interface Tick {
  readonly value: number;
  readonly at: number;
}
export interface Book {
  readonly estimate: number;
  readonly at: number;
}
export interface FillSummary {
  readonly count: number;
  readonly net: number;
  readonly at: number;
}

type Decision = ['Signal', { output: number; at: number }] | ['NoAction', { reason: string; at: number }];

export function decision(alpha: Tick | undefined, beta: Book | undefined, fills: FillSummary | undefined): Decision {
  const at = Math.max(alpha?.at ?? 0, beta?.at ?? 0, fills?.at ?? 0);
  // Inventory skew: a net long position raises the bar for another signal.
  const threshold = 10 + (fills?.net ?? 0) / 100;
  const total = (alpha?.value ?? 0) + (beta?.estimate ?? 0);
  busy(0.05); // a little real work per decision, like pricing would
  if (total > threshold) return ['Signal', { output: total, at }];
  return ['NoAction', { reason: 'below threshold', at }];
}

export function signal_handler(signal: { output: number; at: number }): {
  published: boolean;
  output: number;
  at: number;
} {
  return { published: true, output: signal.output, at: signal.at };
}

export function audit_logger(reason: { reason: string; at: number }): { logged: boolean; at: number } {
  return { logged: true, at: reason.at };
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
