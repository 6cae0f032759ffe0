/**
 * The producer of the scale-out example: adds `entries` entries `{ data: {"n":..,"payload":..} }`
 * to the stream as fast as the server takes them (pipelines of 100, 4 in flight).
 *
 *     node producer.js '{"url":..., "stream":..., "entries":...}'
 */
import { createClient } from 'redis';

export interface ProducerConfig {
  readonly url: string;
  readonly stream: string;
  readonly entries: number;
}

const config = JSON.parse(process.argv[2]!) as ProducerConfig;
// No client-side timeout: on a saturated machine an XADD waits; it is not given up.
const client = createClient({ url: config.url, commandOptions: { timeout: 0 } });
client.on('error', (error: Error) => console.error(`[producer] ${error.message}`));
await client.connect();

const payload = 'x'.repeat(64);
const inFlight = new Set<Promise<unknown>>();
for (let from = 0; from < config.entries; from += 100) {
  const batch = Promise.all(
    Array.from({ length: Math.min(100, config.entries - from) }, (_, i) =>
      client.xAdd(config.stream, '*', { data: JSON.stringify({ n: from + i, payload }) }),
    ),
  ).then(() => {
    inFlight.delete(batch);
  });
  inFlight.add(batch);
  if (inFlight.size >= 4) await Promise.race(inFlight);
}
await Promise.all(inFlight);
await client.close();
process.disconnect?.();
