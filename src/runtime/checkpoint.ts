/**
 * The checkpoint file (SQLite through better-sqlite3): reactor caches, dirty flags and paused
 * flags, sequential queues, accumulator state, and what each saved component was (its role and
 * kind) so that a restart can tell whether the state still fits what is registered.
 *
 * Writes are staged and committed together, one transaction per event-loop turn that staged
 * anything (group commit): a burst of 10,000 boundaries costs one commit, not 10,000. State is
 * read when the commit runs, not when it is staged, so a reactor's cache is serialised once per
 * commit however often it changed, and a sequential boundary that fired before the commit is
 * never written.
 *
 * The settings, and what each costs:
 * - `journal_mode=WAL`: a commit appends to the log instead of rewriting pages; one fsync-free
 *   append per turn with `synchronous=NORMAL`.
 * - `synchronous=NORMAL` (durability 'process', the default): a commit survives the process
 *   being killed (SIGKILL) but not a power cut; 'power' uses `FULL`, an fsync per commit.
 * - `locking_mode=EXCLUSIVE`, taken before anything runs: the file belongs to one runtime. A
 *   second runtime, in this process or another, fails at `start()` instead of interleaving its
 *   commits with ours; the operating system drops the lock when a process dies, so a restart
 *   after SIGKILL takes it at once. It also keeps the WAL index in heap memory (no `-shm` file),
 *   which costs nothing.
 * - Integrity: a new file is created under a temporary name and renamed into place once its
 *   schema is written, so a file at the path is never a half-made one; a file that is empty,
 *   not SQLite, not a cloaca checkpoint, or fails `PRAGMA quick_check` is refused at `start()`.
 *   `quick_check` reads every page once (about a millisecond per megabyte). SQLite checks its
 *   own structure but not the bytes of a value, so every row also carries a CRC-32 of its key
 *   and value (`zlib.crc32`, about 1 GB/s), verified when the file is loaded.
 * - A commit that fails (a full disk, a read-only file) rolls back as a whole and keeps
 *   everything staged: the waiting `persisted()` calls reject, a retry follows with a backoff
 *   (0.1 s doubling to 5 s), and a later `persisted()` resolves only once that retry succeeds.
 *   A value that cannot be serialised fails only its own row, never the commit.
 *
 * Values are stored with `v8.serialize`, so anything structured-cloneable round-trips (Maps,
 * typed arrays, Dates...).
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { CheckpointError } from '../model/errors.js';
import type { QueuedBoundary, ReactorSnapshot } from '../reactor/reactor.js';

/** How hard a commit tries to survive. */
export type Durability = 'process' | 'power';

/** What a saved component was, as recorded in the file. */
export interface SavedComponent {
  readonly name: string;
  readonly role: 'reactor' | 'accumulator';
  /** The reactor's strategy, or the accumulator's kind; empty when unknown (a file of 0.1.0). */
  readonly kind: string;
}

/** A reactor's state as restored from a checkpoint. */
export interface RestoredReactor {
  readonly snapshot: ReactorSnapshot;
  /** Sequential boundaries accepted but not yet fired, oldest first. */
  readonly queue: QueuedBoundary[];
}

/** Everything a checkpoint file holds. */
export interface RestoredState {
  readonly components: ReadonlyMap<string, SavedComponent>;
  readonly reactors: ReadonlyMap<string, RestoredReactor>;
  readonly accumulators: ReadonlyMap<string, unknown>;
}

/** Why a value could not be written; the rest of the commit went ahead without it. */
export interface RowFailure {
  readonly component: string;
  readonly error: unknown;
}

const kApplicationId = 0x434c4f41; // 'CLOA'
const kSchemaVersion = 2;

