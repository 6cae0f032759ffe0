/**
 * JSON answers of the ops server: every answer, errors included, is JSON with a JSON content
 * type. Values from graphs (fire record outputs, reactor caches) are anything structured clone
 * allows, so they are written with a replacer that gives each a faithful JSON form: a BigInt as
 * its decimal string, a Map as an object, a Set or a typed array as an array, an Error as its
 * name, message and code; functions and symbols cannot occur (they are not cloneable). A value
 * with a cycle is written with the repeated objects replaced by `"[Circular]"`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request that gets an error answer: `{"error": message, ...extra}` with `status`. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(
    status: number,
    message: string,
    extra: Readonly<Record<string, unknown>> = {},
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
}

/** JSON.stringify with the replacer described in the module comment. */
export function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, replacer);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
      const out = replacer.call(this, key, v);
      if (typeof out === 'object' && out !== null) {
        if (seen.has(out)) return '[Circular]';
        seen.add(out);
      }
      return out;
    });
  }
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), v]));
  if (value instanceof Set) return [...value];
  if (value instanceof Error) {
    const { name, message } = value;
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { ...value, name, message } : { ...value, name, message, code };
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<unknown>);
  if (value instanceof RegExp) return String(value);
  return value;
}

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  writeJson(res, status, stringify(body), headers);
}

/** Writes an answer already serialised as JSON. */
export function writeJson(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Writes an error answer: `{"error": message, ...extra}`. */
export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: error.message, ...error.extra }, error.headers);
}

/**
 * Reads a request body of at most `limit` bytes and parses it as JSON, then calls `done` once:
 * with the value (undefined for an empty body) or with the error answer. A declared or actual
 * size over the limit is a 413 (the rest of the body is read and dropped; the connection closes
 * after the answer), malformed JSON a 400. A callback rather than a promise: this is the ingest
 * path, taken once per request, and a promise chain per request costs more than the parsing.
 */
export function readJsonBody(
  req: IncomingMessage,
  limit: number,
  done: (error: HttpError | null, value: unknown) => void,
): void {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return done(tooLarge(limit), undefined);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    if (size > limit) return;
    size += chunk.length;
    if (size <= limit) return void chunks.push(chunk);
    chunks.length = 0;
    done(tooLarge(limit), undefined);
  });
  req.on('end', () => {
    if (size > limit) return;
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    if (text === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return done(
        new HttpError(400, `malformed JSON body: ${error instanceof Error ? error.message : String(error)}`),
        undefined,
      );
    }
    done(null, value);
  });
}

/** {@link readJsonBody} as a promise, for the paths that are not hot. */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) =>
    readJsonBody(req, limit, (error, value) => (error ? reject(error) : resolve(value))),
  );
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `request body over the limit of ${limit} bytes`, { limit }, { connection: 'close' });
}
