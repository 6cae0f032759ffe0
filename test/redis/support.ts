/**
 * Child cloaca processes for the Redis crash tests (fixtures/consumer.mjs) and the progress file
 * each of them writes: `live`, `delivered <n>`, `fired <n>` lines, read as they are appended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { fileURLToPath } from 'node:url';

const consumerScript = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));

/** What a consumer child is told (see fixtures/consumer.mjs). */
export interface ConsumerConfig {
  readonly url: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly progress: string;
  readonly checkpoint?: string;
  readonly claimIdle?: string;
  readonly batchSize?: number;
  readonly queueCapacity?: number;
  readonly delayMs?: number;
  readonly killAfterFire?: number;
  readonly killAtDelivery?: number;
}

/** The lines of a progress file, re-read whenever it changes; conditions on them can be awaited. */
export class ProgressFile {
  readonly path: string;
  /** Entry number -> times delivered / fired. */
  readonly delivered = new Map<number, number>();
  readonly fired = new Map<number, number>();
  readonly lines: string[] = [];
  #offset = 0;
  #partial = '';
  #waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];
  readonly #watcher: FSWatcher;
  /** inotify is reliable on Linux; the timer only guards against a missed change elsewhere. */
  readonly #timer: NodeJS.Timeout;

  constructor(path: string) {
    this.path = path;
    writeFileSync(path, '');
    this.#watcher = watch(path, () => this.#read());
    this.#timer = setInterval(() => this.#read(), 100);
  }

  /** Resolves once `ready()` holds (checked after every change). */
  until(ready: () => boolean): Promise<void> {
    this.#read();
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ready, resolve }));
  }

  close(): void {
    this.#watcher.close();
    clearInterval(this.#timer);
  }

  #read(): void {
    const fd = openSync(this.path, 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (let n = readSync(fd, buffer, 0, buffer.length, this.#offset); n > 0;) {
        this.#offset += n;
        this.#partial += buffer.subarray(0, n).toString();
        n = readSync(fd, buffer, 0, buffer.length, this.#offset);
      }
    } finally {
      closeSync(fd);
    }
    const lines = this.#partial.split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      this.lines.push(line);
      const [kind, value] = line.split(' ');
      const counts = kind === 'delivered' ? this.delivered : kind === 'fired' ? this.fired : undefined;
      if (counts !== undefined) counts.set(Number(value), (counts.get(Number(value)) ?? 0) + 1);
    }
    if (lines.length > 0) {
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.ready()) return true;
        w.resolve();
        return false;
      });
    }
  }
}

/** A running consumer child. */
export class ConsumerProcess {
  readonly process: ChildProcess;
  readonly progress: ProgressFile;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stderr = '';

  constructor(config: ConsumerConfig) {
    this.progress = new ProgressFile(config.progress);
    this.process = spawn(process.execPath, [consumerScript, JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    this.process.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.process.once('exit', (code, signal) => {
        this.progress.close();
        resolve({ code, signal });
      }),
    );
  }

  /** What the child wrote to stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Sends `signal` and resolves once the process is gone. */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    return this.exited;
  }
}

/** Entry numbers in [0, n) that no map counts. */
export function missing(n: number, ...counts: ReadonlyArray<ReadonlyMap<number, number>>): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!counts.some((c) => (c.get(i) ?? 0) > 0)) out.push(i);
  return out;
}

/** Times entries were seen beyond the first, over all maps. */
export function duplicates(...counts: ReadonlyArray<ReadonlyMap<number, number>>): number {
  const total = new Map<number, number>();
  for (const c of counts) for (const [n, times] of c) total.set(n, (total.get(n) ?? 0) + times);
  let extra = 0;
  for (const times of total.values()) extra += times - 1;
  return extra;
}
