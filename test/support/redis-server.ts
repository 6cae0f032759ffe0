/**
 * A private redis-server for tests (examples/scale/redis-server.ts starts it: a free loopback
 * port, no persistence, stopped by its PID). A test file that needs one calls `useRedisServer()`
 * at the top and wraps its tests in `describeWithRedis(...)`: when the binary is missing the file
 * is skipped with a line saying what to install, unless CLOACA_REQUIRE_SERVERS=1 (CI), where that
 * is a failure.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createClient, type RedisClientType } from 'redis';
import {
  freePort,
  killRedisServer,
  redisServerBinary,
  redisServerInstall,
  startRedisServer,
} from '../../examples/scale/redis-server.js';

/**
 * `describe(name, body)` when redis-server is installed. Otherwise the body is skipped with a
 * line saying what to install, or, with CLOACA_REQUIRE_SERVERS=1, replaced by a failing test.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerBinary !== undefined) {
    describe(name, body);
  } else if (process.env.CLOACA_REQUIRE_SERVERS === '1') {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(`redis-server is not installed and CLOACA_REQUIRE_SERVERS=1: ${redisServerInstall}`);
      });
    });
  } else {
    const why = `redis-server is not installed; ${redisServerInstall}`;
    console.warn(`skipping '${name}': ${why}`);
    describe.skip(`${name} (skipped: ${why})`, body);
  }
}

/** One redis-server process, which a test can kill and start again on the same port. */
export class RedisServer {
  readonly port: number;
  #process: ChildProcess | undefined;
  readonly #clients: RedisClientType[] = [];

  private constructor(port: number) {
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port; resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after {@link kill}); empty, as there is no persistence. */
  async restart(): Promise<void> {
    this.#process = await startRedisServer(this.port);
  }

  /** Kills the server (SIGKILL) and resolves once it is gone; the clients made by {@link client} are closed. */
  async kill(): Promise<void> {
    for (const client of this.#clients.splice(0)) client.destroy();
    const child = this.#process;
    this.#process = undefined;
    if (child !== undefined) await killRedisServer(child);
  }

  /** A connected node-redis client of this server (closed by {@link kill}). */
  async client(): Promise<RedisClientType> {
    const client: RedisClientType = createClient({ url: this.url, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    this.#clients.push(client);
    await client.connect();
    return client;
  }
}

/**
 * Call once at the top of a test file: a server started before the file's tests and killed
 * after them; the function returns it.
 */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    if (redisServerBinary !== undefined) server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.kill();
  });
  return () => {
    if (server === undefined) throw new Error('the redis-server of this file is not running');
    return server;
  };
}
