/**
 * Nodes that talk back to the runtime, two ways:
 *
 * - `host.push(accumulator, value)` from `cloaca/worker`: a node running on a pool worker feeds an
 *   accumulator of the runtime (here `alerts`, read by a second reactor), waiting while it has no
 *   room.
 * - a graph's `feedback: { terminal, accumulator }`: after each firing, the runtime writes that
 *   terminal's output into a state accumulator (here `history`, read by a third reactor).
 *
 *     npm run build && node dist/examples/host-feedback.js
 */
import {
  ComputationGraphBuilder,
  Runtime,
  passthroughAccumulator,
  reactor,
  stateAccumulator,
  type FireRecord,
} from 'cloaca';
import type { Tick } from './host-feedback.nodes.js';

const Watch = reactor({ name: 'watch', accumulators: ['ticks'], strategy: 'sequential' });
const Alerts = reactor({ name: 'alerting', accumulators: ['alerts'], strategy: 'sequential' });
const Trend = reactor({ name: 'trend', accumulators: ['history'], strategy: 'sequential' });

// A node module runs on the runtime's worker pool, where `host` reaches back to this runtime.
const inspect = await new ComputationGraphBuilder('inspect', {
  reactor: Watch,
  nodes: new URL('./host-feedback.nodes.js', import.meta.url),
  graph: { inspect: { inputs: ['ticks'] } },
  feedback: { terminal: 'inspect', accumulator: 'history' },
}).build();
const notify = await new ComputationGraphBuilder('notify', {
  reactor: Alerts,
  nodes: { notify: (alert: Tick) => `ALERT ${alert.symbol} at ${alert.price}` },
  graph: { notify: { inputs: ['alerts'] } },
}).build();
const trend = await new ComputationGraphBuilder('trend', {
  reactor: Trend,
  nodes: {
    trend: (history: Array<{ price: number }>) =>
      `last ${history.length} prices: ${history.map((h) => h.price).join(', ')}`,
  },
  graph: { trend: { inputs: ['history'] } },
}).build();

const runtime = new Runtime({ threads: 2 });
runtime.register(
  passthroughAccumulator({ name: 'ticks' }),
  passthroughAccumulator({ name: 'alerts' }),
  stateAccumulator({ name: 'history', capacity: 3 }),
  Watch,
  Alerts,
  Trend,
  inspect,
  notify,
  trend,
);
runtime.on('fire', (record: FireRecord) => {
  const [output] = Object.values(record.outputs ?? {});
  if (record.graph === 'inspect') {
    const { price, thread } = output as { price: number; thread: number };
    console.log(`inspect: ${price} on worker thread ${thread}`);
  } else {
    console.log(`${record.graph}: ${output}`);
  }
});
runtime.on('error', (error) => console.error(error));
await runtime.start();

for (const price of [98, 101, 99, 103]) runtime.push('ticks', { symbol: 'ACME', price });
await runtime.idle();
await runtime.shutdown();
