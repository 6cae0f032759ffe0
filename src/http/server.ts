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
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { describe } from '../model/describe.js';
import {
  ConfigurationError,
  InvalidArgumentError,
  RegistrationError,
  StateError,
  UncloneableValueError,
} from '../model/errors.js';
import {
  rejectUnknownKeys,
  requireNonEmptyString,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';
import type { Runtime } from '../runtime/runtime.js';
import { accumulatorItem, fireItem, fireRecord, graphItem, list, notReady, reactorItem } from './answers.js';
import { ApiKey, isLoopback } from './auth.js';
import { fire, isObject, reactorNamed } from './commands.js';
import { dashboardFiles } from './dashboard.js';
import { HttpError, readJson, readJsonBody, sendError, sendJson, stringify, writeJson } from './json.js';
import { feed } from './live.js';
import { OpsMetrics } from './metrics.js';
import { Sampler } from './sampler.js';
import { SocketStats, commands, ingest, kUnknownName, truncate, type SocketKind } from './sockets.js';

/** Options of {@link serve}. */
export interface ServeOptions {
  /**
   * TCP port; 0 picks a free one (read it from `url`).
   * @default 8080
   * @example serve(runtime, { port: 0 })
   */
  readonly port?: number;
  /**
   * Interface to listen on. Anything but a loopback address (`127.0.0.1`, `::1`, `localhost`)
   * needs an `apiKey`.
   * @default '127.0.0.1'
   * @example serve(runtime, { host: '0.0.0.0', apiKey: process.env.CLOACA_API_KEY })
   */
  readonly host?: string;
  /**
   * The key every `/v1/` path and WebSocket asks for: `Authorization: Bearer <key>`, or
   * `?token=<key>` on a WebSocket URL. `/health`, `/ready`, `/metrics` and the dashboard's
   * page stay open (the page asks for the key itself: open it as `/?token=<key>`).
   */
  readonly apiKey?: string;
  /**
   * Largest request body, and largest WebSocket message, in bytes.
   * @default 1048576
   * @example serve(runtime, { bodyLimit: 64 * 1024 })
   */
  readonly bodyLimit?: number;
}

/** A running ops server. */
export interface OpsServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Closes WebSockets (1001), then the server; resolves once every connection is gone. */
  close(): Promise<void>;
}

const kOptionKeys = ['port', 'host', 'apiKey', 'bodyLimit'];
const kDefaultBodyLimit = 1_048_576;
/** How long WebSocket clients get to answer the closing handshake before being cut off. */
const kCloseGraceMs = 1000;

interface Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The query string, without the `?`. */
  readonly search: string;
  /** Decoded path parameters, in order. */
  readonly params: readonly string[];
}

/** Answers a request: synchronously, through a callback (then it answers errors itself), or by promise. */
type Handler = (ctx: Context) => void | Promise<void>;

