/**
 * The built-in `redis` stream backend: a consumer of a Redis stream in a consumer group
 * (node-redis, loaded on first connect so a runtime without Redis never pays for it).
 *
 * - The topic is the stream key, the group a consumer group, created with `MKSTREAM` when
 *   missing (reading new entries). An entry with a `data` field delivers `JSON.parse(data)`;
 *   any other entry delivers its field map. An entry whose `data` is not JSON is copied to the
 *   dead-letter stream and handed over as invalid (the accumulator reports and acknowledges it).
 * - Reading, in this order: first the entries this consumer (by name) read in an earlier life
 *   and never acknowledged; then, when it connects and every half `claimIdle`, entries other
 *   consumers left unacknowledged that long (`XAUTOCLAIM`); otherwise new entries, waiting up
 *   to `block` for them (`XREADGROUP ... BLOCK`).
 * - Two connections: one for reads, which block, and one for acknowledgements, dead letters
 *   and housekeeping, which must not wait behind a blocked read. Neither reconnects by itself:
 *   a lost connection fails the consumer, and the accumulator reconnects with its backoff.
 * - A position is an entry id; acknowledgements are `XACK`s of whole sets of ids.
 */
import type * as Redis from 'redis';
import { StreamEntryError } from '../model/errors.js';
import { redisStreamSettings, type RedisStreamSettings } from './redis-options.js';
import type { StreamBackend, StreamBackendConfig, StreamMessage, StreamPosition } from './stream-backend.js';

type Client = Redis.RedisClientType;

/** An entry as read with maps kept as flat arrays: null when it was deleted while pending. */
interface RawEntry {
  readonly id: string;
  readonly message: readonly string[] | null;
}

/** How often, at most, a consumer that reads full batches asks the server for its group's lag. */
const kLagRefreshMs = 1000;
/** How often, at most, `trim: 'acknowledged'` trims the stream. */
const kTrimMs = 1000;

/**
 * The `redis` stream backend factory: connects a consumer of `config.topic` in `config.group`
 * with the accumulator's `options` ({@link RedisStreamOptions}). Bad options reject with a
 * ConfigurationError (not retried); a server that cannot be reached rejects (retried).
 */
export async function connectRedisStream(config: StreamBackendConfig): Promise<StreamBackend> {
  const settings = redisStreamSettings(config.accumulator, config.topic, config.options, config.runtimeId);
  const { createClient, RESP_TYPES } = await import('redis');
  const plain = createClient({ url: settings.url, socket: { reconnectStrategy: false } });
  const writer = plain.duplicate();
  // A lost connection is reported by the commands it fails; the event only has to be heard.
  plain.on('error', () => {});
  writer.on('error', () => {});
  try {
    await Promise.all([plain.connect(), writer.connect()]);
    await writer.xGroupCreate(config.topic, config.group, '$', { MKSTREAM: true }).catch((error: unknown) => {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    });
  } catch (error) {
    plain.destroy();
    writer.destroy();
    throw error;
  }
  // Entries keep their fields as flat arrays: no object per entry that is not needed, and an
  // entry deleted while pending reads as null instead of failing the reply.
  const reader = plain.withTypeMapping({ [RESP_TYPES.MAP]: Array });
  return new RedisStreamConsumer(config, settings, plain, reader as unknown as Reader, writer);
}

/** The reading connection, as used here (its maps come back as arrays). */
interface Reader {
  xReadGroup(
    group: string,
    consumer: string,
    stream: { key: string; id: string },
    options: { COUNT: number; BLOCK?: number },
  ): Promise<Array<{ name: string; messages: RawEntry[] }> | null>;
  xAutoClaim(
    key: string,
    group: string,
    consumer: string,
    minIdleTime: number,
    start: string,
    options: { COUNT: number },
  ): Promise<{ nextId: string; messages: Array<RawEntry | null> }>;
}

class RedisStreamConsumer implements StreamBackend {
  readonly #accumulator: string;
  readonly #stream: string;
  readonly #group: string;
  readonly #settings: RedisStreamSettings;
  readonly #connection: Client;
  readonly #reader: Reader;
  readonly #writer: Client;
  /** Ids received and not acknowledged (so a claim does not hand this consumer its own entries twice). */
  readonly #held = new Set<string>();
  /** Where the re-read of this consumer's own unacknowledged entries is; undefined once done. */
  #ownCursor: string | undefined = '0';
  #claimCursor = '0-0';
  #nextClaim = 0;
  #closed = false;
  #lag: number | undefined;
  #lagAskedAt = 0;
  #trimmedAt = 0;

  constructor(
    config: StreamBackendConfig,
    settings: RedisStreamSettings,
    connection: Client,
    reader: Reader,
    writer: Client,
  ) {
    this.#accumulator = config.accumulator;
    this.#stream = config.topic;
    this.#group = config.group;
    this.#settings = settings;
    this.#connection = connection;
    this.#reader = reader;
    this.#writer = writer;
  }

