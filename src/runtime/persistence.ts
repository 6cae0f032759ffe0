/**
 * The runtime's checkpoint: what each component saves, and how saved state is matched against
 * what is registered when a runtime starts on an existing file.
 *
 * Saved state is applied only to a component of the same name, role and kind (a reactor's
 * strategy, an accumulator's kind), and a reactor's saved queue only when every boundary in it
 * comes from a source the reactor still reads and its saved dirty flags name no source it
 * dropped. Anything else — a component renamed or removed, a reactor switched from
 * `sequential` to `latest`, a state window where a batch accumulator now stands — is a
 * mismatch, and is never applied silently:
 *
 * - `stateMismatch: 'fail'` (the default): `start()` rejects with a CheckpointError naming each
 *   mismatched component and why; nothing starts and the file is left as it was.
 * - `stateMismatch: 'set-aside'`: the mismatched state moves into the file's `set_aside` table
 *   (kept, with the reason and the time), an `error` event names it, and the component starts
 *   empty.
 *
 * The state lives in a {@link CheckpointStore}; writes go through a {@link GroupCommit}.
 */
import type { Accumulator } from '../accumulators/accumulator.js';
import { CheckpointError } from '../model/errors.js';
import type { ReactorDeclaration } from '../model/reactor-declaration.js';
import type { QueuedBoundary } from '../reactor/boundary-queue.js';
import type { LiveReactor } from '../reactor/live-reactor.js';
import type { ReactorSnapshot } from '../reactor/records.js';
import { restoreState, type RestoredReactor, type RestoredState } from './checkpoint/load.js';
import type { SavedComponent } from './checkpoint/rows.js';
import { GroupCommit } from './checkpoint/staging.js';
import type { CheckpointStore } from './checkpoint/store.js';

/** What a runtime does with saved state that no longer fits what is registered. */
export type StateMismatchPolicy = 'fail' | 'set-aside';

/** The state a started runtime applies to its components. */
export interface Restored {
  reactor(name: string): { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } | undefined;
  /** A keyed reactor's keys: key to its state. */
  keys(name: string): ReadonlyMap<string, RestoredReactor> | undefined;
  accumulator(name: string): unknown;
}

export class Persistence {
  readonly #store: CheckpointStore;
  readonly #commits: GroupCommit;

  /**
   * Persistence in `store`, not yet open: `report` hears commits that failed (retried) and values
   * that could not be serialised, `committed` each commit's duration (ms).
   */
  constructor(store: CheckpointStore, report: (error: unknown) => void, committed?: (ms: number) => void) {
    const location = store.location;
    this.#store = store;
    this.#commits = new GroupCommit({
      location,
      write: (rows) => store.write(rows),
      commitFailed: report,
      rowFailed: ({ component, error }) =>
        report(
          new CheckpointError(
            location,
            [component],
            `checkpoint: a value of '${component}' cannot be serialised and was not written: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          ),
        ),
      committed,
    });
  }

  /** Opens the store and takes ownership of it; rejects with CheckpointError. */
  async open(): Promise<void> {
    await this.#store.open();
  }

  /**
   * Loads the store, matches it against the registrations and records them. Rejects with
   * CheckpointError for a corrupt store, or (policy 'fail') for mismatched state.
   */
  async restore(
    reactors: ReadonlyMap<string, ReactorDeclaration>,
    accumulators: ReadonlyMap<string, Accumulator>,
    policy: StateMismatchPolicy,
    report: (error: unknown) => void,
  ): Promise<Restored> {
    const store = this.#store;
    const saved = restoreState(await store.load(), store.location);
    const mismatches = findMismatches(saved, reactors, accumulators);
    if (mismatches.size > 0 && policy === 'fail') {
      throw new CheckpointError(
        store.location,
        [...mismatches.keys()],
        `checkpoint file '${store.location}' holds state that does not fit what is registered (left in the file; start with stateMismatch: 'set-aside' to keep it aside and start empty): ${[
          ...mismatches,
        ]
          .map(([name, reason]) => `'${name}': ${reason}`)
          .join('; ')}`,
      );
    }
    const registered: SavedComponent[] = [
      ...[...reactors.values()].map((r) => ({ name: r.name, role: 'reactor' as const, kind: r.strategy })),
      ...[...accumulators.values()].map((a) => ({ name: a.name, role: 'accumulator' as const, kind: a.kind })),
    ];
    await store.prepare(registered, mismatches);
    for (const [name, reason] of mismatches) {
      report(
        new CheckpointError(
          store.location,
          [name],
          `checkpoint: the saved state of '${name}' was set aside (kept in the file's set_aside table): ${reason}`,
        ),
      );
    }
    return {
      reactor: (name) => (mismatches.has(name) ? undefined : saved.reactors.get(name)),
      keys: (name) => (mismatches.has(name) ? undefined : saved.keys.get(name)),
      accumulator: (name) => (mismatches.has(name) ? undefined : saved.accumulators.get(name)),
    };
  }

