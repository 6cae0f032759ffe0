/**
 * The WebSocket endpoints: `/v1/ws/accumulator/<name>` (events in), `/v1/ws/reactor/<name>`
 * (commands) and `/v1/ws/dashboard` (the live feed). An upgrade to anything else, or without
 * the API key, is answered on the raw socket and never upgraded.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Runtime } from '../runtime/runtime.js';
import { refuse, toHttpError } from './answer-errors.js';
import type { ApiKey } from './auth.js';
import { feed } from './live.js';
import type { Names } from './names.js';
import { decodeSegment } from './routes.js';
import type { Sampler } from './sampler.js';
import { SocketStats, commands, ingest, kUnknownName, truncate, type SocketKind } from './sockets.js';

/** What the WebSocket endpoints serve from. */
export interface UpgradeDeps {
  readonly runtime: Runtime;
  readonly wss: WebSocketServer;
  readonly apiKey: ApiKey | null;
  readonly names: Names;
  readonly sockets: SocketStats;
  readonly sampler: Sampler;
}

/** The server's `upgrade` listener. */
export function upgradeListener(deps: UpgradeDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { wss, apiKey } = deps;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/v1\/ws\/(?:(accumulator|reactor)\/([^/]+)|(dashboard))$/.exec(url.pathname);
    if (match === null) return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    if (apiKey !== null && !apiKey.admits(req, url.searchParams.get('token'))) {
      return refuse(socket, 401, 'missing or wrong API key (Authorization: Bearer <key>, or ?token=<key>)');
    }
    let name: string;
    try {
      name = match[2] === undefined ? '' : decodeSegment(match[2]);
    } catch (error) {
      return refuse(socket, 400, toHttpError(error).message);
    }
    const kind = (match[1] ?? match[3]) as SocketKind;
    wss.handleUpgrade(req, socket, head, (ws) => attach(deps, ws, kind, name));
  };
}

function attach(
  { runtime, names, sockets, sampler }: UpgradeDeps,
  ws: WebSocket,
  kind: SocketKind,
  name: string,
): void {
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
