/**
 * Passthrough accumulator: each pushed event goes through `process` and becomes a boundary at
 * once; `process` returning `undefined` drops the event. A `sequential` reactor fires its graph
 * once per boundary, in order; the graph routes each price tick to an alert or to nothing.
 *
 *     npm run build && node dist/examples/accumulators/passthrough.js
 */
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';

interface Tick {
  readonly symbol: string;
  readonly price: number;
}

const Watch = reactor({ name: 'watch', accumulators: ['ticks'], strategy: 'sequential' });

const graph = await new ComputationGraphBuilder('price_alert', {
  reactor: Watch,
  // An object of functions runs on the main thread (the `inline` executor).
  nodes: {
    classify: (tick: Tick) => (tick.price >= 100 ? ['High', tick] : ['Normal', tick]),
    alert: (tick: Tick) => `${tick.symbol} reached ${tick.price}`,
    ignore: () => null,
  },
  graph: {
    classify: { inputs: ['ticks'], routes: { High: 'alert', Normal: 'ignore' } },
    alert: {},
    ignore: {},
  },
}).build();

const runtime = new Runtime();
runtime.register(
  // Ticks without a price are dropped before they reach the reactor.
  passthroughAccumulator<Partial<Tick>, Tick>({
    name: 'ticks',
    process: (tick) => (typeof tick.price === 'number' ? (tick as Tick) : undefined),
  }),
  Watch,
  graph,
);
runtime.on('fire', (record) => console.log(`fired: ${JSON.stringify(record.outputs)}`));
await runtime.start();

for (const tick of [
  { symbol: 'ACME', price: 98 },
  { symbol: 'ACME' }, // no price: dropped
  { symbol: 'ACME', price: 101 },
  { symbol: 'ACME', price: 99 },
]) {
  runtime.push('ticks', tick);
}
await runtime.idle();
console.log(`fires: ${runtime.stats().reactors.watch!.fires}`);
await runtime.shutdown();
