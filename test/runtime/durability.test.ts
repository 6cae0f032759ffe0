/**
 * Checkpoint safety (contract section 6): a bad event never costs a good one, a failed commit
 * keeps what it held staged, the file belongs to one runtime, a corrupt or empty file is an
 * error at start(), saved state is never applied to something it does not fit, and a paused
 * reactor stays paused across a restart.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  UncloneableValueError,
  batchAccumulator,
  passthroughAccumulator,
  reactor,
  stateAccumulator,
  type Runtime,
} from 'cloaca';
import { spawnReporting } from '../support/child.js';
import { FireLog, fixture, rejectionOf, thrownBy, unique, useRuntimes } from './support.js';

const { runtime, graph, tmp } = useRuntimes();

/** A sequential reactor fed by one passthrough, with an inline graph that returns its input. */
async function sequential(rt: Runtime, names: { source: string; reactor: string }) {
  const R = reactor({ name: names.reactor, accumulators: [names.source], strategy: 'sequential' });
  const g = await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [names.source] } } });
  rt.register(passthroughAccumulator({ name: names.source }), R, g);
  const log = new FireLog(rt);
  return { log, fired: () => log.records.map((r) => (r.outputs?.snap as unknown[])[0]) };
}

/** Errors the runtime reports, awaitable. */
function errorsOf(rt: Runtime): Error[] {
  const errors: Error[] = [];
  rt.on('error', (error) => errors.push(error));
  return errors;
}

describe('a bad event never costs a good one', () => {
  it('push of an uncloneable event throws UncloneableValueError naming the accumulator and path; the others of the turn persist', async () => {
    const file = join(tmp(), 'bad-event.db');
    const names = { source: unique('events'), reactor: unique('seq') };
    const first = runtime({ checkpoint: file });
    await sequential(first, names);
    await first.start();
    first.reactor(names.reactor).pause();
    first.push(names.source, 1);
    first.push(names.source, 2);
    const error = thrownBy(() => first.push(names.source, { id: 3, cb: () => 3 }));
    expect(error).toBeInstanceOf(UncloneableValueError);
    expect((error as UncloneableValueError).message).toContain(names.source);
    expect((error as UncloneableValueError).path).toBe('event.cb');
    first.push(names.source, 4);
    await first.persisted();
    expect(first.reactor(names.reactor).getState().queued).toBe(3);
    await first.shutdown();

    const second = runtime({ checkpoint: file });
    const { fired } = await sequential(second, names);
    await second.start();
    second.reactor(names.reactor).resume();
    await second.idle();
    expect(fired()).toStrictEqual([1, 2, 4]);
  });

  it('a full disk: persisted() rejects, the boundaries stay staged, and once there is room a later persisted() writes them; SIGKILL after that loses none', async () => {
    const dir = tmp();
    const shim = join(dir, 'diskfull.so');
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-o',
      shim,
      fileURLToPath(new URL('../fixtures/native/diskfull.c', import.meta.url)),
      '-ldl',
    ]);
    const file = join(dir, 'full.db');
    const env = { LD_PRELOAD: shim, DISKFULL_TARGET: file, DISKFULL_FLAG: join(dir, 'disk-is-full') };
    const filler = spawnReporting(fixture('diskfull-child.mjs'), ['fill', file], { env });
    try {
      await filler.line((l) => l === 'persisted 99');
    } finally {
      filler.proc.kill('SIGKILL');
    }
    await filler.exited;
    const lines = filler.lines();
    expect(lines).toContain('persisted 49');
    expect(lines).toContain('rejected CLOACA_ERR_CHECKPOINT SQLITE_FULL');
    expect(lines).toContain('queued 100');
    expect(lines).toContain('retry failed true; second persisted() rejected CLOACA_ERR_CHECKPOINT');
    expect(lines).not.toContain('resolved while the disk was full');

    const recovery = spawnReporting(fixture('diskfull-child.mjs'), ['recover', file]);
    const { code } = await recovery.exited;
    expect(code, recovery.stderr()).toBe(0);
    const fired = recovery
      .lines()
      .filter((l) => l.startsWith('fired '))
      .map((l) => Number(l.slice(6)));
    expect(fired).toStrictEqual(Array.from({ length: 100 }, (_, n) => n));
  });
});

