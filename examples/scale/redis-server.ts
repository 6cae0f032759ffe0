/**
 * A private redis-server for the scale-out example, the Redis benchmarks and the tests: started
 * on a loopback port without persistence, stopped by its PID. The package itself never starts
 * one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** How to get the binary where it is missing (Debian). */
export const redisServerInstall = 'apt-get install -y redis-server';

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

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts `redis-server` on `port`; resolves with its process once it accepts connections. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  if (redisServerBinary === undefined) throw new Error(`redis-server is not installed: ${redisServerInstall}`);
  const child = spawn(
    redisServerBinary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      reject(new Error(`redis-server on port ${port} exited (${code ?? signal}) before it was ready:\n${output}`));
    child.stdout!.on('data', onData);
    child.stderr!.resume();
    child.once('exit', onExit);
    child.once('error', reject);
  });
  return child;
}

/** Kills a server started by {@link startRedisServer} (SIGKILL) and resolves once it is gone. */
export async function killRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
