/**
 * One process of the Redis group benchmark: a runtime whose `redis` stream accumulator feeds a
 * `latest` reactor with a no-op graph (inline), ready before it is told to go, so every process
 * of a run starts reading at once. Reports how many entries it handled when told to stop.
 *
 *     node consumer.js '{"url":..., "stream":..., "group":..., "consumer":...}'
 *     parent -> child: 'go' (start), 'stop' (shut down; replies { events })
 */
import { ComputationGraphBuilder, Runtime, reactor, streamAccumulator } from 'cloaca';
import { nodesModule } from '../suites/shared.js';

export interface ConsumerConfig {
  readonly url: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
}

const config = JSON.parse(process.argv[2]!) as ConsumerConfig;
const Bench = reactor({ name: 'redis_bench', accumulators: ['events'], strategy: 'latest' });
const graph = await new ComputationGraphBuilder('redis_bench_graph', {
  reactor: Bench,
  executor: 'inline',
  nodes: nodesModule,
  graph: { noop: { inputs: ['events'] } },
}).build();
const runtime = new Runtime({ threads: 1 });
runtime.register(
  streamAccumulator({
    name: 'events',
    type: 'redis',
    topic: config.stream,
    group: config.group,
    options: { url: config.url, consumer: config.consumer, block: '100ms' },
  }),
  Bench,
  graph,
);
process.on('message', (message: string) => {
  if (message === 'go') void runtime.start();
  if (message === 'stop') {
    const events = runtime.stats().accumulators.events!.events;
    void runtime.shutdown().then(() => {
      process.send!({ events });
      process.disconnect();
    });
  }
});
// The backend loads node-redis when it first connects: load it now, so that the measured time
// starts at the first read.
await import('redis');
process.send!('ready');
