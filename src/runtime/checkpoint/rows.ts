/**
 * The rows of a checkpoint, whatever stores them: what each holds, how a value is encoded, and
 * the checksum that catches a flipped byte. Pure: no I/O.
 *
 * Values are stored with `v8.serialize`, so anything structured-cloneable round-trips (Maps,
 * typed arrays, Dates...). A database checks its own structure but not the bytes of a value, so
 * every row also carries a CRC-32 of its key and value (`zlib.crc32`, about 1 GB/s), verified
 * when it is loaded; rows written by 0.1.0 carry none (`crc` null) and are taken as they are.
 */
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { CheckpointError } from '../../model/errors.js';
import type { QueuedBoundary } from '../../reactor/boundary-queue.js';
import type { ReactorSnapshot } from '../../reactor/records.js';

/** What a saved component was, as recorded with its state. */
export interface SavedComponent {
  readonly name: string;
  readonly role: 'reactor' | 'accumulator';
  /** The reactor's strategy, or the accumulator's kind; empty when unknown (a file of 0.1.0). */
  readonly kind: string;
}

/** A sequential boundary a reactor accepted and has not fired yet. */
export interface BoundaryRow {
  readonly reactor: string;
  readonly seq: number;
  readonly source: string;
  readonly value: Uint8Array;
  readonly crc: number | null;
}

/** A reactor's cache, dirty flags and paused flag. */
export interface ReactorRow {
  readonly reactor: string;
  readonly data: Uint8Array;
  readonly crc: number | null;
}

/** An accumulator's saved data. */
export interface AccumulatorRow {
  readonly accumulator: string;
  readonly data: Uint8Array;
  readonly crc: number | null;
}

/** Everything a checkpoint holds, as read back; `queue` is ordered by reactor, then seq. */
export interface StoredRows {
  readonly components: readonly SavedComponent[];
  readonly reactors: readonly ReactorRow[];
  readonly queue: readonly BoundaryRow[];
  readonly accumulators: readonly AccumulatorRow[];
}

/** One group commit, encoded: a store writes it in one transaction, all or nothing, in this order. */
export interface CommitRows {
  /** Reactors (forgotten keys of a keyed reactor) whose state and queue rows are deleted, first. */
  readonly clearedReactors: readonly string[];
  /** Boundaries to insert (or replace). */
  readonly boundaries: readonly BoundaryRow[];
  /** Reactor -> the highest seq it is done with: its boundaries up to that seq are deleted. */
  readonly consumed: ReadonlyMap<string, number>;
  /** Reactor states to insert (or replace). */
  readonly reactors: readonly ReactorRow[];
  /** Accumulator states to insert (or replace). */
  readonly accumulators: readonly AccumulatorRow[];
  /** Accumulators whose saved data is deleted. */
  readonly clearedAccumulators: readonly string[];
}

/** A checksum over a row's key and value, so a flipped byte in either is caught on load. */
function checksum(key: string, value: Uint8Array): number {
  return crc32(value, crc32(key));
}

const boundaryKey = (reactor: string, seq: number, source: string): string => `queue\0${reactor}\0${seq}\0${source}`;
const reactorKey = (reactor: string): string => `reactor_state\0${reactor}`;
const accumulatorKey = (accumulator: string): string => `accumulator_state\0${accumulator}`;

/** Encodes a boundary of `reactor`; throws what `v8.serialize` throws for a value it cannot write. */
export function boundaryRow(reactor: string, boundary: QueuedBoundary): BoundaryRow {
  const value = serialize(boundary.value);
  const { seq, source } = boundary;
  return { reactor, seq, source, value, crc: checksum(boundaryKey(reactor, seq, source), value) };
}

/** Encodes a reactor's snapshot; throws what `v8.serialize` throws for a value it cannot write. */
export function reactorRow(reactor: string, snapshot: ReactorSnapshot): ReactorRow {
  const data = serialize(snapshot);
  return { reactor, data, crc: checksum(reactorKey(reactor), data) };
}

/** Encodes an accumulator's data; throws what `v8.serialize` throws for a value it cannot write. */
export function accumulatorRow(accumulator: string, state: unknown): AccumulatorRow {
  const data = serialize(state);
  return { accumulator, data, crc: checksum(accumulatorKey(accumulator), data) };
}

/** Decodes a boundary row; throws CheckpointError naming the reactor when the row is corrupt. */
export function decodeBoundary(row: BoundaryRow, location: string): QueuedBoundary {
  verify(boundaryKey(row.reactor, row.seq, row.source), row.value, row.crc, row.reactor, location);
  return { seq: row.seq, source: row.source, value: decode(row.value, row.reactor, location) };
}

/** Decodes a reactor row; throws CheckpointError naming the reactor when the row is corrupt. */
export function decodeReactor(row: ReactorRow, location: string): ReactorSnapshot {
  verify(reactorKey(row.reactor), row.data, row.crc, row.reactor, location);
  return decode(row.data, row.reactor, location) as ReactorSnapshot;
}

/** Decodes an accumulator row; throws CheckpointError naming the accumulator when the row is corrupt. */
export function decodeAccumulator(row: AccumulatorRow, location: string): unknown {
  verify(accumulatorKey(row.accumulator), row.data, row.crc, row.accumulator, location);
  return decode(row.data, row.accumulator, location);
}

/** The rows of a keyed reactor's keys, set aside with it (each under its reactor, a NUL, its key). */
export interface SetAsideKeys {
  readonly states: ReadonlyArray<{ reactor: string; data: Uint8Array }>;
  readonly queue: ReadonlyArray<{ reactor: string; seq: number; source: string; value: Uint8Array }>;
}

/** The saved state of a component that is set aside, as one value: its rows' bytes, undecoded. */
export function setAsideData(
  reactorState: Uint8Array | null,
  queue: ReadonlyArray<{ seq: number; source: string; value: Uint8Array }>,
  accumulatorState: Uint8Array | null,
  keys?: SetAsideKeys,
): Buffer {
  return serialize(
    keys === undefined ? { reactorState, queue, accumulatorState } : { reactorState, queue, accumulatorState, keys },
  );
}

function decode(data: Uint8Array, component: string, location: string): unknown {
  try {
    return deserialize(data);
  } catch (error) {
    throw new CheckpointError(
      location,
      [component],
      `checkpoint file '${location}': the saved state of '${component}' cannot be read`,
      { cause: error },
    );
  }
}

function verify(key: string, data: Uint8Array, crc: number | null, component: string, location: string): void {
  if (crc === null || checksum(key, data) === crc) return;
  throw new CheckpointError(
    location,
    [component],
    `checkpoint file '${location}' is corrupt: the saved state of '${component}' fails its checksum`,
  );
}
