/**
 * State accumulator: keeps a window of the last `capacity` values written to it and delivers the
 * whole window (oldest first) as a boundary on every write. Here a moving average over the last
 * three temperature readings.
 *
 *     npm run build && node dist/examples/accumulators/state.js
 */
import { ComputationGraphBuilder, Runtime, reactor, stateAccumulator } from 'cloaca';

const Sensor = reactor({ name: 'sensor', accumulators: ['readings'], strategy: 'sequential' });

const graph = await new ComputationGraphBuilder('smoothing', {
  reactor: Sensor,
  nodes: {
    average: (window: number[]) => ({ window, average: window.reduce((a, b) => a + b, 0) / window.length }),
  },
  graph: { average: { inputs: ['readings'] } },
}).build();

const runtime = new Runtime();
runtime.register(stateAccumulator({ name: 'readings', capacity: 3 }), Sensor, graph);
runtime.on('fire', (record) => {
  const { window, average } = record.outputs!.average as { window: number[]; average: number };
  console.log(`window ${JSON.stringify(window)} -> average ${average.toFixed(2)}`);
});
await runtime.start();

for (const celsius of [20, 21, 23, 22, 26]) runtime.push('readings', celsius);
await runtime.idle();
await runtime.shutdown();
