/**
 * The checkpoint store on a PostgreSQL database (`postgres-schema.ts`), for the runtime named by
 * an `id`: the same rows as a SQLite file, each table scoped by the id. Every statement runs on
 * the session that holds the id's lock ({@link PostgresOwner}), a group commit as one statement
 * and everything else in a transaction, so nothing is written by a runtime that is not the owner,
 * and a session lost mid-commit commits nothing.
 *
 * Durability is the database's: a commit is kept once the server answers it, by the server's
 * own `synchronous_commit` and `fsync` settings; the runtime process may die at any moment after.
 */
import { CheckpointError } from '../../model/errors.js';
import { ownerLockKeys, PostgresOwner, type PostgresSession } from './postgres-owner.js';
import {
  accumulatorTable,
  clearStatement,
  commitStatement,
  decodeRow,
  nameOfText,
  queueTable,
  reactorTable,
  schemaStatements,
  selectAll,
  textOfName,
  type Table,
} from './postgres-schema.js';
import { setAsideData, type CommitRows, type SavedComponent, type StoredRows } from './rows.js';
import type { CheckpointStore } from './store.js';

/** PostgreSQL's SQLSTATE for a duplicate key. */
const kUniqueViolation = '23505';

/** Serialises the creation of the checkpoint tables across runtimes of different ids. */
const TABLES_LOCK = ownerLockKeys('\0tables');

/** What a {@link PostgresCheckpointStore} is made with. */
export interface PostgresStoreOptions {
  /** The database, a `postgres://` or `postgresql://` URL. */
  readonly url: string;
  /** The runtime id whose state this store holds. */
  readonly id: string;
  /** Wait for the id's owner to go away instead of failing `open()`. */
  readonly standby: boolean;
  /** The session holding the lock ended: nothing is written until {@link PostgresCheckpointStore.reown}. */
  readonly lost: (error: CheckpointError) => void;
}

export class PostgresCheckpointStore implements CheckpointStore {
  /** The id: CheckpointError names it as the store's path. */
  readonly location: string;
  readonly #owner: PostgresOwner;