const kSchema = `
  CREATE TABLE IF NOT EXISTS component (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    kind TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS reactor_state (
    reactor TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    crc INTEGER
  );
  CREATE TABLE IF NOT EXISTS sequential_queue (
    reactor TEXT NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    value BLOB NOT NULL,
    crc INTEGER,
    PRIMARY KEY (reactor, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS accumulator_state (
    accumulator TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    crc INTEGER
  );
  CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    data BLOB NOT NULL,
    set_aside_at INTEGER NOT NULL
  );
`;

const kRetryMs = { first: 100, max: 5000 };

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/** A checksum over a row's key and value, so a flipped byte in either is caught on load. */
function checksum(key: string, value: Uint8Array): number {
  return crc32(value, crc32(key));
}

export class Checkpoint {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #insertBoundary: Database.Statement;
  readonly #deleteThrough: Database.Statement;
  readonly #saveReactor: Database.Statement;
  readonly #saveAccumulator: Database.Statement;
  readonly #deleteAccumulator: Database.Statement;
  readonly #onCommitFailed: (error: CheckpointError) => void;
  readonly #onRowFailed: (failure: RowFailure) => void;
  readonly #onCommitted: ((ms: number) => void) | undefined;
  /** Staged boundaries, by reactor, in arrival order. */
  readonly #appended = new Map<string, QueuedBoundary[]>();
  /** Highest consumed seq per reactor. */
  readonly #consumed = new Map<string, number>();
  readonly #reactors = new Map<string, () => ReactorSnapshot>();
  readonly #accumulators = new Map<string, () => unknown>();
  #scheduled = false;
  #waiters: Waiter[] = [];
  /** Set while the last commit failed: commits then wait for the retry timer. */
  #retry: { timer: NodeJS.Timeout; delayMs: number } | null = null;
  #closed = false;

