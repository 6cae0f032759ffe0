/**
 * The checkpoint store on a SQLite file (`sqlite-file.ts`). better-sqlite3 is synchronous, so
 * every method answers at once and a group commit costs no await.
 */
import type Database from 'better-sqlite3';
import { CheckpointError } from '../../model/errors.js';
import {
  setAsideData,
  type AccumulatorRow,
  type BoundaryRow,
  type CommitRows,
  type ReactorRow,
  type SavedComponent,
  type StoredRows,
} from './rows.js';
import { openCheckpointFile } from './sqlite-file.js';
import type { CheckpointStore, Durability } from './store.js';

export class SqliteCheckpointStore implements CheckpointStore {
  readonly location: string;
  readonly #durability: Durability;
  #db: Database.Database | null = null;
  /** Writes one group in one transaction; made at open, when the file's statements are. */
  #write: ((rows: CommitRows) => void) | null = null;

  /** A store on the file at `path`; nothing is opened before `open()`. */
  constructor(path: string, durability: Durability) {
    this.location = path;
    this.#durability = durability;
  }

  /** Opens the file, creating it when there is none, and takes its lock; throws CheckpointError. */
  open(): void {
    const { db, statements: s } = openCheckpointFile(this.location, this.#durability);
    this.#db = db;
    this.#write = db.transaction((rows: CommitRows) => {
      for (const name of rows.clearedReactors) {
        s.deleteReactor.run(name);
        s.deleteQueue.run(name);
      }
      for (const b of rows.boundaries) s.insertBoundary.run(b.reactor, b.seq, b.source, b.value, b.crc);
      for (const [reactor, seq] of rows.consumed) s.deleteThrough.run(reactor, seq);
      for (const r of rows.reactors) s.saveReactor.run(r.reactor, r.data, r.crc);
      for (const a of rows.accumulators) s.saveAccumulator.run(a.accumulator, a.data, a.crc);
      for (const name of rows.clearedAccumulators) s.deleteAccumulator.run(name);
    });
  }

  /** Reads every row; throws CheckpointError when the file cannot be read. */
  load(): StoredRows {
    const db = this.#open();
    try {
      return {
        components: db.prepare('SELECT name, role, kind FROM component').all() as SavedComponent[],
        reactors: db.prepare('SELECT reactor, data, crc FROM reactor_state').all() as ReactorRow[],
        queue: db
          .prepare('SELECT reactor, seq, source, value, crc FROM sequential_queue ORDER BY reactor, seq')
          .all() as BoundaryRow[],
        accumulators: db.prepare('SELECT accumulator, data, crc FROM accumulator_state').all() as AccumulatorRow[],
      };
    } catch (error) {
      throw this.#corrupt(error);
    }
  }

  /**
   * In one transaction: moves the rows of each `setAside` component into the `set_aside` table
   * (with the reason and the time) and records every registered component; throws
   * CheckpointError when the file cannot be read or written.
   */
  prepare(registered: readonly SavedComponent[], setAside: ReadonlyMap<string, string>): void {
    const db = this.#open();
    try {
      db.transaction(() => {
        const now = Date.now();
        const keep = db.prepare(
          'INSERT INTO set_aside (name, role, kind, reason, data, set_aside_at) VALUES (?, ?, ?, ?, ?, ?)',
        );
        for (const [name, reason] of setAside) {
          const saved = db.prepare('SELECT role, kind FROM component WHERE name = ?').get(name) as
            { role: string; kind: string } | undefined;
          const reactorRow = db.prepare('SELECT data FROM reactor_state WHERE reactor = ?').get(name) as
            { data: Buffer } | undefined;
          const queueRows = db
            .prepare('SELECT seq, source, value FROM sequential_queue WHERE reactor = ? ORDER BY seq')
            .all(name) as Array<{ seq: number; source: string; value: Buffer }>;
          const accumulatorRow = db.prepare('SELECT data FROM accumulator_state WHERE accumulator = ?').get(name) as
            { data: Buffer } | undefined;
          // The rows of its keys, when it was keyed: its name, a NUL, the key (a range of the
          // BINARY order, which compares bytes; string functions stop at a NUL).
          const prefix = [`${name}\0`, `${name}\u0001`] as const;
          const keys = {
            states: db
              .prepare('SELECT reactor, data FROM reactor_state WHERE reactor >= ? AND reactor < ?')
              .all(...prefix) as Array<{ reactor: string; data: Buffer }>,
            queue: db
              .prepare(
                'SELECT reactor, seq, source, value FROM sequential_queue WHERE reactor >= ? AND reactor < ? ORDER BY reactor, seq',
              )
              .all(...prefix) as Array<{ reactor: string; seq: number; source: string; value: Buffer }>,
          };
          const keyed = keys.states.length > 0 || keys.queue.length > 0;
          const data = setAsideData(
            reactorRow?.data ?? null,
            queueRows,
            accumulatorRow?.data ?? null,
            keyed ? keys : undefined,
          );
          const role = saved?.role ?? (accumulatorRow !== undefined ? 'accumulator' : 'reactor');
          keep.run(name, role, saved?.kind ?? '', reason, data, now);
          db.prepare('DELETE FROM reactor_state WHERE reactor = ?').run(name);
          db.prepare('DELETE FROM sequential_queue WHERE reactor = ?').run(name);
          if (keyed) {
            db.prepare('DELETE FROM reactor_state WHERE reactor >= ? AND reactor < ?').run(...prefix);
            db.prepare('DELETE FROM sequential_queue WHERE reactor >= ? AND reactor < ?').run(...prefix);
          }
          db.prepare('DELETE FROM accumulator_state WHERE accumulator = ?').run(name);
          db.prepare('DELETE FROM component WHERE name = ?').run(name);
        }
        const record = db.prepare('INSERT OR REPLACE INTO component (name, role, kind) VALUES (?, ?, ?)');
        for (const c of registered) record.run(c.name, c.role, c.kind);
      })();
    } catch (error) {
      throw this.#corrupt(error);
    }
  }

  /** Writes one group commit in one transaction; throws (and writes nothing) when it fails. */
  write(rows: CommitRows): void {
    this.#write!(rows);
  }

  /** Closes the file, releasing its lock. */
  close(): void {
    this.#db?.close();
    this.#db = null;
    this.#write = null;
  }

  #open(): Database.Database {
    if (this.#db === null) throw new Error(`checkpoint store '${this.location}' is not open`);
    return this.#db;
  }

  /** SQLite errors met while reading a file that passed quick_check still mean a corrupt file. */
  #corrupt(error: unknown): CheckpointError {
    if (error instanceof CheckpointError) return error;
    return new CheckpointError(
      this.location,
      [],
      `checkpoint file '${this.location}' is corrupt: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
