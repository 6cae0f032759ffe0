/**
 * Checkpoint rows (src/runtime/checkpoint/rows.ts) and restoring state from them
 * (src/runtime/checkpoint/load.ts): what is encoded comes back, a corrupt row is refused naming
 * its component.
 */
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { thrown } from './support/thrown.js';
import { CheckpointError } from '../../src/model/errors.js';
import { restoreState } from '../../src/runtime/checkpoint/load.js';
import {
  accumulatorRow,
  boundaryRow,
  decodeBoundary,
  reactorRow,
  type StoredRows,
} from '../../src/runtime/checkpoint/rows.js';

const snapshot = { cache: { a: new Map([[1, 'x']]), b: new Date(0) }, dirty: { a: true }, paused: true };

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at] ^= 0x01;
  return copy;
}

describe('checkpoint rows', () => {
  it('round trip: reactors, queues and accumulators come back as they were encoded', () => {
    const rows: StoredRows = {
      components: [
        { name: 'r', role: 'reactor', kind: 'sequential' },
        { name: 'acc', role: 'accumulator', kind: 'state' },
      ],
      reactors: [reactorRow('r', snapshot)],
      queue: [
        boundaryRow('r', { seq: 1, source: 'acc', value: { n: 1 } }),
        boundaryRow('r', { seq: 2, source: 'acc', value: new Uint8Array([1, 2]) }),
      ],
      accumulators: [accumulatorRow('acc', { window: [1, 2, 3] })],
    };
    const restored = restoreState(rows, 'file.db');
    expect(restored.reactors.get('r')).toEqual({
      snapshot,
      queue: [
        { seq: 1, source: 'acc', value: { n: 1 } },
        { seq: 2, source: 'acc', value: new Uint8Array([1, 2]) },
      ],
    });
    expect(restored.accumulators.get('acc')).toEqual({ window: [1, 2, 3] });
    expect([...restored.components.values()]).toEqual(rows.components);
  });

  it('state without a component row (a file of 0.1.0) is recorded with an empty kind; a queue alone starts from an empty snapshot', () => {
    const restored = restoreState(
      {
        components: [],
        reactors: [],
        queue: [boundaryRow('q', { seq: 5, source: 's', value: 'v' })],
        accumulators: [accumulatorRow('acc', 1)],
      },
      'file.db',
    );
    expect(restored.components.get('q')).toEqual({ name: 'q', role: 'reactor', kind: '' });
    expect(restored.components.get('acc')).toEqual({ name: 'acc', role: 'accumulator', kind: '' });
    expect(restored.reactors.get('q')).toEqual({
      snapshot: { cache: {}, dirty: {}, paused: false },
      queue: [{ seq: 5, source: 's', value: 'v' }],
    });
  });

  it('a flipped byte in a value fails its checksum, naming the component', () => {
    const row = reactorRow('r', snapshot);
    const error = thrown(CheckpointError, () =>
      restoreState(
        { components: [], reactors: [{ ...row, data: flipped(row.data, 5) }], queue: [], accumulators: [] },
        'f.db',
      ),
    );
    expect(error.components).toEqual(['r']);
    expect(error.path).toBe('f.db');
    expect(error.message).toBe("checkpoint file 'f.db' is corrupt: the saved state of 'r' fails its checksum");
  });

  it('the checksum covers the key: a row moved to another reactor, seq or source is refused', () => {
    const row = boundaryRow('r', { seq: 1, source: 's', value: 42 });
    expect(decodeBoundary(row, 'f.db')).toEqual({ seq: 1, source: 's', value: 42 });
    for (const moved of [
      { ...row, reactor: 'other' },
      { ...row, seq: 2 },
      { ...row, source: 't' },
    ]) {
      expect(thrown(CheckpointError, () => decodeBoundary(moved, 'f.db')).message).toMatch(/fails its checksum/);
    }
    const acc = accumulatorRow('a', 1);
    expect(() =>
      restoreState({ components: [], reactors: [], queue: [], accumulators: [{ ...acc, accumulator: 'b' }] }, 'f.db'),
    ).toThrow("the saved state of 'b' fails its checksum");
  });

  it('a row without a checksum (0.1.0) is taken as it is, and refused when it cannot be decoded', () => {
    const legacy = { accumulator: 'a', data: serialize([1]), crc: null };
    expect(
      restoreState({ components: [], reactors: [], queue: [], accumulators: [legacy] }, 'f.db').accumulators.get('a'),
    ).toEqual([1]);
    const garbage = { ...legacy, data: Uint8Array.from([0xff, 0x0f, 0x99, 0x00]) };
    const error = thrown(CheckpointError, () =>
      restoreState({ components: [], reactors: [], queue: [], accumulators: [garbage] }, 'f.db'),
    );
    expect(error.components).toEqual(['a']);
    expect(error.message).toBe("checkpoint file 'f.db': the saved state of 'a' cannot be read");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('a value that cannot be serialised throws when it is encoded', () => {
    expect(() => accumulatorRow('a', () => 1)).toThrow();
    expect(() => boundaryRow('r', { seq: 1, source: 's', value: Symbol('x') })).toThrow();
  });
});
