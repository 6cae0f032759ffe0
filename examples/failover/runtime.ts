/**
 * One runtime of the failover example (main.ts), forked as an owner or a standby of the id
 * `orders-1`: a sequential reactor books every order pushed to it, in order.
 *
 * Its parent sends `{ type: 'push', orders }`; it pushes each (waiting for room when refused),
 * awaits `persisted()` and answers `{ type: 'persisted', last }`. It tells `{ type: 'standby' }`
 * while it waits for the id, `{ type: 'owned', at }` once it owns it and `{ type: 'booked', order }` per firing; `{ type: 'stop' }` shuts it down.
 */
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';

/** What the parent sends. */
export type FailoverCommand = { readonly type: 'push'; readonly orders: readonly number[] } | { readonly type: 'stop' };

/** What a runtime tells its parent. */
export type FailoverReport =
  | { readonly type: 'standby' }
  | { readonly type: 'owned'; readonly at: number }
  | { readonly type: 'booked'; readonly order: number }
  | { readonly type: 'persisted'; readonly last: number };

const [url, role] = process.argv.slice(2);
const send = (report: FailoverReport): void => void process.send?.(report);

const Booking = reactor({ name: 'booking', accumulators: ['orders'], strategy: 'sequential' });
const graph = await new ComputationGraphBuilder('book', {
  reactor: Booking,
  nodes: {
    // A booking takes a moment, so a backlog of persisted orders waits behind it.
    async book(order: number) {
      await new Promise((resolve) => setImmediate(resolve));
      return order;
    },
  },
  graph: { book: { inputs: ['orders'] } },
}).build();

const runtime = new Runtime({ threads: 1, checkpoint: url, id: 'orders-1', standby: role === 'standby' });
runtime.register(passthroughAccumulator({ name: 'orders' }), Booking, graph);
runtime.on('fire', (record) => {
  if (record.ok) send({ type: 'booked', order: record.outputs!.book as number });
});
runtime.on('ownership', (ownership) => {
  if (ownership === 'standby') send({ type: 'standby' });
});
runtime.on('error', (error) => console.error(`[${role}] ${error.message}`));

// A parent gone without a word (killed) leaves no runtime behind it. A second shutdown() (after
// a `stop`) returns the first one's promise.
process.on('disconnect', () => void runtime.shutdown().then(() => process.exit(0)));
process.on('message', (command: FailoverCommand) => {
  if (command.type === 'stop') {
    void runtime.shutdown().then(() => process.disconnect());
    return;
  }
  void (async () => {
    for (const order of command.orders) {
      while (!runtime.push('orders', order)) await runtime.whenWritable('orders');
    }
    await runtime.persisted();
    send({ type: 'persisted', last: command.orders.at(-1)! });
  })();
});

await runtime.start();
send({ type: 'owned', at: Date.now() });
