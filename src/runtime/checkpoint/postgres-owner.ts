/**
 * Ownership of one runtime `id` in a PostgreSQL database: a session-level advisory lock held on
 * one dedicated connection for the owner's life, and every commit run on that same connection.
 *
 * Fencing follows from where the lock lives: the server releases a session-level lock only when
 * that session ends, and a `pg` Client never reconnects, so a statement that reaches the server on
 * the owner's connection runs while the lock is held. Once the connection is gone every later
 * statement fails: a runtime that lost its lock cannot commit until {@link PostgresOwner.acquire}
 * has taken it again on a new session.
 *
 * Noticing the loss: a session the server ends (`pg_terminate_backend`, a restart) or a peer that
 * closes the socket is reported at once by the client's `error`/`end` events. A vanished machine
 * sends nothing, so both sides time it out, and the owner's side is always the quicker one: the
 * owner sends a heartbeat every `heartbeatInterval` and calls the session lost when the server has
 * not answered for `heartbeatTimeout`; the server, told by the session's `tcp_keepalives_*` and
 * `tcp_user_timeout` settings, ends the session (and frees the lock for a standby) only after
 * `keepalivesIdle + keepalivesInterval * keepalivesCount` seconds of silence. With the defaults
 * the owner stops within 4 s and a standby can take over after 7 s, so the two never act at once.
 *
 * The lock key: the first 8 bytes of SHA-256 over `cloaca:<id>`, read as two signed 32-bit
 * integers, for `pg_try_advisory_lock(int4, int4)`. The two-integer form keeps clear of the
 * single-bigint locks other software takes; a row of `cloaca_owners` names the id behind each key
 * (and the session holding it), so an operator reading `pg_locks` can tell whose it is, and a
 * unique index on the key turns a hash collision between two ids into an error, not a shared lock.
 *
 * Each owner writes a token of its own into its `cloaca_owners` row when it takes the lock, so
 * that on taking it again it can tell whether anyone else held the id in between (see
 * {@link PostgresOwner.acquire}).
 *
 * The `pg` package is imported when the first owner connects, so a runtime on a SQLite file never
 * loads it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Client, ClientConfig } from 'pg';
import { CheckpointError } from '../../model/errors.js';

/** Options of a {@link PostgresOwner}. */
export interface PostgresOwnerOptions {
  /** The database, a `postgres://` or `postgresql://` URL. */
  readonly url: string;
  /** The runtime id whose state this owner guards. */
  readonly id: string;
  /**
   * Wait for the lock while another session holds it, instead of failing.
   * @default false
   */
  readonly standby?: boolean;
  /**
   * Milliseconds between two tries for the lock while waiting as a standby.
   * @default 250
   */
  readonly pollInterval?: number;
  /**
   * Milliseconds between two heartbeats on an idle owner session.
   * @default 1000
   */
  readonly heartbeatInterval?: number;
  /**
   * Milliseconds without an answer from the server after which the session counts as lost.
   * @default 3000
   */
  readonly heartbeatTimeout?: number;
  /**
   * Seconds of silence after which the server starts probing the session (`tcp_keepalives_idle`).
   * @default 4
   */
  readonly keepalivesIdle?: number;
  /**
   * Seconds between the server's probes (`tcp_keepalives_interval`).
   * @default 1
   */
  readonly keepalivesInterval?: number;
  /**
   * Unanswered probes after which the server ends the session (`tcp_keepalives_count`).
   * @default 3
   */
  readonly keepalivesCount?: number;
  /**
   * Milliseconds to wait for a connection before the attempt fails.
   * @default 5000
   */
  readonly connectTimeout?: number;
  /** Called once per acquisition when the owner's session ends; the owner then no longer owns. */
  readonly onLost: (error: CheckpointError) => void;
}

/** The defaults of {@link PostgresOwnerOptions}. */
const defaults = {
  standby: false,
  pollInterval: 250,
  heartbeatInterval: 1000,
  heartbeatTimeout: 3000,
  keepalivesIdle: 4,
  keepalivesInterval: 1,
  keepalivesCount: 3,
  connectTimeout: 5000,
} satisfies Partial<PostgresOwnerOptions>;

/** The statements a transaction of {@link PostgresOwner.transaction} may run. */
export interface PostgresSession {
  /** Runs one statement with `$1..$n` parameters; resolves with its rows. */
  query<Row extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<Row[]>;
}

