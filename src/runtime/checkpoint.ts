/**
 * Checkpoints on SQLite (better-sqlite3, WAL): reactor caches and dirty flags, sequential queues,
 * and accumulator state (batch buffers, last polled values, state windows).
 *
 * Writes are staged and committed together, one transaction per event-loop turn that staged
 * anything (group commit): a burst of 10,000 boundaries costs one commit, not 10,000. State is
 * read when the commit runs, not when it is staged, so a reactor's cache is serialised once per
 * commit however often it changed. A sequential boundary that was accepted and already fired
 * before the commit is never written at all.
 *
 * Durability: with `synchronous=NORMAL` (the default, 'process') a commit survives the process
 * being killed (SIGKILL) but not a power cut; 'power' uses `synchronous=FULL`.
 *
 * Values are stored with `v8.serialize`, so anything structured-cloneable round-trips (Maps,
 * typed arrays, Dates...).
 */
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { deserialize, serialize } from 'node:v8';
import type { QueuedBoundary } from '../reactor/reactor.js';

/** How hard a commit tries to survive. */
export type Durability = 'process' | 'power';

/** A reactor's state as restored from a checkpoint. */
export interface RestoredReactor {
  readonly cache: Record<string, unknown>;
  readonly dirty: Record<string, boolean>;
  /** Sequential boundaries accepted but not yet fired, oldest first. */
  readonly queue: QueuedBoundary[];
}

/** Everything a checkpoint file holds. */
export interface RestoredState {
  readonly reactors: ReadonlyMap<string, RestoredReactor>;
  readonly accumulators: ReadonlyMap<string, unknown>;
}

const kSchema = `
  CREATE TABLE IF NOT EXISTS reactor_state (
    reactor TEXT PRIMARY KEY,
    cache BLOB NOT NULL,
    dirty BLOB NOT NULL
  );
  CREATE TABLE IF NOT EXISTS sequential_queue (
    reactor TEXT NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (reactor, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS accumulator_state (
    accumulator TEXT PRIMARY KEY,
    data BLOB NOT NULL
  );
`;

export class Checkpoint {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #insertBoundary: Database.Statement;
  readonly #deleteThrough: Database.Statement;
  readonly #saveReactor: Database.Statement;
  readonly #saveAccumulator: Database.Statement;
  readonly #deleteAccumulator: Database.Statement;
  readonly #onError: (error: unknown) => void;
  readonly #onCommitted: ((ms: number) => void) | undefined;
  /** Staged boundaries, by reactor, in arrival order. */
  #appended = new Map<string, QueuedBoundary[]>();
  /** Highest consumed seq per reactor. */
  #consumed = new Map<string, number>();
  #reactors = new Map<string, () => { cache: Record<string, unknown>; dirty: Record<string, boolean> }>();
  #accumulators = new Map<string, () => unknown>();
  #scheduled = false;
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #closed = false;

