/**
 * Stream accumulator on the in-process `memory` backend: a consumer group reads a topic, each
 * message becomes a boundary, and its offset is committed once the boundary is delivered (at
 * least once across a reconnect). Publishers write to the topic, not to the runtime. A `latest`
 * reactor (the default) fires on the newest message; a burst that arrives during a firing
 * collapses into one next firing.
 *
 *     npm run build && node dist/examples/accumulators/stream.js
 */
import { ComputationGraphBuilder, Runtime, memoryBroker, reactor, streamAccumulator } from 'cloaca';

interface Quote {
  readonly seq: number;
  readonly bid: number;
  readonly ask: number;
}

const Book = reactor({ name: 'book', accumulators: ['quotes'] });

const graph = await new ComputationGraphBuilder('spread', {
  reactor: Book,
  nodes: { spread: (quote: Quote) => ({ mid: (quote.bid + quote.ask) / 2, spread: quote.ask - quote.bid }) },
  graph: { spread: { inputs: ['quotes'] } },
}).build();

const runtime = new Runtime();
runtime.register(
  streamAccumulator<Quote, Quote>({ name: 'quotes', type: 'memory', topic: 'orderbook', group: 'pricing' }),
  Book,
  graph,
);
const topic = memoryBroker.topic('orderbook');
const published: Quote[] = [
  { seq: 1, bid: 99, ask: 101 },
  { seq: 2, bid: 100, ask: 101 },
  { seq: 3, bid: 100, ask: 100.5 },
];
// Resolves on the firing that saw the last quote: the stream is read asynchronously, so idle()
// alone could resolve before the consumer has read anything.
const caughtUp = new Promise<void>((resolve) => {
  runtime.on('fire', (record) => {
    console.log(`fired on ${JSON.stringify(record.inputs.quotes)}: ${JSON.stringify(record.outputs?.spread)}`);
    if ((record.inputs.quotes as Quote).seq === published.length) resolve();
  });
});
await runtime.start();

for (const quote of published) topic.publish(quote);
await caughtUp;
await runtime.shutdown();
console.log(`committed offset of group 'pricing': ${topic.committed('pricing')} of ${topic.endOffset}`);
