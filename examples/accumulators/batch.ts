/**
 * Batch accumulator: buffers events and delivers `process(events)` as one boundary when the
 * buffer reaches `maxBufferSize`, every `flushInterval`, after each firing of a reactor it feeds,
 * and at shutdown (never an empty batch). Here trade fills are summarised per batch.
 *
 *     npm run build && node dist/examples/accumulators/batch.js
 */
import { ComputationGraphBuilder, Runtime, batchAccumulator, reactor } from 'cloaca';

interface Fill {
  readonly qty: number;
  readonly price: number;
}

interface FillSummary {
  readonly fills: number;
  readonly qty: number;
  readonly vwap: number;
}

const Fills = reactor({ name: 'fills', accumulators: ['fill_batches'], strategy: 'sequential' });

const graph = await new ComputationGraphBuilder('position', {
  reactor: Fills,
  nodes: {
    book: (summary: FillSummary) =>
      `booked ${summary.fills} fill${summary.fills === 1 ? '' : 's'}, ${summary.qty} @ ${summary.vwap}`,
  },
  graph: { book: { inputs: ['fill_batches'] } },
}).build();

const runtime = new Runtime();
runtime.register(
  batchAccumulator<Fill, FillSummary>({
    name: 'fill_batches',
    maxBufferSize: 3,
    flushInterval: '1s',
    process: (fills) => {
      const qty = fills.reduce((sum, f) => sum + f.qty, 0);
      const notional = fills.reduce((sum, f) => sum + f.qty * f.price, 0);
      return { fills: fills.length, qty, vwap: Math.round((notional / qty) * 100) / 100 };
    },
  }),
  Fills,
  graph,
);
runtime.on('fire', (record) => console.log(record.outputs?.book));
await runtime.start();

for (const fill of [
  { qty: 10, price: 100 },
  { qty: 5, price: 101 },
  { qty: 5, price: 99 },
  { qty: 20, price: 100.5 },
  { qty: 10, price: 100 },
  { qty: 10, price: 102 },
  { qty: 1, price: 103 },
]) {
  runtime.push('fill_batches', fill);
}
// Shutdown delivers what is still buffered (the seventh fill) and waits for its firing.
await runtime.shutdown();
console.log(`batches booked: ${runtime.stats().reactors.fills!.fires}`);
