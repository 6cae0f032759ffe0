/**
 * The SQLite checkpoint file (through better-sqlite3): its schema, its settings, how it is
 * created, opened and checked, and the statements of a commit. It holds reactor caches, dirty
 * flags and paused flags, sequential queues, accumulator state, and what each saved component
 * was (its role and kind) so that a restart can tell whether the state still fits.
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
 *   `quick_check` reads every page once (about a millisecond per megabyte). Each row's own
 *   checksum (`rows.ts`) covers the bytes of its value, which SQLite does not check.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { CheckpointError } from '../../model/errors.js';
import type { Durability } from './store.js';

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

/** The statements of a group commit, prepared once per open file. */
export interface CommitStatements {
  readonly insertBoundary: Database.Statement;
  readonly deleteThrough: Database.Statement;
  readonly saveReactor: Database.Statement;
  readonly saveAccumulator: Database.Statement;
  readonly deleteAccumulator: Database.Statement;
  readonly deleteReactor: Database.Statement;
  readonly deleteQueue: Database.Statement;
}

/**
 * Opens the checkpoint file at `path`, creating it when there is none, takes its lock, applies
 * the settings of `durability`, checks it (upgrading a file of 0.1.0) and prepares the commit
 * statements. Throws CheckpointError when the file is in use, empty, corrupt or not a
 * checkpoint; the file is closed again then.
 */
export function openCheckpointFile(
  path: string,
  durability: Durability,
): { db: Database.Database; statements: CommitStatements } {
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
    const statements: CommitStatements = {
      insertBoundary: db.prepare(
        'INSERT OR REPLACE INTO sequential_queue (reactor, seq, source, value, crc) VALUES (?, ?, ?, ?, ?)',
      ),
      deleteThrough: db.prepare('DELETE FROM sequential_queue WHERE reactor = ? AND seq <= ?'),
      saveReactor: db.prepare('INSERT OR REPLACE INTO reactor_state (reactor, data, crc) VALUES (?, ?, ?)'),
      saveAccumulator: db.prepare('INSERT OR REPLACE INTO accumulator_state (accumulator, data, crc) VALUES (?, ?, ?)'),
      deleteAccumulator: db.prepare('DELETE FROM accumulator_state WHERE accumulator = ?'),
      deleteReactor: db.prepare('DELETE FROM reactor_state WHERE reactor = ?'),
      deleteQueue: db.prepare('DELETE FROM sequential_queue WHERE reactor = ?'),
    };
    return { db, statements };
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
