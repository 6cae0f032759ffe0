/**
 * `cloaca/http`: the ops server of a runtime. Health and readiness, Prometheus metrics, REST and
 * WebSocket paths to inspect reactors, accumulators and graphs, fire, pause and resume reactors
 * and inject events, and a live dashboard page.
 *
 * @example
 * import { serve } from 'cloaca/http';
 * const ops = await serve(runtime, { port: 8080, apiKey: process.env.CLOACA_API_KEY });
 * console.log(`dashboard: ${ops.url}/`);
 * await ops.close();
 */
export { serve } from './http/server.js';
export type { OpsServer } from './http/server.js';
export type { ServeOptions } from './http/serve-options.js';
