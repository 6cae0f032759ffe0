/**
 * Node module of examples/host-feedback.ts, loaded by path in each pool worker. `host` reaches
 * the runtime that runs the node, from whichever thread it runs on.
 */
import { threadId } from 'node:worker_threads';
import { host } from 'cloaca/worker';

export interface Tick {
  readonly symbol: string;
  readonly price: number;
}

/** Raises an alert for a price at or above 100 (into the `alerts` accumulator), and keeps the price. */
export async function inspect(tick: Tick): Promise<{ price: number; thread: number }> {
  if (tick.price >= 100) await host.push('alerts', { symbol: tick.symbol, price: tick.price });
  return { price: tick.price, thread: threadId };
}
