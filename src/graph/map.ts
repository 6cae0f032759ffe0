/**
 * `graph.map(source, options)`: one execution per input of an iterable or async iterable, at most
 * `concurrency` at once, results yielded in input order (or as they finish).
 *
 * The bound is on inputs read but not yet handed to the consumer, not only on executions running:
 * a result that finished early waits in a slot of its own until its turn, and the source is read
 * only while a slot is free. So memory stays bounded for a source of any length, and a consumer
 * that stops pulling stops the reading too.
 *
 * The iteration ends early in four ways: a failed execution (its error, carrying the input's
 * `index`), the source throwing, an abort of `options.signal` (its `reason`), or the consumer
 * leaving the loop. In each, nothing more is read or started, the source iterator's `return()` is
 * called (unless the source itself threw), and executions in flight are awaited before the
 * iteration ends, so nothing of the map outlives the loop. A failure ends the iteration the way a
 * plain loop over the inputs would: in order, the results of the inputs before the failing one are
 * still yielded, then the error (the lowest failing index wins); unordered, every started
 * execution that succeeds is still yielded, then the first error. An abort or a consumer that
 * leaves drops what was not yielded.
 *
 * Hand-written rather than on p-queue: p-queue bounds the tasks *running*, while this bound also
 * counts results waiting to be consumed, so the gate would be ours either way, and p-queue's
 * promise and events per task cost throughput. Measured on a 2-core machine, 300,000 inputs of a
 * one-node inline graph, 16 in flight: this loop 0.79-0.94 M runs/s, the same window with each
 * execution added to a p-queue 0.25-0.33 M runs/s.
 */
import { describe } from '../model/describe.js';
import { GraphExecutionError, InvalidArgumentError, ConfigurationError } from '../model/errors.js';
import { optionalBoolean, rejectUnknownKeys, requireOptionsObject, requirePositiveInteger } from '../model/options.js';

/** Options of `graph.map()`. */
export interface MapOptions {
  /**
   * Executions in flight at once. Also how far the source is read ahead of the consumer: an input
   * is read only while fewer than `concurrency` inputs are read and not yet handed to the consumer.
   *
   * @default twice the pool's threads on the pool executor; 16 on the inline executor (enough to
   *   overlap async nodes that wait on I/O; synchronous inline nodes run one at a time anyway)
   * @example { concurrency: 8 }
   */
  readonly concurrency?: number;
  /**
   * Yield results in input order. `false` yields each as soon as it finishes.
   *
   * @default true
   * @example { ordered: false }
   */
  readonly ordered?: boolean;
  /**
   * Cancels the map: nothing more is read or started, executions in flight are awaited, and the
   * iteration rejects with the signal's `reason`.
   *
   * @example { signal: AbortSignal.timeout(60_000) }
   */
  readonly signal?: AbortSignal;
}

/** Default `concurrency` of a graph that does not run on a pool. */
const kInlineConcurrency = 16;

const kOptionKeys = ['concurrency', 'ordered', 'signal'];

/**
 * Runs `execute` over `source` as {@link MapOptions} says. `graph` names the graph in errors;
 * `threads` is the size of the pool the graph runs on (null when inline), for the default
 * concurrency. Options and source are checked at once; the source is first read on the first
 * `next()`.
 */
export function mapGraph<In, R>(
  graph: string,
  execute: (input: In) => Promise<R>,
  source: Iterable<In> | AsyncIterable<In>,
  options: MapOptions | undefined,
  threads: number | null,
): AsyncGenerator<R, void, undefined> {
  const owner = `graph '${graph}': map()`;
  const open = iteratorOpener(owner, source);
  let concurrency = threads === null ? kInlineConcurrency : threads * 2;
  let ordered = true;
  let signal: AbortSignal | undefined;
  if (options !== undefined) {
    requireOptionsObject(owner, options);
    rejectUnknownKeys(owner, options, kOptionKeys);
    if (options.concurrency !== undefined) {
      concurrency = requirePositiveInteger(owner, 'concurrency', options.concurrency);
    }
    ordered = optionalBoolean(owner, 'ordered', options.ordered) ?? true;
    signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ConfigurationError(owner, signal, `${owner}: 'signal' must be an AbortSignal, got ${describe(signal)}`);
    }
  }
  return drive(new MapRun(execute, open, concurrency, ordered, signal));
}

