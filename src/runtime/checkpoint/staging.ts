/**
 * Group commit: writes are staged and committed together, one transaction per event-loop turn
 * that staged anything, so a burst of 10,000 boundaries costs one commit, not 10,000. State is
 * read when the commit runs, not when it is staged, so a reactor's cache is serialised once per
 * commit however often it changed, and a sequential boundary that fired before the commit is
 * never written.
 *
 * A commit that fails (a full disk, a read-only file) writes nothing and keeps everything
 * staged: the waiting `persisted()` calls reject, a retry follows with a backoff (0.1 s doubling
 * to 5 s), and a later `persisted()` resolves only once that retry succeeds. A value that cannot
 * be serialised fails only its own row, never the commit.
 *
 * A store whose ownership is lost (a PostgreSQL session that ended) is fenced: nothing commits,
 * every `persisted()` rejects with the loss, and what is staged stays staged until the
 * ownership is taken again (`unfence`) and the next commit writes it, or, when another owner
 * held the store meanwhile, is dropped (`discard`).
 */
import { performance } from 'node:perf_hooks';
import { CheckpointError } from '../../model/errors.js';
import type { QueuedBoundary } from '../../reactor/boundary-queue.js';
import type { ReactorSnapshot } from '../../reactor/records.js';
import {
  accumulatorRow,
  boundaryRow,
  reactorRow,
  type AccumulatorRow,
  type BoundaryRow,
  type CommitRows,
  type ReactorRow,
} from './rows.js';
import type { MaybePromise } from './store.js';

/** Why a value could not be written; the rest of the commit went ahead without it. */
export interface RowFailure {
  readonly component: string;
  readonly error: unknown;
}

/** What is staged for the next commit. */
export interface StagedWrites {
  /** Staged boundaries, by reactor, in arrival order. */
  readonly appended: Map<string, QueuedBoundary[]>;
  /** Highest consumed seq per reactor. */
  readonly consumed: Map<string, number>;
  /** Reactor -> how to read its snapshot at commit time. */
  readonly reactors: Map<string, () => ReactorSnapshot>;
  /** Accumulator -> how to read its data at commit time (`undefined` deletes it). */
  readonly accumulators: Map<string, () => unknown>;
  /** Reactors (forgotten keys) whose rows are deleted, before anything staged after. */
  readonly cleared: Set<string>;
}

/** Nothing staged. */
export function noStagedWrites(): StagedWrites {
  return { appended: new Map(), consumed: new Map(), reactors: new Map(), accumulators: new Map(), cleared: new Set() };
}

/**
 * Reads and encodes what is staged: boundaries already consumed are left out, each state is
 * read now. A value that cannot be serialised is reported to `rowFailed` and left out; a read
 * that throws fails the whole commit.
 */
export function rowsOf(staged: StagedWrites, rowFailed: (failure: RowFailure) => void): CommitRows {
  const encode = <R>(component: string, make: () => R): R | null => {
    try {
      return make();
    } catch (error) {
      rowFailed({ component, error });
      return null;
    }
  };
  const boundaries: BoundaryRow[] = [];
  for (const [reactor, list] of staged.appended) {
    const done = staged.consumed.get(reactor) ?? -1;
    for (const b of list) {
      if (b.seq <= done) continue;
      const row = encode(reactor, () => boundaryRow(reactor, b));
      if (row !== null) boundaries.push(row);
    }
  }
  const reactors: ReactorRow[] = [];
  for (const [reactor, read] of staged.reactors) {
    const snapshot = read();
    const row = encode(reactor, () => reactorRow(reactor, snapshot));
    if (row !== null) reactors.push(row);
  }
  const accumulators: AccumulatorRow[] = [];
  const clearedAccumulators: string[] = [];
  for (const [name, read] of staged.accumulators) {
    const state = read();
    if (state === undefined) {
      clearedAccumulators.push(name);
      continue;
    }
    const row = encode(name, () => accumulatorRow(name, state));
    if (row !== null) accumulators.push(row);
  }
  return {
    clearedReactors: [...staged.cleared],
    boundaries,
    consumed: staged.consumed,
    reactors,
    accumulators,
    clearedAccumulators,
  };
}

