/**
 * `cloaca/worker`: what node modules import to talk back to the runtime running them.
 *
 * @example
 * import { host } from 'cloaca/worker';
 * export async function detect(tick) {
 *   if (tick.price > 100) await host.push('alerts', { price: tick.price });
 *   return tick;
 * }
 *
 * @module cloaca/worker
 */
export { host } from './exec/host-client.js';
export type { Host } from './exec/host-client.js';
