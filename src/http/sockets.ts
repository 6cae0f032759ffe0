/**
 * The WebSocket endpoints (`ws` in `noServer` mode; the upgrade itself is checked in
 * `server.ts`):
 *
 * - `/v1/ws/accumulator/{name}`: every message (text or binary) is one JSON event pushed to the
 *   accumulator. While the accumulator has no room the socket is not read (`ws.pause()`): the
 *   TCP window closes and the producer's sends back up, so backpressure reaches the producer
 *   and the server's memory stays flat. The few messages already read when the socket paused
 *   wait in order and are pushed first once there is room. The server acknowledges with
 *   `{"type":"ack","accepted":N}`, N the events of this connection accepted so far, at most
 *   once per event-loop turn; an event acknowledged was accepted by the runtime (and with a
 *   checkpoint, is on its way to disk like any push). A message that is not JSON is answered
 *   `{"type":"error",...}` and skipped.
 * - `/v1/ws/reactor/{name}`: JSON commands `{"command": "force_fire" | "fire_with" |
 *   "get_state" | "pause" | "resume"}` (`fire_with` takes `inputs`, or `cache` as the
 *   reference server names it), answered with `{"type": "fired" | "state" | "paused" |
 *   "resumed" | "error", ...}`; an `id` in a command is echoed in its answer.
 * - `/v1/ws/dashboard`: the dashboard's live feed, one update a second.
 *
 * A client that does not read what the server sends (its buffered amount passes
 * {@link kMaxBuffered}) is disconnected (dashboard updates are skipped instead: the next one
 * supersedes them), so no client can make the server buffer without bound.
 */
import { WebSocket, type RawData } from 'ws';
import type { Runtime } from '../runtime/runtime.js';
import { fireRecord } from './answers.js';
import { fire, isObject } from './commands.js';
import { HttpError, stringify } from './json.js';

/** Bytes a client may leave unread before the server stops writing to it. */
export const kMaxBuffered = 1 << 20;

/** Close code for a name that is not registered. */
export const kUnknownName = 4404;

/** The WebSocket endpoint kinds. */
export type SocketKind = 'accumulator' | 'reactor' | 'dashboard';

/** Connection and message counts, for the metrics. */
export class SocketStats {
  readonly active = new Map<string, number>([
    ['accumulator', 0],
    ['reactor', 0],
    ['dashboard', 0],
  ]);
  readonly messages = new Map<string, number>([
    ['accumulator', 0],
    ['reactor', 0],
    ['dashboard', 0],
  ]);

  opened(kind: SocketKind, ws: WebSocket): void {
    this.active.set(kind, this.active.get(kind)! + 1);
    ws.once('close', () => this.active.set(kind, this.active.get(kind)! - 1));
  }

  received(kind: SocketKind): void {
    this.messages.set(kind, this.messages.get(kind)! + 1);
  }
}

/**
 * Sends unless the client stopped reading; drops the connection when it did (a closing
 * handshake would wait for a client that reads nothing).
 */
function send(ws: WebSocket, message: unknown): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  if (ws.bufferedAmount > kMaxBuffered) {
    ws.terminate();
    return;
  }
  ws.send(typeof message === 'string' ? message : stringify(message));
}

function parse(data: RawData): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse((data as Buffer).toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, error: `malformed JSON message: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `/v1/ws/accumulator/{name}`: pushes each message; stops reading while there is no room. */
export function ingest(ws: WebSocket, runtime: Runtime, name: string, stats: SocketStats): void {
  /** Events read but not yet accepted, oldest first, from `head` on. */
  let waiting: unknown[] = [];
  let head = 0;
  let accepted = 0;
  let acked = 0;
  let ackQueued = false;

  const ack = (): void => {
    ackQueued = false;
    if (acked === accepted) return;
    acked = accepted;
    send(ws, `{"type":"ack","accepted":${accepted}}`);
  };
  const scheduleAck = (): void => {
    if (ackQueued) return;
    ackQueued = true;
    setImmediate(ack);
  };
  /** Pushes one event: true when accepted, false when refused; closes the socket when the runtime cannot take pushes. */
  const push = (event: unknown): boolean => {
    let ok: boolean;
    try {
      ok = runtime.push(name, event);
    } catch (error) {
      ws.close(1011, truncate(error instanceof Error ? error.message : String(error)));
      return true;
    }
    if (ok) {
      accepted++;
      scheduleAck();
    }
    return ok;
  };
  const drain = async (): Promise<void> => {
    while (head < waiting.length) {
      await runtime.whenWritable(name);
      if (ws.readyState !== WebSocket.OPEN) return; // closed: what waits was never acknowledged
      while (head < waiting.length && push(waiting[head])) waiting[head++] = undefined;
    }
    waiting = [];
    head = 0;
    ws.resume();
  };

  ws.on('message', (data) => {
    stats.received('accumulator');
    const parsed = parse(data);
    if (!parsed.ok) {
      send(ws, { type: 'error', error: parsed.error });
      return;
    }
    if (head < waiting.length) {
      waiting.push(parsed.value); // read after the socket paused: keep the order
      return;
    }
    if (push(parsed.value)) return;
    waiting.push(parsed.value);
    ws.pause();
    void drain();
  });
}

/** `/v1/ws/reactor/{name}`: answers each command. */
export function commands(ws: WebSocket, runtime: Runtime, name: string, stats: SocketStats): void {
  ws.on('message', (data) => {
    stats.received('reactor');
    const parsed = parse(data);
    if (!parsed.ok) {
      send(ws, { type: 'error', error: parsed.error });
      return;
    }
    const command = parsed.value;
    const id = isObject(command) && command.id !== undefined ? { id: command.id } : {};
    void answer(runtime, name, command).then(
      (reply) => send(ws, { ...reply, ...id }),
      (error: unknown) =>
        send(ws, {
          type: 'error',
          ...(isObject(command) && typeof command.command === 'string' ? { command: command.command } : {}),
          error: error instanceof Error ? error.message : String(error),
          ...(error instanceof HttpError ? error.extra : {}),
          ...id,
        }),
    );
  });
}

async function answer(runtime: Runtime, name: string, command: unknown): Promise<Record<string, unknown>> {
  if (!isObject(command) || typeof command.command !== 'string') {
    throw new Error(
      `a command is an object {"command": "force_fire" | "fire_with" | "get_state" | "pause" | "resume"}`,
    );
  }
  const reactor = runtime.reactor(name);
  switch (command.command) {
    case 'force_fire':
    case 'fire_with': {
      const record = await fire(runtime, name, command.command, command.inputs ?? command.cache);
      return { type: 'fired', reactor: name, record: fireRecord(record) };
    }
    case 'get_state':
      return { type: 'state', reactor: name, state: reactor.getState() };
    case 'pause':
      reactor.pause();
      return { type: 'paused', reactor: name, paused: true };
    case 'resume':
      reactor.resume();
      return { type: 'resumed', reactor: name, paused: false };
    default:
      throw new Error(
        `unknown command ${JSON.stringify(command.command)} (expected force_fire, fire_with, get_state, pause or resume)`,
      );
  }
}

/** Close reasons are limited to 123 bytes. */
export function truncate(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString('utf8')}...`;
}