  /**
   * Opens the checkpoint file, creating it when there is none, and takes its lock. Throws
   * CheckpointError when the file is in use, empty, corrupt or not a checkpoint. `onCommitted`
   * hears how long each successful commit took (ms).
   */
  constructor(
    path: string,
    durability: Durability,
    onCommitFailed: (error: CheckpointError) => void,
    onRowFailed: (failure: RowFailure) => void,
    onCommitted?: (ms: number) => void,
  ) {
    this.path = path;
    this.#onCommitted = onCommitted;
    this.#onCommitFailed = onCommitFailed;
    this.#onRowFailed = onRowFailed;
    let db: Database.Database | undefined;
    try {
      if (!existsSync(path)) createFile(path);
      else if (statSync(path).size === 0) {
        throw new CheckpointError(
          path,
          [],
          `checkpoint file '${path}' is empty (truncated); refusing to start from nothing`,
        );
      }
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the lock; a second runtime on the file fails here.
      db.exec('BEGIN IMMEDIATE; COMMIT;');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
      checkFile(db, path);
      // A flipped byte in the stored schema shows up here.
      this.#insertBoundary = db.prepare(
        'INSERT OR REPLACE INTO sequential_queue (reactor, seq, source, value, crc) VALUES (?, ?, ?, ?, ?)',
      );
      this.#deleteThrough = db.prepare('DELETE FROM sequential_queue WHERE reactor = ? AND seq <= ?');
      this.#saveReactor = db.prepare('INSERT OR REPLACE INTO reactor_state (reactor, data, crc) VALUES (?, ?, ?)');
      this.#saveAccumulator = db.prepare(
        'INSERT OR REPLACE INTO accumulator_state (accumulator, data, crc) VALUES (?, ?, ?)',
      );
      this.#deleteAccumulator = db.prepare('DELETE FROM accumulator_state WHERE accumulator = ?');
    } catch (error) {
      db?.close();
      if (error instanceof CheckpointError) throw error;
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        throw new CheckpointError(
          path,
          [],
          `checkpoint file '${path}' is in use by another runtime (in this process or another); a checkpoint file belongs to one runtime at a time`,
          { cause: error },
        );
      }
      throw new CheckpointError(
        path,
        [],
        `checkpoint file '${path}' cannot be used: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    this.#db = db;
  }

  /** Reads everything the file holds; throws CheckpointError naming a component whose row is corrupt. */
  load(): RestoredState {
    try {
      return this.#load();
    } catch (error) {
      throw this.#corrupt(error);
    }
  }

  #load(): RestoredState {
    const db = this.#db;
    const components = new Map<string, SavedComponent>();
    for (const row of db.prepare('SELECT name, role, kind FROM component').all() as SavedComponent[]) {
      components.set(row.name, { name: row.name, role: row.role, kind: row.kind });
    }
    const note = (name: string, role: SavedComponent['role']): void => {
      if (!components.has(name)) components.set(name, { name, role, kind: '' });
    };
    const reactors = new Map<string, RestoredReactor>();
    const entry = (name: string): { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } => {
      let state = reactors.get(name) as { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } | undefined;
      if (state === undefined) {
        state = { snapshot: { cache: {}, dirty: {}, paused: false }, queue: [] };
        reactors.set(name, state);
        note(name, 'reactor');
      }
      return state;
    };
    const rows = db.prepare('SELECT reactor, data, crc FROM reactor_state').all() as Array<{
      reactor: string;
      data: Buffer;
      crc: number | null;
    }>;
    for (const row of rows) {
      this.#verify(`reactor_state\0${row.reactor}`, row.data, row.crc, row.reactor);
      entry(row.reactor).snapshot = this.#decode(row.data, row.reactor) as ReactorSnapshot;
    }
    const queue = db.prepare('SELECT reactor, seq, source, value, crc FROM sequential_queue ORDER BY reactor, seq');
    for (const row of queue.all() as Array<{
      reactor: string;
      seq: number;
      source: string;
      value: Buffer;
      crc: number | null;
    }>) {
      this.#verify(`queue\0${row.reactor}\0${row.seq}\0${row.source}`, row.value, row.crc, row.reactor);
      entry(row.reactor).queue.push({ seq: row.seq, source: row.source, value: this.#decode(row.value, row.reactor) });
    }
    const accumulators = new Map<string, unknown>();
    const accumulatorRows = db.prepare('SELECT accumulator, data, crc FROM accumulator_state').all() as Array<{
      accumulator: string;
      data: Buffer;
      crc: number | null;
    }>;
    for (const row of accumulatorRows) {
      this.#verify(`accumulator_state\0${row.accumulator}`, row.data, row.crc, row.accumulator);
      accumulators.set(row.accumulator, this.#decode(row.data, row.accumulator));
      note(row.accumulator, 'accumulator');
    }
    return { components, reactors, accumulators };
  }

  /**
   * At start, in one transaction: moves the saved state of `setAside` components into the
   * `set_aside` table (kept, never dropped) and records what every registered component is.
   */
  prepare(registered: readonly SavedComponent[], setAside: ReadonlyMap<string, string>): void {
    try {
      this.#prepare(registered, setAside);
    } catch (error) {
      throw this.#corrupt(error);
    }
  }

  #prepare(registered: readonly SavedComponent[], setAside: ReadonlyMap<string, string>): void {
    const db = this.#db;
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
        const data = serialize({
          reactorState: reactorRow?.data ?? null,
          queue: queueRows,
          accumulatorState: accumulatorRow?.data ?? null,
        });
        const role = saved?.role ?? (accumulatorRow !== undefined ? 'accumulator' : 'reactor');
        keep.run(name, role, saved?.kind ?? '', reason, data, now);
        db.prepare('DELETE FROM reactor_state WHERE reactor = ?').run(name);
        db.prepare('DELETE FROM sequential_queue WHERE reactor = ?').run(name);
        db.prepare('DELETE FROM accumulator_state WHERE accumulator = ?').run(name);
        db.prepare('DELETE FROM component WHERE name = ?').run(name);
      }
      const record = db.prepare('INSERT OR REPLACE INTO component (name, role, kind) VALUES (?, ?, ?)');
      for (const c of registered) record.run(c.name, c.role, c.kind);
    })();
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

  /** Stages a write of a reactor's cache, dirty and paused flags, read at commit time. */
  saveReactor(reactor: string, read: () => ReactorSnapshot): void {
    this.#reactors.set(reactor, read);
    this.#schedule();
  }

  /** Stages a write of an accumulator's data, read at commit time (`undefined` deletes it). */
  saveAccumulator(name: string, read: () => unknown): void {
    this.#accumulators.set(name, read);
    this.#schedule();
  }

  /**
   * Resolves once everything staged so far is committed; rejects with CheckpointError when the
   * commit that should have written it fails (what it held stays staged for the retry).
   */
  persisted(): Promise<void> {
    if (!this.#scheduled && this.#retry === null) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Commits what is staged now, synchronously. Returns false when the commit failed. */
  commit(): boolean {
    this.#scheduled = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    const started = performance.now();
    try {
      this.#db.transaction(() => this.#writeStaged())();
    } catch (error) {
      const failure = new CheckpointError(
        this.path,
        [],
        `checkpoint commit to '${this.path}' failed; what it held stays staged and is retried: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      if (!this.#closed) this.#scheduleRetry();
      this.#onCommitFailed(failure);
      for (const waiter of waiters) waiter.reject(failure);
      return false;
    }
    this.#appended.clear();
    this.#consumed.clear();
    this.#reactors.clear();
    this.#accumulators.clear();
    if (this.#retry !== null) {
      clearTimeout(this.#retry.timer);
      this.#retry = null;
    }
    this.#onCommitted?.(performance.now() - started);
    for (const waiter of waiters) waiter.resolve();
    return true;
  }

  /**
   * Commits what is staged and closes the file (releasing its lock). Throws CheckpointError
   * when that last commit fails: what it held is then lost, and the file keeps its last commit.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry.timer);
    this.#retry = null;
    const ok = this.commit();
    this.#db.close();
    if (!ok) {
      throw new CheckpointError(this.path, [], `the last checkpoint commit to '${this.path}' failed at shutdown`);
    }
  }

  /** Writes every staged row; a value that cannot be serialised fails its row only. */
  #writeStaged(): void {
    for (const [reactor, list] of this.#appended) {
      const done = this.#consumed.get(reactor) ?? -1;
      for (const b of list) {
        if (b.seq <= done) continue;
        const value = this.#encode(b.value, reactor);
        if (value === null) continue;
        const crc = checksum(`queue\0${reactor}\0${b.seq}\0${b.source}`, value);
        this.#insertBoundary.run(reactor, b.seq, b.source, value, crc);
      }
    }
    for (const [reactor, seq] of this.#consumed) this.#deleteThrough.run(reactor, seq);
    for (const [reactor, read] of this.#reactors) {
      const data = this.#encode(read(), reactor);
      if (data !== null) this.#saveReactor.run(reactor, data, checksum(`reactor_state\0${reactor}`, data));
    }
    for (const [name, read] of this.#accumulators) {
      const state = read();
      if (state === undefined) {
        this.#deleteAccumulator.run(name);
        continue;
      }
      const data = this.#encode(state, name);
      if (data !== null) this.#saveAccumulator.run(name, data, checksum(`accumulator_state\0${name}`, data));
    }
  }

  /** SQLite errors met while reading a file that passed quick_check still mean a corrupt file. */
  #corrupt(error: unknown): CheckpointError {
    if (error instanceof CheckpointError) return error;
    return new CheckpointError(
      this.path,
      [],
      `checkpoint file '${this.path}' is corrupt: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }

  #encode(value: unknown, component: string): Buffer | null {
    try {
      return serialize(value);
    } catch (error) {
      this.#onRowFailed({ component, error });
      return null;
    }
  }

  #decode(data: Buffer, component: string): unknown {
    try {
      return deserialize(data);
    } catch (error) {
      throw new CheckpointError(
        this.path,
        [component],
        `checkpoint file '${this.path}': the saved state of '${component}' cannot be read`,
        {
          cause: error,
        },
      );
    }
  }

  #verify(key: string, data: Buffer, crc: number | null, component: string): void {
    // Rows written by 0.1.0 carry no checksum.
    if (crc === null || checksum(key, data) === crc) return;
    throw new CheckpointError(
      this.path,
      [component],
      `checkpoint file '${this.path}' is corrupt: the saved state of '${component}' fails its checksum`,
    );
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    // After a failure, the retry timer commits; a commit per turn would spin on a full disk.
    if (this.#retry !== null) return;
    setImmediate(() => {
      if (this.#scheduled && !this.#closed && this.#retry === null) this.commit();
    });
  }

  #scheduleRetry(): void {
    const delayMs = this.#retry === null ? kRetryMs.first : Math.min(this.#retry.delayMs * 2, kRetryMs.max);
    if (this.#retry !== null) clearTimeout(this.#retry.timer);
    const timer = setTimeout(() => this.commit(), delayMs);
    // Left ref'd on purpose: staged boundaries not yet on disk keep the process alive until a
    // retry writes them or the runtime shuts down.
    this.#retry = { timer, delayMs };
  }
}

/** Creates a new checkpoint file atomically: schema written under a temporary name, then renamed. */
function createFile(path: string): void {
  const temporary = `${path}.${process.pid}.new`;
  const db = new Database(temporary);
  try {
    db.pragma(`application_id = ${kApplicationId}`);
    db.pragma(`user_version = ${kSchemaVersion}`);
    db.exec(kSchema);
  } finally {
    db.close();
  }
  renameSync(temporary, path);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(temporary + suffix)) unlinkSync(temporary + suffix);
  }
}

/** Refuses a file that is not a sound cloaca checkpoint; upgrades one written by 0.1.0. */
function checkFile(db: Database.Database, path: string): void {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
      (t) => t.name,
    ),
  );
  const legacy = applicationId === 0 && version === 0 && tables.has('reactor_state') && tables.has('sequential_queue');
  if (applicationId !== kApplicationId && !legacy) {
    throw new CheckpointError(path, [], `'${path}' is a SQLite file but not a cloaca checkpoint`);
  }
  if (version > kSchemaVersion) {
    throw new CheckpointError(
      path,
      [],
      `checkpoint file '${path}' was written by a newer cloaca (schema ${version}; this one reads up to ${kSchemaVersion})`,
    );
  }
  const check = db.pragma('quick_check', { simple: true }) as string;
  if (check !== 'ok') throw new CheckpointError(path, [], `checkpoint file '${path}' is corrupt: ${check}`);
  if (legacy) upgradeLegacy(db);
}

/** Moves a 0.1.0 file (separate cache and dirty columns, no checksums) to the current schema. */
function upgradeLegacy(db: Database.Database): void {
  db.transaction(() => {
    const old = db.prepare('SELECT reactor, cache, dirty FROM reactor_state').all() as Array<{
      reactor: string;
      cache: Buffer;
      dirty: Buffer;
    }>;
    db.exec('ALTER TABLE reactor_state RENAME TO reactor_state_v1');
    db.exec('ALTER TABLE sequential_queue ADD COLUMN crc INTEGER');
    db.exec('ALTER TABLE accumulator_state ADD COLUMN crc INTEGER');
    db.exec(kSchema);
    const insert = db.prepare('INSERT INTO reactor_state (reactor, data, crc) VALUES (?, ?, NULL)');
    for (const row of old) {
      insert.run(
        row.reactor,
        serialize({ cache: deserialize(row.cache), dirty: deserialize(row.dirty), paused: false }),
      );
    }
    db.exec('DROP TABLE reactor_state_v1');
    db.pragma(`application_id = ${kApplicationId}`);
    db.pragma(`user_version = ${kSchemaVersion}`);
  })();
}