/** Puts a failed commit's writes back, ahead of anything staged while it ran. */
function restage(failed: StagedWrites, since: StagedWrites): StagedWrites {
  for (const reactor of since.cleared) {
    forgetStaged(failed, reactor);
    failed.cleared.add(reactor);
  }
  for (const [reactor, list] of since.appended) {
    const before = failed.appended.get(reactor);
    failed.appended.set(reactor, before === undefined ? list : before.concat(list));
  }
  for (const [reactor, seq] of since.consumed) failed.consumed.set(reactor, seq);
  for (const [reactor, read] of since.reactors) failed.reactors.set(reactor, read);
  for (const [name, read] of since.accumulators) failed.accumulators.set(name, read);
  return failed;
}

/** Drops what is staged for `reactor`: its rows are about to be deleted. */
function forgetStaged(staged: StagedWrites, reactor: string): void {
  staged.appended.delete(reactor);
  staged.consumed.delete(reactor);
  staged.reactors.delete(reactor);
}

/** What a {@link GroupCommit} writes with and tells. */
export interface GroupCommitOptions {
  /** Where the store is, for messages. */
  readonly location: string;
  /** Writes one group in one transaction (a store's `write`). */
  write(rows: CommitRows): MaybePromise<void>;
  /** A value could not be serialised; the rest of its commit went ahead. */
  rowFailed(failure: RowFailure): void;
  /** A commit failed; what it held stays staged and is retried. */
  commitFailed(error: CheckpointError): void;
  /** A commit succeeded, in `ms` milliseconds. */
  committed?(ms: number): void;
}

const kRetryMs = { first: 100, max: 5000 };

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/** Stages a runtime's checkpoint writes and commits them in groups (see the module comment). */
export class GroupCommit {
  readonly #options: GroupCommitOptions;
  #staged = noStagedWrites();
  #scheduled = false;
  #waiters: Waiter[] = [];
  /** Set while the last commit failed: commits then wait for the retry timer. */
  #retry: { timer: NodeJS.Timeout; delayMs: number } | null = null;
  /** An asynchronous store's write in flight: the next commit starts once it ends. */
  #writing: Promise<boolean> | null = null;
  #closed = false;
  /** Set while the store's ownership is lost: nothing commits, and persisted() rejects with it. */
  #fenced: CheckpointError | null = null;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  /** Stages a sequential boundary accepted by `reactor`. */
  append(reactor: string, boundary: QueuedBoundary): void {
    const appended = this.#staged.appended;
    let list = appended.get(reactor);
    if (list === undefined) {
      list = [];
      appended.set(reactor, list);
    }
    list.push(boundary);
    this.#schedule();
  }

  /** Stages the removal of `reactor`'s boundaries up to `seq` (they fired). */
  consume(reactor: string, seq: number): void {
    this.#staged.consumed.set(reactor, seq);
    this.#schedule();
  }

  /** Stages a write of a reactor's cache, dirty and paused flags, read at commit time. */
  saveReactor(reactor: string, read: () => ReactorSnapshot): void {
    this.#staged.reactors.set(reactor, read);
    this.#schedule();
  }