interface Route {
  readonly path: RegExp;
  /** Open to anyone (no API key), or under `/v1/`. */
  readonly open: boolean;
  readonly methods: Readonly<Partial<Record<'GET' | 'POST', Handler>>>;
}

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
  requireOptionsObject('serve', options);
  rejectUnknownKeys('serve', options, kOptionKeys);
  const { port = 8080, host = '127.0.0.1', bodyLimit = kDefaultBodyLimit } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigurationError(
      'serve',
      port,
      `serve: 'port' must be an integer from 0 to 65535, got ${describe(port)}`,
    );
  }
  requireNonEmptyString('serve', 'host', host);
  requirePositiveInteger('serve', 'bodyLimit', bodyLimit);
  const apiKey =
    options.apiKey === undefined ? null : new ApiKey(requireNonEmptyString('serve', 'apiKey', options.apiKey));
  if (apiKey === null && !isLoopback(host)) {
    throw new ConfigurationError(
      'serve',
      host,
      `serve: refusing to listen on '${host}' without an apiKey: anyone who can reach it could fire, pause and feed the runtime (set apiKey, or listen on 127.0.0.1)`,
    );
  }

  const sampler = new Sampler(runtime, 1000);
  const sockets = new SocketStats();
  const metrics = new OpsMetrics(runtime, () => sampler.recent(), sockets);
  const files = dashboardFiles();
  const names = new Names(runtime);
  const routes = makeRoutes(runtime, names, metrics, files, bodyLimit);
  const wss = new WebSocketServer({ noServer: true, maxPayload: bodyLimit, clientTracking: true });

  const server = createServer((req, res) => {
    // Handlers answer synchronously, by callback (the ingest path) or by promise (the rest).
    try {
      handle(req, res)?.catch((error: unknown) => answerError(res, error));
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

  function handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    // Split by hand: a WHATWG URL costs more than the rest of an inject request's routing.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const search = q < 0 ? '' : target.slice(q + 1);
    for (const route of routes) {
      const match = route.path.exec(path);
      if (match === null) continue;
      if (!route.open && apiKey !== null && !apiKey.admits(req, null)) throw unauthorised();
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const handler = route.methods[method as 'GET' | 'POST'];
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        throw new HttpError(405, `${req.method} is not allowed on ${path} (allowed: ${allow})`, {}, { allow });
      }
      return handler({ req, res, search, params: match.slice(1).map(decode) });
    }
    if (path.startsWith('/v1/') && apiKey !== null && !apiKey.admits(req, null)) throw unauthorised();
    throw new HttpError(404, `no such path: ${path}`);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/v1\/ws\/(?:(accumulator|reactor)\/([^/]+)|(dashboard))$/.exec(url.pathname);
    if (match === null) return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    if (apiKey !== null && !apiKey.admits(req, url.searchParams.get('token'))) {
      return refuse(socket, 401, 'missing or wrong API key (Authorization: Bearer <key>, or ?token=<key>)');
    }
    let name: string;
    try {
      name = match[2] === undefined ? '' : decode(match[2]);
    } catch (error) {
      return refuse(socket, 400, toHttpError(error).message);
    }
    const kind = (match[1] ?? match[3]) as SocketKind;
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, kind, name));
  });

  function attach(ws: WebSocket, kind: SocketKind, name: string): void {
    sockets.opened(kind, ws);
    // A malformed frame or an oversized message: ws closes the connection (1002, 1009) and
    // reports it here; it concerns that client only.
    ws.on('error', () => {});
    const known = kind === 'dashboard' || names.has(kind, name);
    if (!known) {
      ws.close(kUnknownName, truncate(`no ${kind} named '${name}'`));
      return;
    }
    if (kind === 'accumulator') ingest(ws, runtime, name, sockets);
    else if (kind === 'reactor') commands(ws, runtime, name, sockets);
    else feed(ws, runtime, sampler);
  }

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

