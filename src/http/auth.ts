/**
 * API-key checks. With a key set, every `/v1/` path needs `Authorization: Bearer <key>`; a
 * WebSocket upgrade may instead carry `?token=<key>` on its URL, because a browser's WebSocket
 * cannot set headers. Keys are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Compares digests, so neither the key's length nor its content leaks through timing. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class ApiKey {
  readonly #digest: Buffer;

  constructor(key: string) {
    this.#digest = digest(key);
  }

  /**
   * True when the request carries the key as a Bearer token, or as `token` (the `?token=` of a
   * WebSocket URL; null where that is not allowed).
   */
  admits(req: IncomingMessage, token: string | null): boolean {
    const header = req.headers.authorization;
    const bearer = header !== undefined && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '') : null;
    const presented = bearer ?? token;
    return presented !== null && timingSafeEqual(digest(presented), this.#digest);
  }
}

/** True for `localhost` and loopback addresses (127.0.0.0/8, ::1, IPv4-mapped 127.x). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  switch (isIP(host)) {
    case 4:
      return host.startsWith('127.');
    case 6:
      return /^(::1|(0+:){7}0*1|::ffff:127\.[\d.]+)$/i.test(host);
    default:
      return false;
  }
}