/** The two `int4` advisory-lock keys of an id (see the module comment). */
export function ownerLockKeys(id: string): readonly [number, number] {
  const digest = createHash('sha256').update(`cloaca:${id}`).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/** Serialises the creation of `cloaca_owners` across runtimes of different ids. */
const SCHEMA_LOCK = ownerLockKeys('\0schema');

type Lifecycle = 'idle' | 'acquiring' | 'owned' | 'closed';

/** Holds the ownership of one id; see the module comment. */
export class PostgresOwner {
  /** The runtime id this owner guards. */
  readonly id: string;
  readonly #options: Required<PostgresOwnerOptions>;
  readonly #keys: readonly [number, number];
  /** Written into the owners row at each acquisition: who held the id last. */
  readonly #token = randomUUID();
  #state: Lifecycle = 'idle';
  #client: Client | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Statements sent on the owner session and not yet answered. */
  #pending = 0;
  /** When the server last answered on the owner session (or when the wait for it began). */
  #lastAnswer = 0;
  /** Ends a standby's wait between two tries, so close() need not wait out the poll interval. */
  #wake: (() => void) | undefined;

  constructor(options: PostgresOwnerOptions) {
    this.#options = { ...defaults, ...options };
    this.id = options.id;
    this.#keys = ownerLockKeys(options.id);
  }

  /** Whether this owner holds the lock now. */
  get owned(): boolean {
    return this.#state === 'owned';
  }

  /**
   * Takes the lock on a new session. Resolves once owned. Without `standby` it rejects with a
   * CheckpointError naming the id when another session holds it, or when the database cannot be
   * reached; with `standby` it waits, trying again every `pollInterval` (and reconnecting when
   * the database goes away meanwhile), until it owns the lock or {@link close} is called (then it
   * rejects). Called again after `onLost`, it takes the lock again. Resolves true when this
   * same owner was the last to hold the id (nobody owned it in between), false otherwise.
   */
  async acquire(): Promise<boolean> {
    if (this.#state === 'owned' || this.#state === 'acquiring') {
      throw new CheckpointError(this.id, [], `the checkpoint '${this.id}' is already owned or being acquired here`);
    }
    if (this.#state === 'closed') throw this.#closedError();
    this.#state = 'acquiring';
    try {
      // A waiting standby keeps its connection from one try to the next, and makes a new one
      // only when the old one broke (the server went away meanwhile).
      let client: Client | undefined;
      for (;;) {
        client ??= await this.#connect();
        // Held here so that close() ends it, also while a try is in flight.
        this.#client = client;
        if (client !== undefined) {
          const locked = await this.#tryLock(client);
          if (locked === true) return await this.#claim(client);
          if (locked === undefined) {
            await client.end().catch(() => {});
            client = undefined;
          }
        }
        if (!this.#options.standby) {
          throw new CheckpointError(
            this.id,
            [],
            `the checkpoint '${this.id}' is owned by another runtime (start it with standby to wait for it)`,
          );
        }
        await this.#pause();
        if (this.#isClosed()) throw this.#closedError();
      }
    } catch (error) {
      const client = this.#client;
      this.#drop();
      await client?.end().catch(() => {});
      if (!this.#isClosed()) this.#state = 'idle';
      throw error;
    }
  }

  /**
   * Runs `work` in one transaction on the lock-holding session. Rejects with a CheckpointError
   * naming the id when this owner does not hold the lock, or when the session is lost before
   * COMMIT has been answered (then nothing of `work` may be taken as committed).
   */
  async transaction<T>(work: (session: PostgresSession) => Promise<T>): Promise<T> {
    const session: PostgresSession = { query: (text, values) => this.#query(text, values) };
    await session.query('begin');
    try {
      const result = await work(session);
      await session.query('commit');
      return result;
    } catch (error) {
      // A lost session has rolled back on the server; on a live one the transaction must end here.
      if (this.owned) await session.query('rollback').catch(() => {});
      throw error;
    }
  }

  /**
   * Runs one statement on the lock-holding session, outside a transaction: it commits whole or
   * not at all. Rejects like {@link transaction}.
   */
  async statement(text: string, values: readonly unknown[]): Promise<void> {
    await this.#query(text, values);
  }

  /** Releases the lock (by ending the session) and stops a waiting {@link acquire}. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#wake?.();
    const client = this.#client;
    this.#drop();
    await client?.end().catch(() => {});
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #closedError(): CheckpointError {
    return new CheckpointError(this.id, [], `the owner of checkpoint '${this.id}' is closed`);
  }

  /** A new connection, or undefined when a standby could not connect (it tries again later). */
  async #connect(): Promise<Client | undefined> {
    const { default: pg } = await import('pg');
    const config: ClientConfig = {
      connectionString: this.#options.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: this.#options.heartbeatInterval,
      connectionTimeoutMillis: this.#options.connectTimeout,
      application_name: `cloaca:${this.id}`,
    };
    const client = new pg.Client(config);
    // Until claimed, a failure surfaces through the statement that meets it.
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if (this.#options.standby && !this.#isClosed()) return undefined;
      throw new CheckpointError(this.id, [], `cannot connect to the checkpoint database for '${this.id}'`, {
        cause: error,
      });
    }
  }

  /** One try for the lock: whether it got it, or undefined when a standby's connection broke. */
  async #tryLock(client: Client): Promise<boolean | undefined> {
    try {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2) as locked', [
        ...this.#keys,
      ]);
      return rows[0]?.locked === true && !this.#isClosed();
    } catch (error) {
      if (this.#options.standby) return undefined;
      throw new CheckpointError(this.id, [], `cannot take the lock of checkpoint '${this.id}'`, { cause: error });
    }
  }

  /**
   * With the lock taken: the session's keepalive settings, the owners row, the loss watch.
   * Answers whether the row named this owner before (it held the id last).
   */
  async #claim(client: Client): Promise<boolean> {
    const o = this.#options;
    let continued: boolean;
    try {
      await client.query(
        `select set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $2, false),
                set_config('tcp_keepalives_count', $3, false), set_config('tcp_user_timeout', $4, false)`,
        [
          String(o.keepalivesIdle),
          String(o.keepalivesInterval),
          String(o.keepalivesCount),
          String((o.keepalivesIdle + o.keepalivesInterval * o.keepalivesCount) * 1000),
        ],
      );
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock($1, $2)', [...SCHEMA_LOCK]);
      await client.query(
        `create table if not exists cloaca_owners (
           id text primary key,
           lock_key1 int4 not null,
           lock_key2 int4 not null,
           backend_pid int4 not null,
           acquired_at timestamptz not null,
           token text not null,
           unique (lock_key1, lock_key2))`,
      );
      // The CTE reads the row as it was before this statement replaced it.
      const { rows } = await client.query<{ previous: string | null }>(
        `with before as (select token from cloaca_owners where id = $1)
         insert into cloaca_owners (id, lock_key1, lock_key2, backend_pid, acquired_at, token)
         values ($1, $2, $3, pg_backend_pid(), now(), $4)
         on conflict (id) do update
           set backend_pid = excluded.backend_pid, acquired_at = excluded.acquired_at, token = excluded.token
         returning (select token from before) as previous`,
        [this.id, ...this.#keys, this.#token],
      );
      continued = rows[0]?.previous === this.#token;
      await client.query('commit');
    } catch (error) {
      throw new CheckpointError(this.id, [], `cannot record the owner of checkpoint '${this.id}'`, { cause: error });
    }
    if (this.#isClosed()) throw this.#closedError();
    this.#state = 'owned';
    const lost = (cause: unknown): void => this.#lose(client, cause);
    client.removeAllListeners('error');
    client.on('error', lost);
    client.on('end', () => lost(new Error('the connection ended')));
    this.#lastAnswer = Date.now();
    this.#heartbeat = setInterval(() => this.#beat(client), o.heartbeatInterval);
    this.#heartbeat.unref();
    return continued;
  }

  /** Sends a heartbeat on an idle session; calls it lost when the server has been silent too long. */
  #beat(client: Client): void {
    if (Date.now() - this.#lastAnswer > this.#options.heartbeatTimeout) {
      this.#lose(client, new Error(`the server has not answered for ${this.#options.heartbeatTimeout} ms`));
    } else if (this.#pending === 0) {
      this.#query('select 1').catch(() => {});
    }
  }

  async #query<Row extends Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<Row[]> {
    const client = this.#client;
    if (this.#state !== 'owned' || client === undefined) {
      throw new CheckpointError(this.id, [], `the checkpoint '${this.id}' is not owned by this runtime`);
    }
    if (this.#pending === 0) this.#lastAnswer = Date.now();
    this.#pending++;
    try {
      const result = await client.query<Row>(text, values === undefined ? undefined : [...values]);
      this.#lastAnswer = Date.now();
      return result.rows;
    } catch (error) {
      if (this.#client !== client) {
        throw new CheckpointError(this.id, [], `the session owning checkpoint '${this.id}' was lost`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      if (this.#client === client) this.#pending--;
    }
  }

  /** The session `client` is gone: stop owning at once, then tell. */
  #lose(client: Client, cause: unknown): void {
    if (this.#client !== client || this.#state !== 'owned') return;
    this.#drop();
    this.#state = 'idle';
    // A session that only went silent may still hold the lock on the server: ending the socket
    // makes sure this runtime never sends on it again.
    client.end().catch(() => {});
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.#options.onLost(
      new CheckpointError(this.id, [], `lost the session owning checkpoint '${this.id}': ${reason}`, { cause }),
    );
  }

  #drop(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#client = undefined;
    this.#pending = 0;
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#options.pollInterval);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