function makeRoutes(
  runtime: Runtime,
  names: Names,
  metrics: OpsMetrics,
  files: ReturnType<typeof dashboardFiles>,
  bodyLimit: number,
): Route[] {
  const file = (path: string): Handler => {
    const { type, body } = files.get(path)!;
    return ({ res }) => {
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(body);
    };
  };
  const route = (path: RegExp, methods: Route['methods'], open = false): Route => ({ path, open, methods });
  const body = async (req: IncomingMessage): Promise<Record<string, unknown> | undefined> => {
    const value = await readJson(req, bodyLimit);
    if (value !== undefined && !isObject(value)) throw new HttpError(400, 'the body must be a JSON object');
    return value;
  };
  const graphs = () => runtime.inspect().graphs;
  // The ingest answer, serialised once per accumulator (names are bounded by registrations).
  const answers = new Map<string, string>();
  const delivered = (name: string): string => {
    let text = answers.get(name);
    if (text === undefined) answers.set(name, (text = JSON.stringify({ accumulator: name, delivered: true })));
    return text;
  };

  return [
    // The ingest path first: it is the one hit thousands of times a second.
    route(/^\/v1\/health\/accumulators\/([^/]+)\/inject$/, {
      POST: ({ req, res, params }) => {
        const name = params[0]!;
        if (!names.has('accumulator', name)) {
          throw new HttpError(404, `no accumulator named '${name}'`, { accumulator: name });
        }
        readJsonBody(req, bodyLimit, (error, command) => {
          try {
            if (error !== null) throw error;
            if (!isObject(command) || !('event' in command)) {
              throw new HttpError(400, `the body must be {"event": <json>}`);
            }
            if (runtime.state !== 'started') {
              throw new HttpError(
                503,
                `the runtime is ${runtime.state}: it takes no events`,
                { accumulator: name, delivered: false },
                { 'retry-after': '1' },
              );
            }
            if (!runtime.push(name, command.event)) {
              throw new HttpError(
                503,
                `accumulator '${name}' has no room (backpressure): the event was not accepted, retry later`,
                { accumulator: name, delivered: false },
                { 'retry-after': '1' },
              );
            }
            writeJson(res, 200, delivered(name));
          } catch (failure) {
            answerError(res, failure);
          }
        });
      },
    }),
    route(/^\/$/, { GET: file('/') }, true),
    route(/^\/dashboard\.js$/, { GET: file('/dashboard.js') }, true),
    route(/^\/health$/, { GET: ({ res }) => sendJson(res, 200, { status: 'ok' }) }, true),
    route(
      /^\/ready$/,
      {
        GET: ({ res }) => {
          const reason = notReady(runtime.inspect());
          if (reason === null) sendJson(res, 200, { status: 'ready' });
          else sendJson(res, 503, { status: 'not ready', reason });
        },
      },
      true,
    ),
    route(
      /^\/metrics$/,
      {
        GET: async ({ res }) => {
          const text = await metrics.text();
          res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
      },
      true,
    ),
    route(/^\/v1\/health\/accumulators$/, {
      GET: ({ res }) => sendJson(res, 200, list(runtime.inspect().accumulators.map(accumulatorItem))),
    }),
    route(/^\/v1\/health\/reactors$/, {
      GET: ({ res }) => sendJson(res, 200, list(runtime.inspect().reactors.map(reactorItem))),
    }),
    route(/^\/v1\/health\/graphs$/, { GET: ({ res }) => sendJson(res, 200, list(graphs().map(graphItem))) }),
    route(/^\/v1\/health\/graphs\/([^/]+)$/, {
      GET: ({ res, params }) => {
        const graph = graphs().find((g) => g.name === params[0]);
        if (graph === undefined) throw new HttpError(404, `no graph named '${params[0]}'`, { graph: params[0] });
        sendJson(res, 200, graphItem(graph));
      },
    }),
    route(/^\/v1\/health\/reactors\/([^/]+)\/fire$/, {
      POST: async ({ req, res, params }) => {
        const name = params[0]!;
        reactorNamed(runtime, name);
        const command = (await body(req)) ?? { mode: 'force_fire' };
        sendJson(res, 200, fireRecord(await fire(runtime, name, command.mode, command.inputs)));
      },
    }),
    route(/^\/v1\/health\/reactors\/([^/]+)\/(pause|resume)$/, {
      POST: ({ res, params }) => {
        const [name, verb] = params as [string, string];
        const reactor = reactorNamed(runtime, name);
        if (verb === 'pause') reactor.pause();
        else reactor.resume();
        sendJson(res, 200, { reactor: name, paused: reactor.getState().paused });
      },
    }),
    route(/^\/v1\/health\/reactors\/([^/]+)\/fires$/, {
      GET: ({ res, search, params }) => {
        const name = params[0]!;
        reactorNamed(runtime, name);
        const raw = new URLSearchParams(search).get('limit');
        const limit = raw === null ? 50 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1) {
          throw new HttpError(400, `'limit' must be a positive integer, got '${raw}'`);
        }
        sendJson(res, 200, list(runtime.recentFires(name, Math.min(limit, 200)).map(fireItem)));
      },
    }),
  ];
}

/**
 * The runtime's accumulator and reactor names, read once: names are fixed once registered, and
 * the ingest paths ask on every request. A name not found re-reads them (registrations made
 * after `serve`, before `start`).
 */
class Names {
  readonly #runtime: Runtime;
  #accumulators = new Set<string>();
  #reactors = new Set<string>();

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  has(kind: 'accumulator' | 'reactor', name: string): boolean {
    const set = (): Set<string> => (kind === 'accumulator' ? this.#accumulators : this.#reactors);
    if (set().has(name)) return true;
    const { accumulators } = this.#runtime.stats();
    this.#accumulators = new Set(Object.keys(accumulators));
    this.#reactors = new Set(Object.keys(this.#runtime.stats().reactors));
    return set().has(name);
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: '${segment}'`);
  }
}

function unauthorised(): HttpError {
  return new HttpError(
    401,
    'missing or wrong API key (Authorization: Bearer <key>)',
    {},
    { 'www-authenticate': 'Bearer' },
  );
}

/** Answers a request with the error thrown while handling it (or drops it if it already answered). */
function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) res.destroy();
  else sendError(res, toHttpError(error));
}

/** The answer an error thrown while handling a request gets. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RegistrationError) return new HttpError(404, message);
  if (error instanceof StateError) return new HttpError(503, message, {}, { 'retry-after': '1' });
  if (error instanceof UncloneableValueError || error instanceof InvalidArgumentError)
    return new HttpError(400, message);
  return new HttpError(500, message);
}

/** Answers an upgrade request without upgrading it. */
function refuse(socket: Duplex, status: number, message: string): void {
  const body = stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}Connection: close\r\n\r\n${body}`,
  );
}