describe('one runtime per checkpoint file', () => {
  it('a second runtime in this process fails to start with a CheckpointError, and starts once the first has shut down', async () => {
    const file = join(tmp(), 'owned.db');
    const names = { source: unique('events'), reactor: unique('seq') };
    const first = runtime({ checkpoint: file });
    await sequential(first, names);
    await first.start();
    first.push(names.source, 1);
    await first.persisted();

    const second = runtime({ checkpoint: file });
    const { fired } = await sequential(second, names);
    const error = await rejectionOf(second.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).path).toBe(file);
    expect((error as Error).message).toMatch(/in use by another runtime/);
    expect(second.state).toBe('created');

    first.reactor(names.reactor).pause();
    first.push(names.source, 2);
    await first.shutdown();
    await second.start();
    second.reactor(names.reactor).resume();
    await second.idle();
    expect(fired()).toStrictEqual([2]);
  });

  it('a runtime in another process fails to start on a file this one holds', async () => {
    const file = join(tmp(), 'owned-across.db');
    const names = { source: unique('events'), reactor: unique('seq') };
    const first = runtime({ checkpoint: file });
    await sequential(first, names);
    await first.start();
    const other = spawnReporting(fixture('open-checkpoint-child.mjs'), [file]);
    const { code } = await other.exited;
    expect(code, other.stderr()).toBe(0);
    expect(other.lines()).toStrictEqual(['CheckpointError CLOACA_ERR_CHECKPOINT in use']);
  });
});

