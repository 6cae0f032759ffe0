/**
 * Batch accumulator: buffers events and delivers `process(events)` (the array itself by default)
 * as one boundary. It flushes when the buffer reaches `maxBufferSize`, every `flushInterval`,
 * after each successful firing of a reactor it feeds, and at shutdown; never with an empty
 * buffer. The buffer is checkpointed, and a restored buffer waits for the next flush.
 *
 * The buffer is bounded: without `maxBufferSize`, a push is refused (returns false) once the
 * buffer holds the runtime's `queueCapacity` events.
 *
 * Feeding a keyed reactor, it buffers per key (the key read from each event): `process` gets
 * one key's events, delivered with that key, and `maxBufferSize` flushes a key's buffer. The
 * events of all keys together are bounded by the runtime's `queueCapacity`; a key whose reactor
 * has no room for it keeps its events for the next flush.
 */
import { ConfigurationError } from '../model/errors.js';
import { parseDuration } from '../model/duration.js';
import { AccumulatorHealth } from '../model/health.js';
import { optionalFunction, rejectUnknownKeys, requireOptionsObject } from '../model/options.js';
import {
  Accumulator,
  AccumulatorKind,
  declareAccumulator,
  requireName,
  type AccumulatorDeclaration,
} from './accumulator.js';

export interface BatchAccumulatorOptions<E = unknown, O = unknown> {
  readonly name: string;
  /** Flush at this cadence, such as `'1s'`. */
  readonly flushInterval?: string;
  /** Flush when this many events are buffered. */
  readonly maxBufferSize?: number;
  /** Turns a batch into a boundary value; `undefined` delivers nothing. Synchronous. Default: the array. */
  readonly process?: (events: E[]) => O | undefined;
}

/**
 * Declares a batch accumulator.
 *
 * @example
 * batchAccumulator({ name: 'fills', flushInterval: '1s', maxBufferSize: 100, process: (fills) => summarize(fills) })
 */
export function batchAccumulator<E, O>(options: BatchAccumulatorOptions<E, O>): AccumulatorDeclaration {
  requireOptionsObject('batchAccumulator', options);
  const name = requireName(AccumulatorKind.Batch, options.name);
  const owner = `batch accumulator '${name}'`;
  rejectUnknownKeys(owner, options, ['name', 'flushInterval', 'maxBufferSize', 'process']);
  let intervalMs: number | undefined;
  if (options.flushInterval !== undefined) {
    intervalMs = parseDuration(options.flushInterval, `${owner} flushInterval`);
    if (intervalMs === 0)
      throw new ConfigurationError(
        owner,
        options.flushInterval,
        `${owner}: flushInterval '${options.flushInterval}' must be more than zero`,
      );
  }
  const { maxBufferSize } = options;
  if (maxBufferSize !== undefined && !(Number.isInteger(maxBufferSize) && maxBufferSize > 0)) {
    throw new ConfigurationError(
      owner,
      maxBufferSize,
      `${owner}: 'maxBufferSize' must be a positive integer, got ${String(maxBufferSize)}`,
    );
  }
  const process = optionalFunction<(events: unknown[]) => unknown>(owner, 'process', options.process);
  return declareAccumulator(
    AccumulatorKind.Batch,
    name,
    () => new BatchAccumulator(name, intervalMs, maxBufferSize, process),
  );
}

class BatchAccumulator extends Accumulator {
  readonly kind = AccumulatorKind.Batch;
  readonly #intervalMs: number | undefined;
  readonly #maxBufferSize: number | undefined;
  readonly #process: ((events: unknown[]) => unknown) | undefined;
  #buffer: unknown[] = [];
  /** Key to its events, when it feeds a keyed reactor; `#keyedCount` events in all. */
  #buffers = new Map<string, unknown[]>();
  #keyedCount = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    name: string,
    intervalMs: number | undefined,
    maxBufferSize: number | undefined,
    process: ((events: unknown[]) => unknown) | undefined,
  ) {
    super(name);
    this.#intervalMs = intervalMs;
    this.#maxBufferSize = maxBufferSize;
    this.#process = process;
  }

  start(restored: unknown): void {
    this.#take(restored);
    if (this.#intervalMs !== undefined) this.#timer = setInterval(() => this.flush(), this.#intervalMs);
    this.host.setHealth(AccumulatorHealth.Live);
  }

  /** The buffers become the restored ones, waiting for the next flush. */
  override reset(restored: unknown): void {
    this.#buffer = [];
    this.#buffers = new Map();
    this.#keyedCount = 0;
    this.#take(restored);
  }

  override writable(): boolean {
    return (
      this.#buffer.length < this.bufferCapacity() && this.#keyedCount < this.host.queueCapacity && this.host.canEmit()
    );
  }

  override buffered(): number {
    return this.#buffer.length + this.#keyedCount;
  }

  override bufferCapacity(): number {
    return this.#maxBufferSize ?? this.host.queueCapacity;
  }

  offer(event: unknown): boolean {
    if (!this.writable()) return false;
    const key = this.host.keyOf(event);
    if (key !== undefined) return this.#offerKeyed(event, key);
    this.events++;
    this.#buffer.push(event);
    this.host.save();
    if (this.#maxBufferSize !== undefined && this.#buffer.length >= this.#maxBufferSize) this.flush();
    return true;
  }

  /** Flushes after each successful firing of a reactor this accumulator feeds. */
  override afterFire(): void {
    this.flush();
  }

  override async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.flush();
  }

  override checkpointData(): unknown {
    return this.#buffers.size === 0 ? this.#buffer : { keys: [...this.#buffers] };
  }

  /** Takes restored buffers: an array, or `{ keys }` when it fed a keyed reactor. */
  #take(restored: unknown): void {
    if (Array.isArray(restored)) this.#buffer = restored;
    const keyed = (restored as { keys?: unknown } | null)?.keys;
    if (Array.isArray(keyed)) {
      for (const [key, events] of keyed as Array<[string, unknown[]]>) {
        this.#buffers.set(key, events);
        this.#keyedCount += events.length;
      }
    }
  }

  #offerKeyed(event: unknown, key: string): boolean {
    this.events++;
    let buffer = this.#buffers.get(key);
    if (buffer === undefined) this.#buffers.set(key, (buffer = []));
    buffer.push(event);
    this.#keyedCount++;
    this.host.save();
    if (this.#maxBufferSize !== undefined && buffer.length >= this.#maxBufferSize) this.#flushKey(key, buffer);
    return true;
  }

  /** Delivers one key's events as one boundary of that key; kept when its reactor has no room for the key. */
  #flushKey(key: string, events: unknown[]): void {
    // Taken out before delivery: a firing it causes at once flushes again (after-fire).
    this.#buffers.delete(key);
    this.#keyedCount -= events.length;
    this.host.save();
    const value = this.processed(this.#process, events);
    if (value === undefined || this.emitOwn(value, key)) return;
    const since = this.#buffers.get(key) ?? [];
    this.#buffers.set(key, [...events, ...since]);
    this.#keyedCount += events.length;
  }

  /** Delivers the buffered events as one boundary (one per key, when keyed); does nothing when the buffer is empty. */
  flush(): void {
    if (this.#buffers.size > 0) {
      for (const [key, events] of [...this.#buffers]) this.#flushKey(key, events);
      this.host.progressed();
    }
    if (this.#buffer.length === 0) return;
    const events = this.#buffer;
    this.#buffer = [];
    this.host.save();
    const value = this.processed(this.#process, events);
    if (value !== undefined) this.emitOwn(value);
    this.host.progressed();
  }
}
