/**
 * Helpers of the ops server tests: servers closed after each test, requests with full control
 * over the body (node:http), WebSocket clients whose messages can be awaited, and a check that
 * skips browser tests when Chromium is missing (unless CLOACA_REQUIRE_SERVERS=1).
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import type { Runtime } from 'cloaca';
import { serve, type OpsServer, type ServeOptions } from 'cloaca/http';

/** Call once per file: `ops(runtime, options)` serves on a free port; closed after each test. */
export function useServers(): (runtime: Runtime, options?: ServeOptions) => Promise<OpsServer> {
  const open: OpsServer[] = [];
  afterEach(async () => {
    for (const server of open.splice(0)) await server.close();
  });
  return async (runtime, options = {}) => {
    const server = await serve(runtime, { port: 0, ...options });
    open.push(server);
    return server;
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

/** One HTTP request; `body` is sent as is (a string or buffer), `headers` added. */
export function http(
  base: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string | number> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    // The server may answer (413) and close before the whole body is written.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? undefined : reject(error)));
    req.end(body);
  });
}

/** A WebSocket client whose messages (parsed JSON) and close can be awaited. */
export class Client {
  readonly ws: WebSocket;
  readonly messages: any[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = [];

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      this.messages.push(message);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
  }

  /** Resolves with the first message (already received or to come) that matches. */
  next(match: (m: any) => boolean): Promise<any> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  close(): void {
    this.ws.close();
  }
}

/** `ws://` URL of a path on the server. */
export function wsUrl(base: string, path: string): string {
  return base.replace(/^http/, 'ws') + path;
}

export const chromiumPath = '/usr/bin/chromium';

/**
 * True when browser tests can run. Without Chromium they are skipped (with the install
 * command in the skip message), unless CLOACA_REQUIRE_SERVERS=1, where the missing binary fails.
 */
export function haveChromium(): boolean {
  if (existsSync(chromiumPath)) return true;
  if (process.env.CLOACA_REQUIRE_SERVERS === '1') {
    throw new Error(
      `${chromiumPath} is missing and CLOACA_REQUIRE_SERVERS=1: install it (apt-get install -y chromium)`,
    );
  }
  console.warn(`skipping browser tests: ${chromiumPath} is missing (apt-get install -y chromium)`);
  return false;
}