  async receive(): Promise<StreamMessage[] | undefined> {
    try {
      for (;;) {
        if (this.#closed) return undefined;
        const { batchSize } = this.#settings;
        if (this.#ownCursor !== undefined) {
          const entries = await this.#read(this.#ownCursor);
          if (entries.length === 0) {
            this.#ownCursor = undefined;
            continue;
          }
          this.#ownCursor = entries[entries.length - 1]!.id;
          return await this.#decode(entries);
        }
        if (Date.now() >= this.#nextClaim) {
          const claimed = await this.#claim();
          if (claimed.length > 0) return await this.#decode(claimed);
          continue;
        }
        const block = Math.max(1, Math.min(this.#settings.blockMs, this.#nextClaim - Date.now()));
        const entries = await this.#read('>', block);
        if (entries.length < batchSize) this.#lag = 0;
        else if (Date.now() - this.#lagAskedAt >= kLagRefreshMs) await this.#askLag();
        else if (this.#lag !== undefined) this.#lag = Math.max(0, this.#lag - entries.length);
        return await this.#decode(entries);
      }
    } catch (error) {
      if (this.#closed) return undefined;
      throw error;
    }
  }

  async ack(positions: readonly StreamPosition[]): Promise<void> {
    const ids = positions as readonly string[];
    for (const id of ids) this.#held.delete(id);
    await this.#writer.xAck(this.#stream, this.#group, ids as string[]);
    if (this.#settings.trim === 'acknowledged' && Date.now() - this.#trimmedAt >= kTrimMs) {
      this.#trimmedAt = Date.now();
      await this.#trimAcknowledged();
    }
  }

  lag(): number | undefined {
    return this.#lag;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A blocked read is abandoned (its entries stay pending for this consumer's name).
    this.#connection.destroy();
    this.#writer.destroy();
  }

  async #read(id: string, block?: number): Promise<RawEntry[]> {
    const reply = await this.#reader.xReadGroup(
      this.#group,
      this.#settings.consumer,
      { key: this.#stream, id },
      block === undefined ? { COUNT: this.#settings.batchSize } : { COUNT: this.#settings.batchSize, BLOCK: block },
    );
    return reply?.[0]?.messages ?? [];
  }

  /** One step of the scan for entries other consumers left idle; the scan restarts every half claimIdle. */
  async #claim(): Promise<RawEntry[]> {
    const { claimIdleMs, consumer, batchSize } = this.#settings;
    const { nextId, messages } = await this.#reader.xAutoClaim(
      this.#stream,
      this.#group,
      consumer,
      claimIdleMs,
      this.#claimCursor,
      { COUNT: batchSize },
    );
    this.#claimCursor = nextId;
    if (nextId === '0-0') this.#nextClaim = Date.now() + claimIdleMs / 2;
    return messages.filter((entry): entry is RawEntry => entry !== null && !this.#held.has(entry.id));
  }

  /** Entries to messages; bad ones are copied to the dead-letter stream before they are handed over. */
  async #decode(entries: readonly RawEntry[]): Promise<StreamMessage[]> {
    const messages: StreamMessage[] = [];
    let deleted: string[] | undefined;
    let dead: Array<Promise<unknown>> | undefined;
    for (const { id, message: fields } of entries) {
      if (fields === null) {
        (deleted ??= []).push(id); // deleted while pending: nothing to deliver
        continue;
      }
      this.#held.add(id);
      const timestamp = Number(id.slice(0, id.indexOf('-')));
      const data = fieldOf(fields, 'data');
      if (data === undefined) {
        messages.push({ position: id, value: fieldMap(fields), timestamp });
        continue;
      }
      try {
        messages.push({ position: id, value: JSON.parse(data) as unknown, timestamp });
      } catch (error) {
        const invalid = new StreamEntryError(
          this.#accumulator,
          this.#stream,
          id,
          `accumulator '${this.#accumulator}': entry ${id} of stream '${this.#stream}' has a 'data' field that is not JSON (${error instanceof Error ? error.message : String(error)}); copied to '${this.#settings.deadLetter}' and acknowledged`,
          fieldMap(fields),
          { cause: error },
        );
        messages.push({ position: id, invalid, timestamp });
        (dead ??= []).push(this.#deadLetter(id, fields, invalid.cause));
      }
    }
    if (deleted !== undefined) await this.#writer.xAck(this.#stream, this.#group, deleted);
    if (dead !== undefined) await Promise.all(dead);
    return messages;
  }

  #deadLetter(id: string, fields: readonly string[], cause: unknown): Promise<unknown> {
    return this.#writer.xAdd(
      this.#settings.deadLetter,
      '*',
      {
        ...fieldMap(fields),
        'dead.stream': this.#stream,
        'dead.id': id,
        'dead.group': this.#group,
        'dead.error': cause instanceof Error ? cause.message : String(cause),
      },
      { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.#settings.deadLetterMaxLen } },
    );
  }

  /** Asks the server for the group's lag (a full read says only that there may be more). */
  async #askLag(): Promise<void> {
    this.#lagAskedAt = Date.now();
    const lag = (await this.#writer.xInfoGroups(this.#stream)).find((g) => g.name === this.#group)?.lag;
    this.#lag = typeof lag === 'number' ? lag : undefined;
  }

  /** Deletes the entries every group of the stream has acknowledged. */
  async #trimAcknowledged(): Promise<void> {
    let floor: string | undefined;
    for (const group of await this.#writer.xInfoGroups(this.#stream)) {
      let oldest = String(group['last-delivered-id']);
      if (Number(group.pending) > 0) {
        const pending = await this.#writer.xPending(this.#stream, String(group.name));
        if (pending.firstId !== null) oldest = pending.firstId;
      }
      if (floor === undefined || compareIds(oldest, floor) < 0) floor = oldest;
    }
    if (floor !== undefined) await this.#writer.xTrim(this.#stream, 'MINID', floor);
  }
}

/** The value of `name` in a flat field array, or undefined. */
function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A flat field array as `{ field: value }`. */
function fieldMap(fields: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    // A field named __proto__ is a field like any other, not the object's prototype.
    if (name === '__proto__')
      Object.defineProperty(map, name, { value: fields[i + 1], enumerable: true, writable: true, configurable: true });
    else map[name] = fields[i + 1]!;
  }
  return map;
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