  /** A store of runtime `id`; nothing is opened before `open()`. */
  constructor(options: PostgresStoreOptions) {
    this.location = options.id;
    this.#owner = new PostgresOwner({
      url: options.url,
      id: options.id,
      standby: options.standby,
      onLost: options.lost,
    });
  }

  /** Takes the id's lock (waiting for it as a standby) and creates the tables where missing. */
  async open(): Promise<void> {
    await this.#owner.acquire();
    await this.#transaction('create the checkpoint tables', async (session) => {
      await session.query('select pg_advisory_xact_lock($1, $2)', [...TABLES_LOCK]);
      for (const statement of schemaStatements) await session.query(statement);
    });
  }

  /**
   * Takes the lock again after it was lost (waiting for it as a standby). Resolves true when
   * nobody owned the id in between, so the stored state is what this runtime last committed;
   * false when another runtime owned it, so the state held in memory is stale and must be
   * loaded again.
   */
  reown(): Promise<boolean> {
    return this.#owner.acquire();
  }

  /** Reads every row of the id. */
  load(): Promise<StoredRows> {
    return this.#transaction('read the checkpoint', async (session) => {
      const id = [this.location];
      const components = await session.query<Record<string, string>>(
        'select name, role, kind from cloaca_component where id = $1',
        id,
      );
      const read = async <Row>(table: Table<Row>): Promise<Row[]> =>
        (await session.query(selectAll(table), id)).map((raw) => decodeRow(table, raw));
      return {
        components: components.map((c) => ({
          name: nameOfText(c.name!),
          role: c.role as SavedComponent['role'],
          kind: c.kind!,
        })),
        reactors: await read(reactorTable),
        queue: await read(queueTable),
        accumulators: await read(accumulatorTable),
      };
    });
  }

  /**
   * In one transaction: moves the rows of each `setAside` component (a keyed reactor's key rows
   * with it) into `cloaca_set_aside` (with the reason and the time) and records every registered
   * component.
   */
  prepare(registered: readonly SavedComponent[], setAside: ReadonlyMap<string, string>): Promise<void> {
    const id = this.location;
    return this.#transaction('prepare the checkpoint', async (session) => {
      for (const [component, reason] of setAside) {
        const name = textOfName(component);
        const [saved] = await session.query<{ role: string; kind: string }>(
          'select role, kind from cloaca_component where id = $1 and name = $2',
          [id, name],
        );
        const [reactor] = await session.query<{ data: Buffer }>(
          `select data from ${reactorTable.name} where id = $1 and reactor = $2`,
          [id, name],
        );
        const queue = await session.query<{ seq: string; source: string; value: Buffer }>(
          `select seq, source, value from ${queueTable.name} where id = $1 and reactor = $2 order by seq`,
          [id, name],
        );
        const [accumulator] = await session.query<{ data: Buffer }>(
          `select data from ${accumulatorTable.name} where id = $1 and accumulator = $2`,
          [id, name],
        );
        // The rows of its keys, when it was keyed: its (escaped) name, an escaped NUL, the key.
        const prefix = textOfName(`${component}\0`);
        const keyStates = await session.query<{ reactor: string; data: Buffer }>(
          `select reactor, data from ${reactorTable.name} where id = $1 and starts_with(reactor, $2) order by reactor`,
          [id, prefix],
        );
        const keyQueue = await session.query<{ reactor: string; seq: string; source: string; value: Buffer }>(
          `select reactor, seq, source, value from ${queueTable.name}
           where id = $1 and starts_with(reactor, $2) order by reactor, seq`,
          [id, prefix],
        );
        const keyed = keyStates.length > 0 || keyQueue.length > 0;
        const data = setAsideData(
          reactor?.data ?? null,
          queue.map((b) => ({ seq: Number(b.seq), source: nameOfText(b.source), value: b.value })),
          accumulator?.data ?? null,
          keyed
            ? {
                states: keyStates.map((r) => ({ reactor: nameOfText(r.reactor), data: r.data })),
                queue: keyQueue.map((b) => ({
                  reactor: nameOfText(b.reactor),
                  seq: Number(b.seq),
                  source: nameOfText(b.source),
                  value: b.value,
                })),
              }
            : undefined,
        );
        const role = saved?.role ?? (accumulator !== undefined ? 'accumulator' : 'reactor');
        await session.query(
          'insert into cloaca_set_aside (id, name, role, kind, reason, data) values ($1, $2, $3, $4, $5, $6)',
          [id, name, role, saved?.kind ?? '', reason, data],
        );
        await session.query(`delete from ${reactorTable.name} where id = $1 and reactor = $2`, [id, name]);
        await session.query(`delete from ${queueTable.name} where id = $1 and reactor = $2`, [id, name]);
        if (keyed) {
          await session.query(`delete from ${reactorTable.name} where id = $1 and starts_with(reactor, $2)`, [
            id,
            prefix,
          ]);
          await session.query(`delete from ${queueTable.name} where id = $1 and starts_with(reactor, $2)`, [
            id,
            prefix,
          ]);
        }
        await session.query(`delete from ${accumulatorTable.name} where id = $1 and accumulator = $2`, [id, name]);
        await session.query('delete from cloaca_component where id = $1 and name = $2', [id, name]);
      }
      if (registered.length > 0) {
        await session.query(
          `insert into cloaca_component (id, name, role, kind)
           select $1, * from unnest($2::text[], $3::text[], $4::text[])
           on conflict (id, name) do update set role = excluded.role, kind = excluded.kind`,
          [id, registered.map((c) => textOfName(c.name)), registered.map((c) => c.role), registered.map((c) => c.kind)],
        );
      }
    });
  }

  /**
   * Writes one group commit with one statement (`postgres-schema.ts`): all of it, or none. A
   * commit that meets boundaries it wrote already (its answer was lost, and it came back
   * staged) is written again replacing them. One that forgets keys of a keyed reactor is two
   * statements in one transaction: the forgotten keys' rows are deleted first.
   */
  async write(rows: CommitRows): Promise<void> {
    if (rows.clearedReactors.length > 0) {
      // Forgotten keys: their rows go first, then what was staged after (a key seen again).
      await this.#transaction('commit to the checkpoint', async (session) => {
        await session.query(...clearStatement(this.location, rows.clearedReactors));
        const statement = commitStatement(this.location, rows, 'replace');
        if (statement !== undefined) await session.query(...statement);
      });
      return;
    }
    const statement = commitStatement(this.location, rows, 'insert');
    if (statement === undefined) return;
    try {
      await this.#owner.statement(...statement);
    } catch (error) {
      if ((error as { code?: unknown }).code !== kUniqueViolation) throw error;
      await this.#owner.statement(...commitStatement(this.location, rows, 'replace')!);
    }
  }

  /** Releases the lock (ends the session) and stops a standby's wait. */
  close(): Promise<void> {
    return this.#owner.close();
  }

  /** Runs `work` in a transaction of the owner; any failure is a CheckpointError naming the id. */
  async #transaction<T>(what: string, work: (session: PostgresSession) => Promise<T>): Promise<T> {
    try {
      return await this.#owner.transaction(work);
    } catch (error) {
      if (error instanceof CheckpointError) throw error;
      throw new CheckpointError(
        this.location,
        [],
        `cannot ${what} of '${this.location}': ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
