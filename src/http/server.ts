/**
 * `serve(runtime, options)`: the ops server of a runtime.
 *
 * Built on `node:http` and `ws` (no dependencies of its own). Measured on a 2-core machine,
 * fastify 5 with `@fastify/websocket` answered at the same rates (25-28k GET/s, 23-27k POST/s,
 * about 300k WebSocket frames/s), so a framework would buy no speed here, while one of its
 * dependencies asks for Node >= 22 and this package supports Node 20. The routing it would
 * provide is a table of a dozen paths (`routes` below).
 *
 * Every answer is JSON except `/metrics` (Prometheus text) and the dashboard's two files.
 * Requests are bounded: bodies and WebSocket messages by `bodyLimit`, headers by a 10 s
 * timeout, whole requests by 30 s; Node stops reading a connection whose answers are not being
 * read, and the WebSocket endpoints stop writing to a client that does not read (`sockets.ts`).
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { describe } from '../model/describe.js';
import { ConfigurationError, InvalidArgumentError } from '../model/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { answerError } from './answer-errors.js';
import { dashboardFiles } from './dashboard.js';
import { stringify } from './json.js';
import { OpsMetrics } from './metrics.js';
import { Names } from './names.js';
import { opsRoutes, routeRequest } from './routes.js';
import { resolveServeOptions, type ServeOptions } from './serve-options.js';
import { Sampler } from './sampler.js';
import { SocketStats } from './sockets.js';
import { upgradeListener } from './upgrade.js';

/** A running ops server. */
export interface OpsServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Closes WebSockets (1001), then the server; resolves once every connection is gone. */
  close(): Promise<void>;
}

/** How long WebSocket clients get to answer the closing handshake before being cut off. */
const kCloseGraceMs = 1000;

/**
 * Serves `runtime`'s ops surface over HTTP and WebSocket until `close()`.
 * The runtime may be started before or after; the server keeps answering after
 * `runtime.shutdown()` (`/ready` then says why it is not ready).
 *
 * Throws ConfigurationError for a bad option, a non-loopback `host` without `apiKey`, or an
 * address it cannot listen on.
 *
 * @example
 * const ops = await serve(runtime, { port: 8080, apiKey: process.env.CLOACA_API_KEY });
 * console.log(`dashboard: ${ops.url}/`);
 */
export async function serve(runtime: Runtime, options: ServeOptions = {}): Promise<OpsServer> {
  // By shape, not instanceof: an application may resolve its own copy of the package.
  if (typeof runtime !== 'object' || runtime === null || typeof (runtime as Runtime).inspect !== 'function') {
    throw new InvalidArgumentError('serve(runtime)', runtime, `serve: expected a Runtime, got ${describe(runtime)}`);
  }
  const { port, host, bodyLimit, apiKey } = resolveServeOptions(options);

  const sampler = new Sampler(runtime, 1000);
  const sockets = new SocketStats();
  const metrics = new OpsMetrics(runtime, () => sampler.recent(), sockets);
  const names = new Names(runtime);
  const routes = opsRoutes({ runtime, names, metrics, files: dashboardFiles(), bodyLimit });
  const wss = new WebSocketServer({ noServer: true, maxPayload: bodyLimit, clientTracking: true });

  const server = createServer((req, res) => {
    // Handlers answer synchronously, by callback (the ingest path) or by promise (the rest).
    try {
      routeRequest(routes, apiKey, req, res)?.catch((error: unknown) => answerError(res, error));
    } catch (error) {
      answerError(res, error);
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A malformed request line or header: answer 400 (as JSON) when the socket still can.
  server.on('clientError', (_error, socket) => {
    if (!socket.writable) return socket.destroy();
    const body = stringify({ error: 'malformed HTTP request' });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.on('upgrade', upgradeListener({ runtime, wss, apiKey, names, sockets, sampler }));

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => {
      sampler.stop();
      reject(
        new ConfigurationError(
          'serve',
          `${host}:${port}`,
          `serve: cannot listen on ${host}:${port}: ${error.message}`,
          { cause: error },
        ),
      );
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close() {
      closing ??= (async () => {
        sampler.stop();
        for (const ws of wss.clients) ws.close(1001, 'the server is closing');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.race([
          Promise.all([...wss.clients].map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
          new Promise((resolve) => setTimeout(resolve, kCloseGraceMs).unref()),
        ]);
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        wss.close();
        await closed;
      })();
      return closing;
    },
  };
}
