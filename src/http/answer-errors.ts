/**
 * How the ops server answers what went wrong: each error a handler throws becomes an HTTP
 * status (a registry miss 404, a state refusal 503 with Retry-After, a bad value or key 400, anything
 * else 500), and an upgrade it will not make is answered on the raw socket.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  InvalidArgumentError,
  KeyError,
  RegistrationError,
  StateError,
  UncloneableValueError,
} from '../model/errors.js';
import { HttpError, sendError, stringify } from './json.js';

/** The answer to a request without the right API key. */
export function unauthorised(): HttpError {
  return new HttpError(
    401,
    'missing or wrong API key (Authorization: Bearer <key>)',
    {},
    { 'www-authenticate': 'Bearer' },
  );
}

/** Answers a request with the error thrown while handling it (or drops it if it already answered). */
export function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) res.destroy();
  else sendError(res, toHttpError(error));
}

/** The answer an error thrown while handling a request gets. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RegistrationError) return new HttpError(404, message);
  if (error instanceof StateError) return new HttpError(503, message, {}, { 'retry-after': '1' });
  if (error instanceof UncloneableValueError || error instanceof InvalidArgumentError || error instanceof KeyError)
    return new HttpError(400, message);
  return new HttpError(500, message);
}

/** Answers an upgrade request without upgrading it. */
export function refuse(socket: Duplex, status: number, message: string): void {
  const body = stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}Connection: close\r\n\r\n${body}`,
  );
}
