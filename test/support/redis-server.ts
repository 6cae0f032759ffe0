/**
 * A private redis-server for tests: started on a free loopback port, without persistence, and
 * stopped by its PID. A test file that needs one calls `useRedisServer()` at the top and wraps its
 * tests in `describeWithRedis(...)`: when the binary is missing the file is skipped with a line
 * saying what to install, unless CLOACA_REQUIRE_SERVERS=1 (CI), where that is a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createClient, type RedisClientType } from 'redis';

const kInstall = 'apt-get install -y redis-server';

/** The redis-server binary on PATH, or undefined. */
export const redisServerBinary: string | undefined = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'redis-server'))
  .find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

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
        throw new Error(`redis-server is not installed and CLOACA_REQUIRE_SERVERS=1: ${kInstall}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: redis-server is not installed; ${kInstall})`, body);
  }
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
    });
  });
}

/** One redis-server process. */
export class RedisServer {
  readonly port: number;
  #process: ChildProcess | undefined;
  readonly #clients: Array<RedisClientType> = [];

  private constructor(port: number) {
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port (or on `port`); resolves once it accepts connections. */
  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after {@link kill}); empty, as there is no persistence. */
  async restart(): Promise<void> {
    if (redisServerBinary === undefined) throw new Error(`redis-server is not installed: ${kInstall}`);
    const child = spawn(
      redisServerBinary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#process = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.resume();
      child.once('exit', (code, signal) =>
        reject(
          new Error(`redis-server on port ${this.port} exited (${code ?? signal}) before it was ready:\n${output}`),
        ),
      );
      child.once('error', reject);
    });
  }

  /** Kills the server (SIGKILL) and resolves once it is gone; the clients made by {@link client} are closed. */
  async kill(): Promise<void> {
    for (const client of this.#clients.splice(0)) client.destroy();
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** A connected node-redis client of this server (closed by {@link kill}). */
  async client(): Promise<RedisClientType> {
    const client = createClient({ url: this.url, socket: { reconnectStrategy: false } });
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
