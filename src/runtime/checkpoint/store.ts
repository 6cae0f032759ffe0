/**
 * Where a runtime's checkpoint lives: the interface a store implements (a SQLite file, a PostgreSQL
 * database). The runtime stages writes and commits them in groups (`staging.ts`);
 * a store only opens, reads, writes one group in one transaction, and closes.
 *
 * Each method may answer at once or with a promise: a store on a synchronous driver
 * (better-sqlite3) answers at once, and the group commit then adds no await to the hot path; a
 * store on an asynchronous client returns promises, and the group commit waits for one write
 * before starting the next.
 */
import type { CommitRows, SavedComponent, StoredRows } from './rows.js';

/** A value now, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** How hard a commit tries to survive. */
export type Durability = 'process' | 'power';

/** Whether a `checkpoint` option names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(checkpoint: string): boolean {
  return /^postgres(ql)?:\/\//i.test(checkpoint);
}

/** A checkpoint store; owned by one runtime from `open()` to `close()`. */
export interface CheckpointStore {
  /** Where the store is (a file's path), as CheckpointError and its messages name it. */
  readonly location: string;
  /**
   * Takes ownership, creating an empty checkpoint when there is none. Rejects with
   * CheckpointError when another runtime owns it, or it is corrupt or not a checkpoint; nothing
   * stays open then.
   */
  open(): MaybePromise<void>;
  /** Reads every row. Rejects with CheckpointError for a store that cannot be read. */
  load(): MaybePromise<StoredRows>;
  /**
   * At start, in one transaction: moves the saved state of each `setAside` component (name ->
   * reason) aside, kept and never applied, and records what every registered component is.
   */
  prepare(registered: readonly SavedComponent[], setAside: ReadonlyMap<string, string>): MaybePromise<void>;
  /** Writes one group commit in one transaction: all of it, or (when it throws) none of it. */
  write(rows: CommitRows): MaybePromise<void>;
  /** Releases the store and its ownership; nothing is written after. */
  close(): MaybePromise<void>;
}