  /**
   * Opens (creating if needed) the checkpoint file. `onError` hears about commits that failed,
   * `onCommitted` how long each successful commit took (ms).
   */
  constructor(
    path: string,
    onError: (error: unknown) => void,
    durability: Durability = 'process',
    onCommitted?: (ms: number) => void,
  ) {
    this.path = path;
    this.#onError = onError;
    this.#onCommitted = onCommitted;
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
    this.#db.exec(kSchema);
    this.#insertBoundary = this.#db.prepare(
      'INSERT OR REPLACE INTO sequential_queue (reactor, seq, source, value) VALUES (?, ?, ?, ?)',
    );
    this.#deleteThrough = this.#db.prepare('DELETE FROM sequential_queue WHERE reactor = ? AND seq <= ?');
    this.#saveReactor = this.#db.prepare(
      'INSERT OR REPLACE INTO reactor_state (reactor, cache, dirty) VALUES (?, ?, ?)',
    );
    this.#saveAccumulator = this.#db.prepare(
      'INSERT OR REPLACE INTO accumulator_state (accumulator, data) VALUES (?, ?)',
    );
    this.#deleteAccumulator = this.#db.prepare('DELETE FROM accumulator_state WHERE accumulator = ?');
  }

  /** Reads everything the file holds. */
  load(): RestoredState {
    const reactors = new Map<string, RestoredReactor>();
    const entry = (name: string): RestoredReactor => {
      let state = reactors.get(name);
      if (state === undefined) {
        state = { cache: {}, dirty: {}, queue: [] };
        reactors.set(name, state);
      }
      return state;
    };
    for (const row of this.#db.prepare('SELECT reactor, cache, dirty FROM reactor_state').all() as Array<{
      reactor: string;
      cache: Buffer;
      dirty: Buffer;
    }>) {
      Object.assign(entry(row.reactor).cache, deserialize(row.cache));
      Object.assign(entry(row.reactor).dirty, deserialize(row.dirty));
    }
    for (const row of this.#db
      .prepare('SELECT reactor, seq, source, value FROM sequential_queue ORDER BY reactor, seq')
      .all() as Array<{ reactor: string; seq: number; source: string; value: Buffer }>) {
      entry(row.reactor).queue.push({ seq: row.seq, source: row.source, value: deserialize(row.value) });
    }
    const accumulators = new Map<string, unknown>();
    for (const row of this.#db.prepare('SELECT accumulator, data FROM accumulator_state').all() as Array<{
      accumulator: string;
      data: Buffer;
    }>) {
      accumulators.set(row.accumulator, deserialize(row.data));
    }
    return { reactors, accumulators };
  }

  /** Stages a sequential boundary accepted by `reactor`. */
  append(reactor: string, boundary: QueuedBoundary): void {
    let list = this.#appended.get(reactor);
    if (list === undefined) {
      list = [];
      this.#appended.set(reactor, list);
    }
    list.push(boundary);
    this.#schedule();
  }

  /** Stages the removal of `reactor`'s boundaries up to `seq` (they fired). */
  consume(reactor: string, seq: number): void {
    this.#consumed.set(reactor, seq);
    this.#schedule();
  }

  /** Stages a write of a reactor's cache and dirty flags, read at commit time. */
  saveReactor(reactor: string, read: () => { cache: Record<string, unknown>; dirty: Record<string, boolean> }): void {
    this.#reactors.set(reactor, read);
    this.#schedule();
  }

  /** Stages a write of an accumulator's data, read at commit time (`undefined` deletes it). */
  saveAccumulator(name: string, read: () => unknown): void {
    this.#accumulators.set(name, read);
    this.#schedule();
  }

  /** Resolves once everything staged so far is committed. */
  persisted(): Promise<void> {
    if (!this.#scheduled) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Commits what is staged now, synchronously. */
  commit(): void {
    this.#scheduled = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    const appended = this.#appended;
    const consumed = this.#consumed;
    const reactors = this.#reactors;
    const accumulators = this.#accumulators;
    this.#appended = new Map();
    this.#consumed = new Map();
    this.#reactors = new Map();
    this.#accumulators = new Map();
    const started = performance.now();
    try {
      this.#db.transaction(() => {
        for (const [reactor, list] of appended) {
          const done = consumed.get(reactor) ?? -1;
          for (const b of list) {
            if (b.seq > done) this.#insertBoundary.run(reactor, b.seq, b.source, serialize(b.value));
          }
        }
        for (const [reactor, seq] of consumed) this.#deleteThrough.run(reactor, seq);
        for (const [reactor, read] of reactors) {
          const { cache, dirty } = read();
          this.#saveReactor.run(reactor, serialize(cache), serialize(dirty));
        }
        for (const [name, read] of accumulators) {
          const data = read();
          if (data === undefined) this.#deleteAccumulator.run(name);
          else this.#saveAccumulator.run(name, serialize(data));
        }
      })();
    } catch (error) {
      this.#onError(error);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    this.#onCommitted?.(performance.now() - started);
    for (const waiter of waiters) waiter.resolve();
  }

  /** Commits what is staged and closes the file. */
  close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    this.#db.close();
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      if (this.#scheduled && !this.#closed) this.commit();
    });
  }
}