  /** Wires a reactor's changes into the checkpoint. */
  accepted(reactor: LiveReactor, boundary: QueuedBoundary): void {
    this.#commits.append(reactor.checkpointName, boundary);
  }

  consumed(reactor: LiveReactor, seq: number): void {
    this.#commits.consume(reactor.checkpointName, seq);
    this.changed(reactor);
  }

  changed(reactor: LiveReactor): void {
    this.#commits.saveReactor(reactor.checkpointName, () => reactor.snapshot());
  }

  /** A key of a keyed reactor was forgotten: its rows are deleted. */
  forget(checkpointName: string): void {
    this.#commits.forgetReactor(checkpointName);
  }

  saveAccumulator(name: string, read: () => unknown): void {
    this.#commits.saveAccumulator(name, read);
  }

  persisted(): Promise<void> {
    return this.#commits.persisted();
  }

  /** The store lost its ownership: nothing commits, and `persisted()` rejects with `error`. */
  fence(error: CheckpointError): void {
    this.#commits.fence(error);
  }

  /**
   * Fenced, drops what is staged: the store was owned by another runtime meanwhile, so the
   * state held here is stale and none of it is written. At once when no commit is in flight,
   * else once it has ended.
   */
  discard(): Promise<void> {
    return this.#commits.discard();
  }

  /** The store is owned again: what is staged commits (after {@link discard}, only what was staged since). */
  unfence(): void {
    this.#commits.unfence();
  }

  /**
   * Commits what is staged and releases the store; rejects with CheckpointError when that commit
   * fails (what it held is then lost, and the store keeps its last commit).
   */
  async close(): Promise<void> {
    const ok = await this.#commits.close();
    await this.#store.close();
    if (!ok) {
      const location = this.#store.location;
      throw new CheckpointError(location, [], `the last checkpoint commit to '${location}' failed at shutdown`);
    }
  }
}

/** The state a runtime without a checkpoint starts from. */
export const noRestoredState: Restored = {
  reactor: () => undefined,
  keys: () => undefined,
  accumulator: () => undefined,
};

/** Saved components that do not fit the registrations, with the reason for each. */
function findMismatches(
  saved: RestoredState,
  reactors: ReadonlyMap<string, ReactorDeclaration>,
  accumulators: ReadonlyMap<string, Accumulator>,
): Map<string, string> {
  const mismatches = new Map<string, string>();
  for (const component of saved.components.values()) {
    const { name, role, kind } = component;
    const reactor = reactors.get(name);
    const accumulator = accumulators.get(name);
    if (reactor === undefined && accumulator === undefined) {
      mismatches.set(name, `no ${role} named '${name}' is registered (renamed or removed?)`);
    } else if (role === 'reactor' && reactor === undefined) {
      mismatches.set(name, `it was saved by a reactor and '${name}' is now an accumulator`);
    } else if (role === 'accumulator' && accumulator === undefined) {
      mismatches.set(name, `it was saved by an accumulator and '${name}' is now a reactor`);
    } else if (reactor !== undefined) {
      const reason = reactorMismatch(reactor, kind, saved.reactors.get(name), saved.keys.get(name));
      if (reason !== null) mismatches.set(name, reason);
    } else if (kind !== '' && kind !== accumulator!.kind) {
      mismatches.set(
        name,
        `it was saved by a ${kind} accumulator and '${name}' is now a ${accumulator!.kind} accumulator`,
      );
    }
  }
  return mismatches;
}

function reactorMismatch(
  reactor: ReactorDeclaration,
  strategy: string,
  state: RestoredReactor | undefined,
  keys: ReadonlyMap<string, RestoredReactor> | undefined,
): string | null {
  if (strategy !== '' && strategy !== reactor.strategy) {
    return `the reactor was '${strategy}' and is now '${reactor.strategy}'`;
  }
  if (keys !== undefined && reactor.keyed === undefined) return 'the reactor was keyed and is not any more';
  // A keyed reactor's own row holds no flags and no queue (those are per key).
  if (
    reactor.keyed !== undefined &&
    state !== undefined &&
    (state.queue.length > 0 || Object.keys(state.snapshot.dirty).length > 0)
  ) {
    return 'the reactor was not keyed and is now keyed';
  }
  const sources = new Set(reactor.accumulators);
  const dropped = new Set<string>();
  for (const saved of [...(state === undefined ? [] : [state]), ...(keys?.values() ?? [])]) {
    for (const boundary of saved.queue) if (!sources.has(boundary.source)) dropped.add(boundary.source);
    for (const source of Object.keys(saved.snapshot.dirty)) if (!sources.has(source)) dropped.add(source);
  }
  if (dropped.size === 0) return null;
  return `the reactor no longer reads ${[...dropped].map((s) => `'${s}'`).join(', ')}, which its saved state comes from`;
}
