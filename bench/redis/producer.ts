/**
 * The producer of the Redis latency benchmark, in a process of its own so that producing costs
 * the consumer nothing: adds `perSecond` entries a second for `ms` to `stream`, each carrying
 * `at`, the epoch time in milliseconds (sub-millisecond precision, comparable across processes)
 * just before its XADD, then reports `{ added, failed }` once every XADD was answered, and exits.
 *
 *     node producer.js '{"url":..., "stream":..., "perSecond":..., "ms":...}'
 */
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';

export interface ProducerConfig {
  readonly url: string;
  readonly stream: string;
  readonly perSecond: number;
  readonly ms: number;
}

const config = JSON.parse(process.argv[2]!) as ProducerConfig;
// No client-side timeout: on a saturated machine an XADD waits; it is not given up.
const client = createClient({ url: config.url, commandOptions: { timeout: 0 } });
client.on('error', () => {});
await client.connect();

let added = 0;
let failed = 0; // an XADD the server refused
const sent: Array<Promise<unknown>> = [];
const start = performance.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - start;
    const due = Math.floor((Math.min(elapsed, config.ms) / 1000) * config.perSecond);
    for (; added < due; added++) {
      const at = performance.timeOrigin + performance.now();
      sent.push(client.xAdd(config.stream, '*', { data: JSON.stringify({ n: added, at }) }).catch(() => failed++));
    }
    if (elapsed >= config.ms) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});
await Promise.all(sent);
await client.close();
process.send!({ added, failed });
process.disconnect();
