/**
 * The options of `serve()`: their types with defaults, one defaults object, and the one place
 * that checks them (a bad value is a ConfigurationError printing what was received).
 */
import { ConfigurationError } from '../model/errors.js';
import {
  rejectUnknownKeys,
  requireIntegerInRange,
  requireNonEmptyString,
  requireOptionsObject,
  requirePositiveInteger,
} from '../model/options.js';
import { ApiKey, isLoopback } from './auth.js';

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

/** What {@link ServeOptions} default to. */
export const serveDefaults = {
  port: 8080,
  host: '127.0.0.1',
  bodyLimit: 1_048_576,
} as const satisfies Required<Omit<ServeOptions, 'apiKey'>>;

/** {@link ServeOptions} checked, with the defaults applied. */
export interface ResolvedServeOptions {
  readonly port: number;
  readonly host: string;
  readonly bodyLimit: number;
  /** Null when none is asked for (only on a loopback host). */
  readonly apiKey: ApiKey | null;
}

const kOptionKeys: readonly (keyof ServeOptions)[] = ['port', 'host', 'apiKey', 'bodyLimit'];

/**
 * Checks `options` and applies {@link serveDefaults}. Throws ConfigurationError for an unknown
 * key, a bad value, or a non-loopback `host` without `apiKey`.
 */
export function resolveServeOptions(options: ServeOptions): ResolvedServeOptions {
  requireOptionsObject('serve', options);
  rejectUnknownKeys('serve', options, kOptionKeys);
  // Only `undefined` takes the default, as if the option were left out.
  const { port = serveDefaults.port, host = serveDefaults.host, bodyLimit = serveDefaults.bodyLimit } = options;
  requireIntegerInRange('serve', 'port', port, 0, 65535);
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
  return { port, host, bodyLimit, apiKey };
}