describe('corrupt files are an error at start()', () => {
  /** Builds a checkpoint file with a queue, a latest cache, a state window and a batch buffer. */
  async function build(file: string, n: Record<'q' | 'S' | 'p' | 'L' | 'st' | 'T' | 'bt' | 'B', string>) {
    const rt = runtime({ checkpoint: file });
    await wire(rt, n);
    await rt.start();
    rt.reactor(n.S).pause();
    for (let v = 0; v < 30; v++) rt.push(n.q, { v, text: `boundary ${v}`, list: [v, v * 2] });
    rt.push(n.p, { price: 101.5 });
    for (let v = 0; v < 4; v++) rt.push(n.st, `w${v}`);
    rt.push(n.bt, 'b1');
    rt.push(n.bt, 'b2');
    await rt.idle();
    await rt.shutdown();
  }

  async function wire(rt: Runtime, n: Record<'q' | 'S' | 'p' | 'L' | 'st' | 'T' | 'bt' | 'B', string>) {
    const S = reactor({ name: n.S, accumulators: [n.q], strategy: 'sequential' });
    const L = reactor({ name: n.L, accumulators: [n.p] });
    const T = reactor({ name: n.T, accumulators: [n.st] });
    const B = reactor({ name: n.B, accumulators: [n.bt] });
    const graphs = [];
    for (const [R, input] of [
      [S, n.q],
      [L, n.p],
      [T, n.st],
      [B, n.bt],
    ] as const) {
      graphs.push(await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [input] } } }));
    }
    rt.register(
      passthroughAccumulator({ name: n.q }),
      passthroughAccumulator({ name: n.p }),
      stateAccumulator({ name: n.st, capacity: 3 }),
      batchAccumulator({ name: n.bt }),
      S,
      L,
      T,
      B,
      ...graphs,
    );
    return new FireLog(rt);
  }

  /** Everything a restart on `file` restores, as data; or the error its start() rejects with. */
  async function restore(file: string, n: Record<'q' | 'S' | 'p' | 'L' | 'st' | 'T' | 'bt' | 'B', string>) {
    const rt = runtime({ checkpoint: file });
    const log = await wire(rt, n);
    try {
      await rt.start();
    } catch (error) {
      return { error };
    }
    await rt.idle();
    const states = [n.S, n.L, n.T, n.B].map((name) => rt.reactor(name).getState());
    rt.reactor(n.S).resume();
    await rt.reactor(n.B).forceFire();
    await rt.idle();
    await rt.shutdown();
    return { states, fires: log.records.map((r) => [r.reactor, r.outputs?.snap]) };
  }

  it('an empty (0-byte) file is refused', async () => {
    const file = join(tmp(), 'empty.db');
    writeFileSync(file, '');
    const rt = runtime({ checkpoint: file });
    await sequential(rt, { source: unique('e'), reactor: unique('r') });
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/empty/);
  });

  it('a file that is not SQLite, or SQLite but not a checkpoint, is refused', async () => {
    const garbage = join(tmp(), 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 7));
    const foreign = join(tmp(), 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE t (x)');
    db.close();
    for (const file of [garbage, foreign]) {
      const rt = runtime({ checkpoint: file });
      await sequential(rt, { source: unique('e'), reactor: unique('r') });
      expect(await rejectionOf(rt.start())).toBeInstanceOf(CheckpointError);
    }
  });

  it('40 single-byte corruptions: each restart either refuses the file or restores exactly what was saved', async () => {
    const n = {
      q: unique('q'),
      S: unique('S'),
      p: unique('p'),
      L: unique('L'),
      st: unique('st'),
      T: unique('T'),
      bt: unique('bt'),
      B: unique('B'),
    };
    const original = join(tmp(), 'original.db');
    await build(original, n);
    const reference = join(tmp(), 'reference.db');
    copyFileSync(original, reference);
    const expected = await restore(reference, n);
    expect(expected.error).toBeUndefined();
    expect(expected.fires!.filter(([r]) => r === n.S)).toHaveLength(30);

    const bytes = readFileSync(original);
    let refused = 0;
    for (let k = 0; k < 40; k++) {
      // Spread over the whole file, header included. (A wider sweep, every header byte and 500
      // positions beyond it, passes as well; 40 keep the suite quick.)
      const offset = Math.floor((bytes.length * (k + 0.5)) / 40);
      const copy = join(tmp(), `corrupt-${k}.db`);
      const corrupt = Buffer.from(bytes);
      corrupt[offset] = corrupt[offset]! ^ 0xff;
      writeFileSync(copy, corrupt);
      const got = await restore(copy, n);
      if (got.error !== undefined) {
        expect(got.error, `byte ${offset}: ${(got.error as Error).stack}`).toBeInstanceOf(CheckpointError);
        refused++;
      } else {
        expect(got, `byte ${offset} restored something else`).toStrictEqual(expected);
      }
    }
    // The flips that land in data are caught; the rest hit free space and change nothing.
    expect(refused).toBeGreaterThan(0);
  });
});

