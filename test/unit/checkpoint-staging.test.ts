/**
 * Group commit (src/runtime/checkpoint/staging.ts): what a commit writes, one commit per turn,
 * a failed commit kept staged and retried, and an asynchronous store's writes one at a time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../src/model/errors.js';
import type { CommitRows } from '../../src/runtime/checkpoint/rows.js';
import { GroupCommit, noStagedWrites, rowsOf, type RowFailure } from '../../src/runtime/checkpoint/staging.js';

const snapshot = (n: number) => ({ cache: { n }, dirty: {}, paused: false });

describe('rowsOf', () => {
  it('leaves out consumed boundaries, reads state now, deletes an accumulator whose state is undefined', () => {
    const staged = noStagedWrites();
    staged.appended.set('r', [
      { seq: 1, source: 's', value: 'a' },
      { seq: 2, source: 's', value: 'b' },
      { seq: 3, source: 's', value: 'c' },
    ]);
    staged.consumed.set('r', 2);
    let n = 0;
    staged.reactors.set('r', () => snapshot(++n));
    staged.accumulators.set('kept', () => ({ x: 1 }));
    staged.accumulators.set('gone', () => undefined);
    expect(n).toBe(0);
    const rows = rowsOf(staged, () => expect.fail('no row fails'));
    expect(n).toBe(1);
    expect(rows.boundaries.map((b) => [b.reactor, b.seq])).toEqual([['r', 3]]);
    expect([...rows.consumed]).toEqual([['r', 2]]);
    expect(rows.reactors.map((r) => r.reactor)).toEqual(['r']);
    expect(rows.accumulators.map((a) => a.accumulator)).toEqual(['kept']);
    expect(rows.clearedAccumulators).toEqual(['gone']);
  });

  it('a value that cannot be serialised fails its own row only', () => {
    const staged = noStagedWrites();
    staged.appended.set('r', [
      { seq: 1, source: 's', value: () => 1 },
      { seq: 2, source: 's', value: 2 },
    ]);
    staged.accumulators.set('bad', () => Symbol('x'));
    staged.accumulators.set('good', () => 1);
    const failures: RowFailure[] = [];
    const rows = rowsOf(staged, (f) => failures.push(f));
    expect(failures.map((f) => f.component)).toEqual(['r', 'bad']);
    expect(rows.boundaries.map((b) => b.seq)).toEqual([2]);
    expect(rows.accumulators.map((a) => a.accumulator)).toEqual(['good']);
  });

  it('a read that throws fails the whole commit', () => {
    const staged = noStagedWrites();
    staged.reactors.set('r', () => {
      throw new Error('snapshot failed');
    });
    expect(() => rowsOf(staged, () => {})).toThrow('snapshot failed');
  });
});

describe('GroupCommit', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setImmediate', 'setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  function commits(write: (rows: CommitRows) => void | Promise<void>) {
    const failed: CheckpointError[] = [];
    const committed: number[] = [];
    const group = new GroupCommit({
      location: 'f.db',
      write,
      rowFailed: () => {},
      commitFailed: (e) => failed.push(e),
      committed: (ms) => committed.push(ms),
    });
    return { group, failed, committed };
  }

  /** A group commit whose writes wait until the test ends each one (`done` or `fail`). */
  function heldCommits() {
    const writes: Array<{ rows: CommitRows; fail: (e: Error) => void; done: () => void }> = [];
    const held = commits((rows) => new Promise<void>((done, fail) => void writes.push({ rows, done, fail })));
    return { ...held, writes };
  }

  it('everything staged in one turn is one commit; persisted() resolves after it', async () => {
    const written: CommitRows[] = [];
    const { group, committed } = commits((rows) => void written.push(rows));
    await expect(group.persisted()).resolves.toBeUndefined();
    for (let seq = 1; seq <= 1000; seq++) group.append('r', { seq, source: 's', value: seq });
    group.consume('r', 10);
    const persisted = group.persisted();
    expect(written).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    await persisted;
    expect(written).toHaveLength(1);
    expect(written[0]!.boundaries).toHaveLength(990);
    expect(committed).toHaveLength(1);
  });

  it('a failed commit keeps its writes staged: persisted() rejects, the retry writes them, a later persisted() resolves', async () => {
    let full = true;
    const written: CommitRows[] = [];
    const { group, failed } = commits((rows) => {
      if (full) throw new Error('SQLITE_FULL');
      written.push(rows);
    });
    group.append('r', { seq: 1, source: 's', value: 'a' });
    const first = group.persisted();
    const firstRejected = expect(first).rejects.toThrow(
      "checkpoint commit to 'f.db' failed; what it held stays staged and is retried: SQLITE_FULL",
    );
    await vi.advanceTimersByTimeAsync(0);
    await firstRejected;
    expect(failed).toHaveLength(1);
    // Staging more waits for the retry timer: no commit per turn against a full disk.
    group.append('r', { seq: 2, source: 's', value: 'b' });
    const beforeRetry = group.persisted();
    const beforeRejected = expect(beforeRetry).rejects.toThrow('SQLITE_FULL');
    await vi.advanceTimersByTimeAsync(50);
    expect(failed).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(50); // the first retry, at 100 ms, fails again
    await beforeRejected;
    expect(failed).toHaveLength(2);
    full = false;
    const later = group.persisted();
    let settled = false;
    void later.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(150);
    expect(settled).toBe(false); // the next retry waits 200 ms: the backoff doubles
    await vi.advanceTimersByTimeAsync(50);
    expect(settled).toBe(true);
    expect(written).toHaveLength(1);
    expect(written[0]!.boundaries.map((b) => b.seq)).toEqual([1, 2]);
  });

  it('close() commits what is staged and answers false when that commit fails, with no retry after', async () => {
    const { group, failed } = commits(() => {
      throw new Error('read-only');
    });
    group.saveAccumulator('a', () => 1);
    expect(group.close()).toBe(false);
    expect(failed).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failed).toHaveLength(1);
  });

  it('an asynchronous store: what is staged during a write goes in the next one, never alongside', async () => {
    const writes: Array<{ rows: CommitRows; done: () => void }> = [];
    const { group } = commits(
      (rows) =>
        new Promise<void>((resolve) => {
          writes.push({ rows, done: resolve });
        }),
    );
    group.append('r', { seq: 1, source: 's', value: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(1);
    group.append('r', { seq: 2, source: 's', value: 2 });
    const second = group.persisted();
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(1);
    writes[0]!.done();
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(2);
    expect(writes[1]!.rows.boundaries.map((b) => b.seq)).toEqual([2]);
    writes[1]!.done();
    await expect(second).resolves.toBeUndefined();
  });

  it('an asynchronous store that fails puts the failed writes back ahead of those staged meanwhile', async () => {
    const { group, writes } = heldCommits();
    group.append('r', { seq: 1, source: 's', value: 1 });
    await vi.advanceTimersByTimeAsync(0);
    group.append('r', { seq: 2, source: 's', value: 2 });
    writes[0]!.fail(new Error('connection lost'));
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toHaveLength(2);
    expect(writes[1]!.rows.boundaries.map((b) => b.seq)).toEqual([1, 2]);
  });

  it('fenced: nothing commits, persisted() rejects with the loss, and the unfence commits what was staged', async () => {
    const { group, failed, writes } = heldCommits();
    group.append('r', { seq: 1, source: 's', value: 1 });
    const inFlight = group.persisted();
    await vi.advanceTimersByTimeAsync(0);
    const loss = new CheckpointError('pricing-1', [], 'lost the session');
    group.fence(loss);
    writes[0]!.fail(new Error('connection lost'));
    await expect(inFlight).rejects.toBe(loss);
    group.append('r', { seq: 2, source: 's', value: 2 });
    await expect(group.persisted()).rejects.toBe(loss);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(writes).toHaveLength(1);
    expect(failed).toEqual([]);
    group.unfence();
    const after = group.persisted();
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(2);
    expect(writes[1]!.rows.boundaries.map((b) => b.seq)).toEqual([1, 2]);
    writes[1]!.done();
    await expect(after).resolves.toBeUndefined();
  });

  it('close() while fenced commits nothing', async () => {
    const written: CommitRows[] = [];
    const { group } = commits((rows) => {
      written.push(rows);
    });
    group.fence(new CheckpointError('pricing-1', [], 'lost the session'));
    group.append('r', { seq: 1, source: 's', value: 1 });
    expect(await group.close()).toBe(true);
    expect(written).toEqual([]);
  });
  it('discard() while fenced drops what is staged, once the write in flight has put its writes back', async () => {
    const { group, writes } = heldCommits();
    group.append('r', { seq: 1, source: 's', value: 1 });
    await vi.advanceTimersByTimeAsync(0);
    group.fence(new CheckpointError('pricing-1', [], 'lost the session'));
    group.append('r', { seq: 2, source: 's', value: 2 });
    const discarded = group.discard();
    writes[0]!.fail(new Error('connection lost'));
    await discarded;
    group.unfence();
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(1);
    await expect(group.persisted()).resolves.toBeUndefined();
    // What is staged after the discard commits as usual.
    group.append('r', { seq: 3, source: 's', value: 3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(writes[1]!.rows.boundaries.map((b) => b.seq)).toEqual([3]);
  });
});
