/**
 * A production service: a sequential reactor fed over HTTP and WebSocket (`cloaca/http`),
 * checkpointed to a file, watched through `/health`, `/ready` and `/metrics`, and stopped
 * gracefully by SIGINT/SIGTERM (drain, persist, close, exit 0; a second signal exits at once).
 *
 *     node dist/examples/service.js [--port 8080] [--checkpoint orders.db]
 *     CLOACA_API_KEY=secret node dist/examples/service.js --host 0.0.0.0
 *
 * Then: `curl -X POST localhost:8080/v1/health/accumulators/orders/inject -d '{"event":{"id":1,"qty":5}}'`.
 * A restart on the same checkpoint file fires every order accepted before the last commit,
 * whatever stopped the process.
 */
import { parseArgs } from 'node:util';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';
import { serve } from 'cloaca/http';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    checkpoint: { type: 'string', default: 'orders.db' },
  },
});

const Orders = reactor({ name: 'orders_reactor', accumulators: ['orders'], strategy: 'sequential' });
const book = await new ComputationGraphBuilder('book_order', {
  reactor: Orders,
  nodes: {
    validate: (order: { id: number; qty: number }) => (order.qty > 0 ? ['Valid', order] : ['Invalid', order]),
    book: (order: { id: number; qty: number }) => ({ booked: order.id }),
    reject: (order: { id: number; qty: number }) => ({ rejected: order.id }),
  },
  graph: {
    validate: { inputs: ['orders'], routes: { Valid: 'book', Invalid: 'reject' } },
    book: {},
    reject: {},
  },
}).build();

const runtime = new Runtime({ checkpoint: values.checkpoint });
runtime.register(passthroughAccumulator({ name: 'orders' }), Orders, book);
runtime.on('error', (error) => console.error(`error [${(error as { code?: string }).code}]: ${error.message}`));
runtime.on('state', (state) => console.log(`runtime ${state}`));

await runtime.start();
// The API key comes from the environment; without one, serve() refuses any host but loopback.
const apiKey = process.env.CLOACA_API_KEY;
const ops = await serve(runtime, {
  port: Number(values.port),
  host: values.host,
  ...(apiKey === undefined ? {} : { apiKey }),
});
console.log(`serving orders at ${ops.url} (dashboard ${ops.url}/)`);

// SIGINT/SIGTERM: the runtime drains, persists and closes; then the server closes and the
// process exits 0. The server answers while the runtime stops (/ready is 503 with a reason).
runtime.on('state', (state) => {
  if (state === 'stopped') void ops.close().then(() => process.exit());
});
runtime.shutdownOnSignals(['SIGINT', 'SIGTERM'], { exit: false });