  /** Stages the deletion of every row of `reactor` (a forgotten key); what is staged for it after comes back. */
  forgetReactor(reactor: string): void {
    forgetStaged(this.#staged, reactor);
    this.#staged.cleared.add(reactor);
    this.#schedule();
  }

  /** Stages a write of an accumulator's data, read at commit time (`undefined` deletes it). */
  saveAccumulator(name: string, read: () => unknown): void {
    this.#staged.accumulators.set(name, read);
    this.#schedule();
  }

  /**
   * Resolves once everything staged so far is committed; rejects with CheckpointError when the
   * commit that should have written it fails (what it held stays staged for the retry).
   */
  persisted(): Promise<void> {
    if (this.#fenced !== null) return Promise.reject(this.#fenced);
    if (!this.#scheduled && this.#retry === null && this.#writing === null) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * The store lost its ownership: stops committing (what is staged stays staged) and rejects
   * every `persisted()` with `error`, those waiting now and those to come, until {@link unfence}.
   */
  fence(error: CheckpointError): void {
    this.#fenced = error;
    if (this.#retry !== null) clearTimeout(this.#retry.timer);
    this.#retry = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /**
   * Fenced, drops everything staged: the store's state moved on without it (another owner held
   * it), so none of it may be committed. At once when no write is in flight (none starts while
   * fenced), else once it has ended (a failed one puts its writes back first).
   */
  discard(): Promise<void> {
    if (this.#writing !== null) return this.#writing.then(() => this.discard());
    this.#staged = noStagedWrites();
    this.#scheduled = false;
    return Promise.resolve();
  }

  /** The store is owned again: what is staged commits. */
  unfence(): void {
    this.#fenced = null;
    if (this.#scheduled && !this.#closed) setImmediate(() => this.#due());
  }

  /**
   * Commits what is staged now: at once on a synchronous store (answers whether the commit
   * succeeded), else once the write in flight and this one have ended.
   */
  #commit(): MaybePromise<boolean> {
    if (this.#writing !== null) return this.#writing.then(() => this.#commit());
    if (this.#fenced !== null) return false;
    this.#scheduled = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    const staged = this.#staged;
    this.#staged = noStagedWrites();
    const started = performance.now();
    let written: MaybePromise<void>;
    try {
      written = this.#options.write(rowsOf(staged, this.#options.rowFailed));
    } catch (error) {
      return this.#failed(staged, waiters, error);
    }
    if (!(written instanceof Promise)) return this.#succeeded(waiters, started);
    const writing = written.then(
      () => {
        this.#writing = null;
        return this.#succeeded(waiters, started);
      },
      (error: unknown) => {
        this.#writing = null;
        return this.#failed(staged, waiters, error);
      },
    );
    this.#writing = writing;
    return writing;
  }

  /**
   * Stops staging and commits what is staged (no retry follows). Returns false when that last
   * commit failed: what it held is then lost, and the store keeps its last commit. Fenced, it
   * commits nothing and returns true: the store is not this runtime's to write, and the loss
   * was reported when it happened.
   */
  close(): MaybePromise<boolean> {
    if (this.#closed) return true;
    this.#closed = true;
    const pending = this.#scheduled || this.#retry !== null || this.#writing !== null;
    if (this.#retry !== null) clearTimeout(this.#retry.timer);
    this.#retry = null;
    if (this.#fenced !== null) return true;
    return pending ? this.#commit() : true;
  }

  #succeeded(waiters: Waiter[], started: number): true {
    if (this.#retry !== null) {
      clearTimeout(this.#retry.timer);
      this.#retry = null;
    }
    this.#options.committed?.(performance.now() - started);
    for (const waiter of waiters) waiter.resolve();
    // Staged while an asynchronous write ran: the next commit follows. Without anything staged,
    // those who asked meanwhile wait for nothing more.
    if (this.#scheduled) {
      if (!this.#closed && this.#fenced === null) setImmediate(() => this.#due());
    } else {
      const late = this.#waiters;
      this.#waiters = [];
      for (const waiter of late) waiter.resolve();
    }
    return true;
  }

  #failed(staged: StagedWrites, waiters: Waiter[], error: unknown): false {
    this.#staged = restage(staged, this.#staged);
    const fenced = this.#fenced;
    if (fenced !== null) {
      this.#scheduled = true;
      // The loss is reported once, by whoever fenced; the unfence commits what came back here.
      for (const waiter of waiters) waiter.reject(fenced);
      return false;
    }
    const location = this.#options.location;
    const failure = new CheckpointError(
      location,
      [],
      `checkpoint commit to '${location}' failed; what it held stays staged and is retried: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
    if (!this.#closed) this.#scheduleRetry();
    this.#options.commitFailed(failure);
    for (const waiter of waiters) waiter.reject(failure);
    return false;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    // After a failure, the retry timer commits; a commit per turn would spin on a full disk.
    // While a write is in flight, its end starts the next commit. While fenced, the unfence does.
    if (this.#retry !== null || this.#writing !== null || this.#fenced !== null) return;
    setImmediate(() => this.#due());
  }

  #due(): void {
    if (this.#scheduled && !this.#closed && this.#retry === null && this.#writing === null && this.#fenced === null) {
      void this.#commit();
    }
  }

  #scheduleRetry(): void {
    const delayMs = this.#retry === null ? kRetryMs.first : Math.min(this.#retry.delayMs * 2, kRetryMs.max);
    if (this.#retry !== null) clearTimeout(this.#retry.timer);
    const timer = setTimeout(() => void this.#commit(), delayMs);
    // Left ref'd on purpose: staged boundaries not yet on disk keep the process alive until a
    // retry writes them or the runtime shuts down.
    this.#retry = { timer, delayMs };
  }
}
