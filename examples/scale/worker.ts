/**
 * One cloaca process of the scale-out example: its own Runtime and checkpoint file, a `redis`
 * stream accumulator in the shared consumer group, a sequential reactor and a small graph. It
 * appends the number of every entry it fires to its own file (one synchronous write each, so a
 * SIGKILL loses none that was recorded) and reports its count to the parent every 250 ms.
 *
 *     node worker.js '{"url":..., "stream":..., "group":..., "consumer":..., "checkpoint":..., "fired":...}'
 */
import { openSync, writeSync } from 'node:fs';
import { ComputationGraphBuilder, Runtime, reactor, streamAccumulator } from 'cloaca';

export interface WorkerConfig {
  readonly url: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly checkpoint: string;
  /** The file the numbers of fired entries are appended to. */
  readonly fired: string;
}

/** What a worker sends its parent. */
export type WorkerReport = { readonly type: 'live' } | { readonly type: 'fired'; readonly count: number };

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const send = (report: WorkerReport): void => void process.send?.(report);
const firedFd = openSync(config.fired, 'a');

const Scale = reactor({ name: 'scale', accumulators: ['events'], strategy: 'sequential' });
const graph = await new ComputationGraphBuilder('scale_graph', {
  reactor: Scale,
  executor: 'inline',
  nodes: {
    // A little work per entry: a running checksum of the payload.
    work(event: { n: number; payload: string }) {
      let sum = 0;
      for (let i = 0; i < event.payload.length; i++) sum = (sum * 31 + event.payload.charCodeAt(i)) | 0;
      return { n: event.n, sum };
    },
  },
  graph: { work: { inputs: ['events'] } },
}).build();

const runtime = new Runtime({ threads: 1, checkpoint: config.checkpoint });
runtime.register(
  streamAccumulator({
    name: 'events',
    type: 'redis',
    topic: config.stream,
    group: config.group,
    options: { url: config.url, consumer: config.consumer, claimIdle: '1s', block: '200ms' },
  }),
  Scale,
  graph,
);
let fired = 0;
runtime.on('fire', (record) => {
  if (!record.ok) return;
  writeSync(firedFd, `${(record.outputs!.work as { n: number }).n}\n`);
  fired++;
});
runtime.on('health', (event) => {
  if (event.name === 'events' && event.health === 'live') send({ type: 'live' });
});
runtime.on('error', (error) => console.error(`[${config.consumer}] ${error.message}`));
setInterval(() => send({ type: 'fired', count: fired }), 250).unref();
process.on('SIGTERM', () => {
  void runtime.shutdown().then(() => {
    send({ type: 'fired', count: fired });
    process.exit(0);
  });
});
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
await runtime.start();
