/**
 * Shared helpers of the runtime tests: runtimes and graphs that are cleaned up after each test,
 * a collector of `fire` records that can be awaited, deferreds, and the control block that the
 * gated/tracked fixture nodes read on every thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import {
  ComputationGraphBuilder,
  NodePool,
  Runtime,
  type ComputationGraph,
  type ComputationGraphOptions,
  type FireRecord,
  type HealthEvent,
  type RuntimeOptions,
} from 'cloaca';

export const executors = ['inline', 'pool'] as const;
export type ExecutorName = (typeof executors)[number];

/** Absolute path of a module under test/runtime/fixtures. */
export function fixture(file: string): string {
  return fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url));
}

/** The node module every runtime test graph loads. */
export const nodes = fixture('runtime.nodes.mjs');

let sequence = 0;
/** A name no other test of this process uses (accumulators, topics, groups...). */
export function unique(prefix: string): string {
  return `${prefix}_${process.pid}_${++sequence}`;
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop (lets setImmediate-scheduled checks such as idle() run). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The fire records of one runtime, in the order they were emitted; awaitable by count. */
export class FireLog {
  readonly records: FireRecord[] = [];
  #waiters: Array<{ count: number; filter: (r: FireRecord) => boolean; resolve: (records: FireRecord[]) => void }> = [];

  readonly #runtime: Runtime;
  readonly #listener = (record: FireRecord): void => {
    this.records.push(record);
    this.#check();
  };

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
    runtime.on('fire', this.#listener);
  }

  /** Stops recording. */
  stop(): void {
    this.#runtime.off('fire', this.#listener);
  }

  /** Records of one graph (or all). */
  of(graph?: string): FireRecord[] {
    return graph === undefined ? this.records : this.records.filter((r) => r.graph === graph);
  }

  /** Resolves once `count` records (matching `filter`) have been emitted. */
  until(count: number, filter: (r: FireRecord) => boolean = () => true): Promise<FireRecord[]> {
    return new Promise((resolve) => {
      this.#waiters.push({ count, filter, resolve });
      this.#check();
    });
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const matching = this.records.filter(w.filter);
      if (matching.length < w.count) return true;
      w.resolve(matching);
      return false;
    });
  }
}

/** Health events of one runtime; awaitable. */
export class HealthLog {
  readonly events: HealthEvent[] = [];
  #waiters: Array<{ match: (e: HealthEvent) => boolean; resolve: (e: HealthEvent) => void }> = [];

  constructor(runtime: Runtime) {
    runtime.on('health', (event) => {
      this.events.push(event);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(event)) return true;
        w.resolve(event);
        return false;
      });
    });
  }

  /** The states `name` went through, in order. */
  of(name: string): string[] {
    return this.events.filter((e) => e.name === name).map((e) => e.health);
  }

  /** Resolves when `name` reaches `health` (at once if it already did). */
  reach(name: string, health: string): Promise<HealthEvent> {
    const seen = this.events.find((e) => e.name === name && e.health === health);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) =>
      this.#waiters.push({ match: (e) => e.name === name && e.health === health, resolve }),
    );
  }
}

/** `Atomics.waitAsync` (Node 16+; typed only from lib ES2024). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(cells: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

const GATE = 0;
const CALLS = 1;
const RUNNING = 2;
const MAX = 3;

/**
 * A block of cells shared with the fixture nodes on every thread (see runtime.nodes.mjs):
 * `gated` waits until `open()`, `tracked` counts concurrency. Put `control.tag(n)` in events.
 */
export class Control {
  /** Every control block made, so a failed test's held firings are released before shutdown. */
  static readonly all = new Set<Control>();
  readonly sab = new SharedArrayBuffer(16);
  readonly cells = new Int32Array(this.sab);

  constructor() {
    Control.all.add(this);
  }

  /** An event value carrying this block. */
  tag(n: number): { n: number; sab: SharedArrayBuffer } {
    return { n, sab: this.sab };
  }

  open(): void {
    Atomics.store(this.cells, GATE, 1);
    Atomics.notify(this.cells, GATE);
  }

  get calls(): number {
    return Atomics.load(this.cells, CALLS);
  }

  get running(): number {
    return Atomics.load(this.cells, RUNNING);
  }

  get maxRunning(): number {
    return Atomics.load(this.cells, MAX);
  }

  /** Resolves once `count` nodes have entered (on any thread). */
  async entered(count: number): Promise<void> {
    for (let seen = this.calls; seen < count; seen = this.calls) {
      const wait = waitAsync(this.cells, CALLS, seen);
      if (wait.async) await wait.value;
    }
  }
}

/** Builder options minus what the harness decides. */
export type GraphOptions = Omit<ComputationGraphOptions, 'executor' | 'pool' | 'nodes'> & {
  readonly nodes?: ComputationGraphOptions['nodes'];
};

export interface RuntimeHarness {
  /** A runtime that is shut down after the test. */
  runtime(options?: RuntimeOptions): Runtime;
  /**
   * Builds a graph on `executor` from the fixture module (or `options.nodes`); pool graphs run
   * on this file's NodePool (or `pool`, the test's own), or with `sharedPool: true` on the
   * process-wide default pool, which a Runtime replaces with its own (the only pool whose
   * workers reach the runtime's `host`).
   */
  graph(
    name: string,
    executor: ExecutorName,
    options: GraphOptions,
    extra?: { sharedPool?: boolean; pool?: NodePool },
  ): Promise<ComputationGraph>;
  /** A fresh temporary directory, removed after the file. */
  tmp(): string;
}

/**
 * Call once at the top of a test file: runtimes are shut down after each test, graphs closed,
 * the file's pool closed after the file.
 */
export function useRuntimes(threads = 2): RuntimeHarness {
  let pool: NodePool | null = null;
  const runtimes: Runtime[] = [];
  const graphs: ComputationGraph[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    // A test that failed with a firing still held at a gate must not hold up the shutdown.
    for (const control of Control.all) control.open();
    Control.all.clear();
    const open = runtimes.splice(0);
    for (const runtime of open) await runtime.shutdown();
    await Promise.all(graphs.splice(0).map((g) => g.close()));
  });
  afterAll(async () => {
    await pool?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  return {
    runtime(options = {}) {
      const runtime = new Runtime({ threads, ...options });
      runtimes.push(runtime);
      return runtime;
    },
    async graph(name, executor, options, extra = {}) {
      const base = { nodes, ...options, executor } as ComputationGraphOptions;
      const withPool =
        executor === 'pool' && extra.sharedPool !== true
          ? { ...base, pool: extra.pool ?? (pool ??= new NodePool({ threads })) }
          : base;
      const graph = await new ComputationGraphBuilder(name, withPool).build();
      graphs.push(graph);
      return graph;
    },
    tmp() {
      const dir = mkdtempSync(join(tmpdir(), 'cloaca-runtime-'));
      dirs.push(dir);
      return dir;
    },
  };
}

export { rejectionOf } from '../support/executors.js';

/** The error `fn` throws, failing the test when it returns instead. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw, but it returned');
}
