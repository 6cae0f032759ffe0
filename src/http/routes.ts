/**
 * The ops server's routes: a table of a dozen paths, each open (health, readiness, metrics, the
 * dashboard's files) or under `/v1/` behind the API key, and the dispatch of a request to its
 * handler. The ingest path comes first: it is the one hit thousands of times a second.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from '../runtime/runtime.js';
import { answerError, unauthorised } from './answer-errors.js';
import { accumulatorItem, fireItem, fireRecord, graphItem, keyItem, list, notReady, reactorItem } from './answers.js';
import type { ApiKey } from './auth.js';
import { fire, isObject, keyOf, reactorNamed } from './commands.js';
import type { dashboardFiles } from './dashboard.js';
import { HttpError, readJson, readJsonBody, sendJson, writeJson } from './json.js';
import type { OpsMetrics } from './metrics.js';
import type { Names } from './names.js';

/** What a handler gets of a request. */
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

/** One path of the table, with a handler per method. */
export interface Route {
  readonly path: RegExp;
  /** Open to anyone (no API key), or under `/v1/`. */
  readonly open: boolean;
  readonly methods: Readonly<Partial<Record<'GET' | 'POST', Handler>>>;
}

/** What the routes answer from. */
export interface RouteDeps {
  readonly runtime: Runtime;
  readonly names: Names;
  readonly metrics: OpsMetrics;
  readonly files: ReturnType<typeof dashboardFiles>;
  readonly bodyLimit: number;
}

/**
 * Finds the route of a request and runs its handler: synchronously, by callback (the ingest
 * path, which answers its own errors) or by promise. Throws an HttpError for an unknown path, a
 * method the route does not take, or a missing API key.
 */
export function routeRequest(
  routes: readonly Route[],
  apiKey: ApiKey | null,
  req: IncomingMessage,
  res: ServerResponse,
): void | Promise<void> {
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
    return handler({ req, res, search, params: match.slice(1).map(decodeSegment) });
  }
  if (path.startsWith('/v1/') && apiKey !== null && !apiKey.admits(req, null)) throw unauthorised();
  throw new HttpError(404, `no such path: ${path}`);
}

/** A path segment, percent-decoded; malformed encoding is a 400. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: '${segment}'`);
  }
}

/** The route table of an ops server. */
export function opsRoutes({ runtime, names, metrics, files, bodyLimit }: RouteDeps): Route[] {
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
    route(
      /^\/health$/,
      {
        GET: ({ res }) => {
          // A standby is alive and well: it only waits. Its ownership tells it from an owner.
          const { ownership } = runtime.inspect();
          sendJson(res, 200, ownership === null ? { status: 'ok' } : { status: 'ok', ownership });
        },
      },
      true,
    ),
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
    route(/^\/v1\/health\/reactors\/([^/]+)\/keys\/([^/]+)\/fire$/, {
      POST: async ({ req, res, params }) => {
        const [name, key] = params as [string, string];
        keyOf(reactorNamed(runtime, name), key);
        const command = (await body(req)) ?? { mode: 'force_fire' };
        sendJson(res, 200, fireRecord(await fire(runtime, name, command.mode, command.inputs, key)));
      },
    }),
    route(/^\/v1\/health\/reactors\/([^/]+)\/keys$/, {
      GET: ({ res, search, params }) => {
        const reactor = reactorNamed(runtime, params[0]!);
        keyOf(reactor, '');
        sendJson(res, 200, list(reactor.keyList(limitOf(search, 50, 1000)).map(keyItem)));
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
        sendJson(res, 200, list(runtime.recentFires(name, limitOf(search, 50, 200)).map(fireItem)));
      },
    }),
  ];
}

/** The `limit` query parameter: `fallback` when absent, at most `max`; a 400 unless a positive integer. */
function limitOf(search: string, fallback: number, max: number): number {
  const raw = new URLSearchParams(search).get('limit');
  const limit = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(limit) || limit < 1)
    throw new HttpError(400, `'limit' must be a positive integer, got '${raw}'`);
  return Math.min(limit, max);
}
