/**
 * A private PostgreSQL cluster for the failover example, the checkpoint benchmarks and the
 * tests: `initdb` in a temporary directory, `pg_ctl` on a free loopback port with trust
 * authentication, a database `cloaca` owned by the superuser `cloaca`; removed when done.
 * PostgreSQL refuses to run as root, so as root the server commands run as the `postgres`
 * system user (`runuser`), in a directory that user owns. The package itself never starts one.
 */
import { execFile } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../scale/redis-server.js';

const run = promisify(execFile);

/** How to get the server where it is missing (Debian). */
export const postgresInstall = 'apt-get install -y postgresql';

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The directory holding `initdb` and `pg_ctl`, or undefined: PATH first, then Debian's
 * versioned directories (/usr/lib/postgresql/N/bin, newest first), which are not on PATH.
 */
export const postgresBinDir: string | undefined = (() => {
  const versioned = (() => {
    try {
      return readdirSync('/usr/lib/postgresql')
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => `/usr/lib/postgresql/${version}/bin`);
    } catch {
      return [];
    }
  })();
  return [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...versioned].find(
    (dir) => executable(join(dir, 'initdb')) && executable(join(dir, 'pg_ctl')),
  );
})();

/** The system user the server runs as when this process is root. */
const SERVER_USER = 'postgres';
const isRoot = process.getuid?.() === 0;

/** How {@link PostgresServer.stop} stops the server (pg_ctl's shutdown modes). */
export type StopMode = 'fast' | 'immediate';

/** One throwaway cluster, which a test can stop and start again on the same port and data. */
export class PostgresServer {
  readonly port: number;
  readonly #dir: string;
  readonly #bin: string;
  #running = false;

  private constructor(port: number, dir: string, bin: string) {
    this.port = port;
    this.#dir = dir;
    this.#bin = bin;
  }

  /** The database's URL: user and database `cloaca`, no password (trust on loopback). */
  get url(): string {
    return `postgres://cloaca@127.0.0.1:${this.port}/cloaca`;
  }

  /** Creates a cluster in a temporary directory and starts it; resolves once the database exists. */
  static async start(): Promise<PostgresServer> {
    if (postgresBinDir === undefined) throw new Error(`PostgreSQL is not installed: ${postgresInstall}`);
    const dir = mkdtempSync(join(tmpdir(), 'cloaca-pg-'));
    if (isRoot) {
      const { uid, gid } = userInfoOf(SERVER_USER);
      chownSync(dir, uid, gid);
    }
    const server = new PostgresServer(await freePort(), dir, postgresBinDir);
    await server.#as('initdb', [
      '-D',
      server.#data,
      '-U',
      'cloaca',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--no-instructions',
    ]);
    await server.restart();
    // Through SQL, not `createdb`: some installations put only the server programs on PATH.
    const admin = new pg.Client({ connectionString: `postgres://cloaca@127.0.0.1:${server.port}/postgres` });
    await admin.connect();
    try {
      await admin.query('create database cloaca');
    } finally {
      await admin.end();
    }
    return server;
  }

  get #data(): string {
    return join(this.#dir, 'data');
  }

  /** Runs one of the server's programs, as the server user when this process is root. */
  async #as(program: string, args: readonly string[]): Promise<void> {
    const path = join(this.#bin, program);
    const [command, argv] = isRoot ? ['runuser', ['-u', SERVER_USER, '--', path, ...args]] : [path, args];
    await run(command, argv, { cwd: this.#dir });
  }

  /** Starts the server (again, after {@link stop}) on the same port and data; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#running) await this.stop('fast');
    const options = [
      `-p ${this.port}`,
      `-k ${this.#dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    await this.#as('pg_ctl', ['-D', this.#data, '-l', join(this.#dir, 'log'), '-w', '-o', options, 'start']);
    this.#running = true;
  }

  /**
   * Stops the server: `fast` ends every session with a FATAL error first, `immediate` drops them
   * as a crash would (the sockets close without a word).
   */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#as('pg_ctl', ['-D', this.#data, '-m', mode, '-w', 'stop']);
  }

  /** Runs one SQL statement as the superuser on a connection of its own; resolves with the rows. */
  async sql<Row extends Record<string, unknown>>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query<Row>(text, [...values])).rows;
    } finally {
      await client.end();
    }
  }

  /** Ends every session of the database but the caller's (`pg_terminate_backend`); resolves with how many. */
  async terminateSessions(): Promise<number> {
    const rows = await this.sql<{ ended: boolean }>(
      `select pg_terminate_backend(pid) as ended from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`,
    );
    return rows.filter((row) => row.ended).length;
  }

  /** Stops the server and removes its directory. */
  async remove(): Promise<void> {
    try {
      await this.stop('immediate');
    } finally {
      rmSync(this.#dir, { recursive: true, force: true });
    }
  }
}

function userInfoOf(name: string): { uid: number; gid: number } {
  if (userInfo().username === name) return { uid: userInfo().uid, gid: userInfo().gid };
  // os.userInfo() reads only the current user; /etc/passwd names the others.
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((entry) => entry.split(':'))
    .find((fields) => fields[0] === name);
  if (line === undefined) throw new Error(`no system user '${name}' to run PostgreSQL as (it refuses root)`);
  return { uid: Number(line[2]), gid: Number(line[3]) };
}