describe('saved state that no longer fits is never applied to the wrong thing', () => {
  /** Runs one runtime registered by `register`, pushes with `feed`, shuts down. */
  async function save(file: string, register: (rt: Runtime) => Promise<void>, feed: (rt: Runtime) => void) {
    const rt = runtime({ checkpoint: file });
    await register(rt);
    await rt.start();
    feed(rt);
    await rt.idle();
    await rt.shutdown();
  }

  /** Saves a paused sequential reactor `name` on `source` holding a backlog of events 0..count-1. */
  function saveBacklog(file: string, source: string, name: string, count: number) {
    return save(
      file,
      async (rt) => void (await sequential(rt, { source, reactor: name })),
      (rt) => {
        rt.reactor(name).pause();
        for (let v = 0; v < count; v++) rt.push(source, v);
      },
    );
  }

  it("a renamed reactor's backlog fails start() naming it, and the file keeps it for the old registration", async () => {
    const file = join(tmp(), 'renamed.db');
    const source = unique('events');
    const old = unique('old');
    await saveBacklog(file, source, old, 5);
    const renamed = runtime({ checkpoint: file });
    await sequential(renamed, { source, reactor: unique('new') });
    const error = await rejectionOf(renamed.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).components).toStrictEqual([old]);
    expect((error as Error).message).toMatch(/no reactor named/);

    const back = runtime({ checkpoint: file });
    const { fired } = await sequential(back, { source, reactor: old });
    await back.start();
    back.reactor(old).resume();
    await back.idle();
    expect(fired()).toStrictEqual([0, 1, 2, 3, 4]);
  });

  it("with stateMismatch 'set-aside' the state is kept aside in the file, reported, and the component starts empty", async () => {
    const file = join(tmp(), 'set-aside.db');
    const source = unique('events');
    const old = unique('old');
    await saveBacklog(file, source, old, 5);
    const renamed = runtime({ checkpoint: file, stateMismatch: 'set-aside' });
    const fresh = unique('new');
    await sequential(renamed, { source, reactor: fresh });
    const errors = errorsOf(renamed);
    await renamed.start();
    expect(renamed.reactor(fresh).getState()).toMatchObject({ queued: 0, paused: false });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CheckpointError);
    expect((errors[0] as CheckpointError).components).toStrictEqual([old]);
    await renamed.shutdown();
    const db = new Database(file, { readonly: true });
    const kept = db.prepare('SELECT name, role, kind, reason FROM set_aside').all();
    db.close();
    expect(kept).toStrictEqual([expect.objectContaining({ name: old, role: 'reactor', kind: 'sequential' })]);
  });

  it('a reactor switched from sequential to latest fails start() instead of keeping a backlog that never fires', async () => {
    const file = join(tmp(), 'strategy.db');
    const source = unique('events');
    const name = unique('r');
    await saveBacklog(file, source, name, 10);
    const latest = runtime({ checkpoint: file });
    const R = reactor({ name, accumulators: [source] });
    latest.register(
      passthroughAccumulator({ name: source }),
      R,
      await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [source] } } }),
    );
    const error = await rejectionOf(latest.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/was 'sequential' and is now 'latest'/);
  });

  it('a reactor whose source was renamed fails start() rather than firing its backlog with undefined', async () => {
    const file = join(tmp(), 'source.db');
    const name = unique('r');
    const before = unique('before');
    await saveBacklog(file, before, name, 10);
    const rt = runtime({ checkpoint: file, stateMismatch: 'fail' });
    await sequential(rt, { source: unique('after'), reactor: name });
    const error = await rejectionOf(rt.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).components).toContain(name);
    expect((error as Error).message).toContain(`no longer reads '${before}'`);
  });

  it("a state accumulator's window where a batch accumulator now stands fails start(); a smaller capacity trims the window", async () => {
    const file = join(tmp(), 'kind.db');
    const name = unique('st');
    const R = reactor({ name: unique('r'), accumulators: [name] });
    const registerState = (capacity: number) => async (rt: Runtime) => {
      rt.register(
        stateAccumulator({ name, capacity }),
        R,
        await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [name] } } }),
      );
    };
    await save(file, registerState(5), (rt) => {
      for (let v = 1; v <= 5; v++) rt.push(name, v);
    });

    const batch = runtime({ checkpoint: file });
    batch.register(
      batchAccumulator({ name }),
      R,
      await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [name] } } }),
    );
    const error = await rejectionOf(batch.start());
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/state accumulator .* now a batch accumulator/);

    const smaller = runtime({ checkpoint: file });
    await registerState(2)(smaller);
    const log = new FireLog(smaller);
    await smaller.start();
    await smaller.idle();
    expect(log.records.map((r) => r.outputs?.snap)).toStrictEqual([[[4, 5]]]);
  });
});

it('a paused reactor stays paused across a restart on the same file', async () => {
  const file = join(tmp(), 'paused.db');
  const names = { source: unique('events'), reactor: unique('seq') };
  const first = runtime({ checkpoint: file });
  await sequential(first, names);
  await first.start();
  first.reactor(names.reactor).pause();
  first.push(names.source, 'held');
  await first.shutdown();

  const second = runtime({ checkpoint: file });
  const { fired } = await sequential(second, names);
  await second.start();
  await second.idle();
  expect(second.reactor(names.reactor).getState()).toMatchObject({ paused: true, queued: 1 });
  expect(fired()).toStrictEqual([]);
  second.reactor(names.reactor).resume();
  await second.idle();
  expect(fired()).toStrictEqual(['held']);
});
