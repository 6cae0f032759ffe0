/**
 * Restoring state from a checkpoint's rows: each reactor's snapshot and queue, each
 * accumulator's data, and what every saved component was. Pure: the rows come from a store.
 *
 * The rows of one key of a keyed reactor are kept under the reactor's name, a NUL and the key
 * (see `keyed-reactor.ts`); they are restored per key, under the reactor.
 */
import type { QueuedBoundary } from '../../reactor/boundary-queue.js';
import type { ReactorSnapshot } from '../../reactor/records.js';
import { decodeAccumulator, decodeBoundary, decodeReactor, type SavedComponent, type StoredRows } from './rows.js';

/** A reactor's state as restored from a checkpoint. */
export interface RestoredReactor {
  readonly snapshot: ReactorSnapshot;
  /** Sequential boundaries accepted but not yet fired, oldest first. */
  readonly queue: QueuedBoundary[];
}

/** Everything a checkpoint holds. */
export interface RestoredState {
  readonly components: ReadonlyMap<string, SavedComponent>;
  readonly reactors: ReadonlyMap<string, RestoredReactor>;
  /** Keyed reactor -> key -> that key's state. */
  readonly keys: ReadonlyMap<string, ReadonlyMap<string, RestoredReactor>>;
  readonly accumulators: ReadonlyMap<string, unknown>;
}

/**
 * Decodes every row. A component with state but no component row (a file of 0.1.0) is recorded
 * with an empty kind; a reactor with queued boundaries but no saved snapshot starts from an empty
 * one. Throws CheckpointError naming the component whose row is corrupt.
 */
export function restoreState(rows: StoredRows, location: string): RestoredState {
  const components = new Map<string, SavedComponent>();
  for (const row of rows.components) components.set(row.name, { name: row.name, role: row.role, kind: row.kind });
  const note = (name: string, role: SavedComponent['role']): void => {
    if (!components.has(name)) components.set(name, { name, role, kind: '' });
  };
  const reactors = new Map<string, { snapshot: ReactorSnapshot; queue: QueuedBoundary[] }>();
  const entry = (name: string): { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } => {
    let state = reactors.get(name);
    if (state === undefined) {
      state = { snapshot: { cache: {}, dirty: {}, paused: false }, queue: [] };
      reactors.set(name, state);
      note(name, 'reactor');
    }
    return state;
  };
  const keys = new Map<string, Map<string, RestoredReactor>>();
  const keyEntry = (name: string, at: number): { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } => {
    const reactor = name.slice(0, at);
    const key = name.slice(at + 1);
    let held = keys.get(reactor);
    if (held === undefined) {
      held = new Map();
      keys.set(reactor, held);
      note(reactor, 'reactor');
    }
    let state = held.get(key);
    if (state === undefined) {
      state = { snapshot: { cache: {}, dirty: {}, paused: false }, queue: [] };
      held.set(key, state);
    }
    return state as { snapshot: ReactorSnapshot; queue: QueuedBoundary[] };
  };
  const stateOf = (name: string): { snapshot: ReactorSnapshot; queue: QueuedBoundary[] } => {
    const at = name.indexOf('\0');
    return at < 0 ? entry(name) : keyEntry(name, at);
  };
  for (const row of rows.reactors) stateOf(row.reactor).snapshot = decodeReactor(row, location);
  for (const row of rows.queue) stateOf(row.reactor).queue.push(decodeBoundary(row, location));
  const accumulators = new Map<string, unknown>();
  for (const row of rows.accumulators) {
    accumulators.set(row.accumulator, decodeAccumulator(row, location));
    note(row.accumulator, 'accumulator');
  }
  return { components, reactors, keys, accumulators };
}