/** Pulls results from `run` until it is finished; `finally` covers a consumer that leaves. */
async function* drive<In, R>(run: MapRun<In, R>): AsyncGenerator<R, void, undefined> {
  try {
    run.open();
    run.fill();
    for (;;) {
      if (run.hasResult()) {
        const result = run.take();
        // Its slot is free: read the next input now, so `concurrency` run while the consumer works.
        run.fill();
        yield result;
        continue;
      }
      if (run.finished()) break;
      await run.changed();
    }
    run.throwFailure();
  } finally {
    await run.close();
  }
}

type SourceIterator<In> = Iterator<In> | AsyncIterator<In>;

/** Checks that `source` is iterable; returns how to open it (async iterator first, as `for await` does). */
function iteratorOpener<In>(
  owner: string,
  source: Iterable<In> | AsyncIterable<In>,
): () => { iterator: SourceIterator<In>; async: boolean } {
  const s = source as Partial<Iterable<In> & AsyncIterable<In>> | null | undefined;
  if (typeof s?.[Symbol.asyncIterator] === 'function') {
    return () => ({ iterator: s[Symbol.asyncIterator]!(), async: true });
  }
  if (typeof s?.[Symbol.iterator] === 'function') {
    return () => ({ iterator: s[Symbol.iterator]!(), async: false });
  }
  throw new InvalidArgumentError(
    'map(source)',
    source,
    `${owner} takes an iterable or async iterable of inputs, got ${describe(source)}`,
  );
}

const kEmpty: unique symbol = Symbol('empty');

/**
 * The state of one map. Results live in a ring of `concurrency` slots: ordered, input `i` goes
 * to slot `i % concurrency`; unordered, the `k`-th result to finish goes to slot
 * `k % concurrency`. Slots are read in turn, so either way the ring never holds more than the
 * inputs read and not yet yielded, which the reading never lets exceed `concurrency`.
 */
class MapRun<In, R> {
  readonly #execute: (input: In) => Promise<R>;
  readonly #opener: () => { iterator: SourceIterator<In>; async: boolean };
  readonly #concurrency: number;
  readonly #ordered: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #slots: Array<R | typeof kEmpty>;
  #iterator: SourceIterator<In> | null = null;
  #async = false;
  /** Inputs read (and started) so far. */
  #read = 0;
  /** Results handed to the consumer. */
  #yielded = 0;
  /** Results that finished (the unordered write position). */
  #finished = 0;
  #inFlight = 0;
  /** An async source's `next()` is pending. */
  #pulling = false;
  /** The source is exhausted, failed, or closed: it is never read again. */
  #sourceOver = false;
  /** Nothing more is read or started (a failure, an abort, or the consumer left). */
  #stopped = false;
  /** Results not yet yielded are dropped (an abort, or the consumer left). */
  #discard = false;
  /** The failure that ends the iteration, and the position of its input (ordered: yield those before it). */
  #failure: { readonly error: unknown; readonly index: number } | null = null;
  #closing: Promise<unknown> | null = null;
  #wake: (() => void) | null = null;

  constructor(
    execute: (input: In) => Promise<R>,
    opener: () => { iterator: SourceIterator<In>; async: boolean },
    concurrency: number,
    ordered: boolean,
    signal: AbortSignal | undefined,
  ) {
    this.#execute = execute;
    this.#opener = opener;
    this.#concurrency = concurrency;
    this.#ordered = ordered;
    this.#signal = signal;
    this.#slots = new Array<R | typeof kEmpty>(concurrency).fill(kEmpty);
  }

  /** Listens to the signal and opens the source (unless already aborted). */
  open(): void {
    if (this.#signal !== undefined) {
      if (this.#signal.aborted) {
        this.#sourceOver = true;
        this.#abort();
        return;
      }
      this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    let opened: { iterator: SourceIterator<In>; async: boolean };
    try {
      opened = this.#opener();
    } catch (error) {
      this.#sourceFailed(error);
      return;
    }
    this.#iterator = opened.iterator;
    this.#async = opened.async;
  }

  /** Reads and starts inputs while a slot is free. */
  fill(): void {
    while (!this.#stopped && !this.#sourceOver && !this.#pulling && this.#read - this.#yielded < this.#concurrency) {
      const iterator = this.#iterator!;
      let step: IteratorResult<In> | Promise<IteratorResult<In>>;
      try {
        step = iterator.next();
      } catch (error) {
        this.#sourceFailed(error);
        return;
      }
      if (!this.#async) {
        if (!this.#step(step as IteratorResult<In>)) return;
        continue;
      }
      this.#pulling = true;
      Promise.resolve(step).then(
        (result) => {
          this.#pulling = false;
          if (this.#stopped) {
            if (result.done !== true) this.#closeSource();
            else this.#sourceOver = true;
          } else if (this.#step(result)) {
            this.fill();
          }
          this.#notify();
        },
        (error: unknown) => {
          this.#pulling = false;
          this.#sourceFailed(error);
          this.#notify();
        },
      );
      return;
    }
  }

  hasResult(): boolean {
    if (this.#discard) return false;
    if (this.#ordered && this.#failure !== null && this.#yielded >= this.#failure.index) return false;
    return this.#slots[this.#yielded % this.#concurrency] !== kEmpty;
  }

  /** The next result in turn (call only after {@link hasResult}); frees its slot. */
  take(): R {
    const slot = this.#yielded++ % this.#concurrency;
    const result = this.#slots[slot] as R;
    this.#slots[slot] = kEmpty;
    return result;
  }

  /** Nothing is running or pending and nothing more will come (checked after {@link hasResult}). */
  finished(): boolean {
    return this.#inFlight === 0 && !this.#pulling && (this.#sourceOver || this.#stopped);
  }

  /** Resolves at the next change: a result, a failure, a read. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  throwFailure(): void {
    if (this.#failure !== null) throw this.#failure.error;
  }

  /**
   * Stops reading and starting, closes the source, and waits for every execution in flight and a
   * pending read. Rejects with an error of the source's `return()` when nothing else failed.
   */
  async close(): Promise<void> {
    this.#discard = true;
    this.#stop();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    while (this.#inFlight > 0 || this.#pulling) await this.changed();
    const closing = this.#closing;
    if (closing !== null) {
      this.#closing = null;
      try {
        await closing;
      } catch (error) {
        if (this.#failure === null) throw error;
      }
    }
  }

  /** Starts the input of a read, or notes the source's end; false when the read was not an iterator result. */
  #step(step: IteratorResult<In>): boolean {
    if (typeof step !== 'object' || step === null) {
      this.#sourceFailed(
        new InvalidArgumentError(
          'map(source)',
          step,
          `the source's next() must return an iterator result { done, value }, got ${describe(step)}`,
        ),
      );
      return false;
    }
    if (step.done === true) {
      this.#sourceOver = true;
      return true;
    }
    const index = this.#read++;
    this.#inFlight++;
    let pending: Promise<R>;
    try {
      pending = this.#execute(step.value);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => {
        this.#inFlight--;
        if (!this.#discard) {
          this.#slots[(this.#ordered ? index : this.#finished) % this.#concurrency] = result;
          this.#finished++;
        }
        this.#notify();
      },
      (error: unknown) => {
        this.#inFlight--;
        this.#fail(error, index);
        this.#notify();
      },
    );
    return true;
  }

  readonly #onAbort = (): void => {
    this.#abort();
    this.#notify();
  };

  /** Ends with the signal's reason, dropping what was not yielded; an abort overrides a failure. */
  #abort(): void {
    this.#failure = { error: this.#signal!.reason, index: -1 };
    this.#discard = true;
    this.#stop();
  }

  /**
   * Records a failure of input `index` (the source's own when `fromSource`) and stops. Unordered,
   * the first failure stands; ordered, the one with the lowest index, as a plain loop would stop.
   */
  #fail(error: unknown, index: number, fromSource = false): void {
    const current = this.#failure;
    if (current === null || (this.#ordered && !this.#discard && index < current.index)) {
      this.#failure = { error: fromSource ? error : this.#withIndex(error, index), index };
    }
    this.#stop();
  }

  #withIndex(error: unknown, index: number): unknown {
    if (!(error instanceof GraphExecutionError)) return error;
    return new GraphExecutionError(error.graph, error.node, `${error.message} (map() input ${index})`, {
      cause: error.cause,
      index,
    });
  }

  /** The source threw: it is over, and per the iterator protocol its `return()` is not called. */
  #sourceFailed(error: unknown): void {
    this.#sourceOver = true;
    this.#fail(error, this.#read, true);
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // A pending read closes the source when it settles.
    if (!this.#pulling) this.#closeSource();
  }

  #closeSource(): void {
    const iterator = this.#iterator;
    if (this.#sourceOver || iterator === null) return;
    this.#sourceOver = true;
    if (typeof iterator.return !== 'function') return;
    try {
      this.#closing = Promise.resolve(iterator.return());
    } catch (error) {
      this.#closing = Promise.reject(error);
    }
    // Observed by close(); never an unhandled rejection meanwhile.
    this.#closing.catch(() => {});
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake === null) return;
    this.#wake = null;
    wake();
  }
}
