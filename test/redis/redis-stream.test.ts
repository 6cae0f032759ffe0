/**
 * The built-in `redis` stream backend against a real redis-server (contract section 8): what an
 * entry delivers, the consumer group, acknowledgements (batched, and only once durable), the
 * re-read of a consumer's own pending entries, claims of a dead consumer's entries, dead
 * letters, backpressure, trimming, option errors, and health across a server that goes away.
 */
import { describe, expect, it } from 'vitest';
import {
  AccumulatorError,
  ConfigurationError,
  StreamEntryError,
  reactor,
  streamAccumulator,
  type HealthEvent,
  type InputStrategy,
  type Runtime,
  type RedisStreamOptions,
  type StreamAccumulatorOptions,
} from 'cloaca';
import { FireLog, HealthLog, executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { RedisServer, describeWithRedis, useRedisServer } from '../support/redis-server.js';

const { runtime, graph, tmp } = useRuntimes();
const server = useRedisServer();

type Client = Awaited<ReturnType<RedisServer['client']>>;

/** Adds entries in one pipeline; resolves their ids. */
function add(client: Client, stream: string, entries: Array<Record<string, string>>): Promise<string[]> {
  return Promise.all(entries.map((fields) => client.xAdd(stream, '*', fields)));
}

/** Entries `{ data: JSON.stringify(n) }` for each n in [from, to). */
function numbered(from: number, to: number): Array<Record<string, string>> {
  return Array.from({ length: to - from }, (_, i) => ({ data: JSON.stringify(from + i) }));
}

/** Pending entries of a group (all consumers). */
async function pendingCount(client: Client, stream: string, group: string): Promise<number> {
  return (await client.xPending(stream, group)).pending;
}

/** Resolves at the next time `name` moves to `health` (not at an earlier time it did). */
function nextHealth(rt: Runtime, name: string, health: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (event: HealthEvent): void => {
      if (event.name !== name || event.health !== health) return;
      rt.off('health', check);
      resolve();
    };
    rt.on('health', check);
  });
}

interface Setup {
  readonly name?: string;
  readonly reactorName?: string;
  readonly stream?: string;
  readonly group?: string;
  readonly options?: RedisStreamOptions;
  readonly strategy?: InputStrategy;
  readonly executor?: ExecutorName;
  readonly checkpoint?: string;
  readonly queueCapacity?: number;
  readonly retry?: StreamAccumulatorOptions['retry'];
  readonly paused?: boolean;
}

/** A runtime with one redis stream accumulator feeding one reactor whose graph returns what it got. */
async function setup(s: Setup = {}) {
  const name = s.name ?? unique('s');
  const stream = s.stream ?? unique('stream');
  const group = s.group ?? unique('group');
  const R = reactor({ name: s.reactorName ?? unique('r'), accumulators: [name], strategy: s.strategy ?? 'sequential' });
  const g = await graph(unique('g'), s.executor ?? 'inline', {
    reactor: R,
    graph: { ident: { inputs: [name] } },
  });
  const rt = runtime({
    ...(s.checkpoint === undefined ? {} : { checkpoint: s.checkpoint }),
    ...(s.queueCapacity === undefined ? {} : { queueCapacity: s.queueCapacity }),
  });
  rt.register(
    streamAccumulator({
      name,
      type: 'redis',
      topic: stream,
      group,
      // A short block, so that idle() (which waits for a read that finds nothing) comes soon.
      options: { url: server().url, block: '50ms', ...s.options },
      ...(s.retry === undefined ? {} : { retry: s.retry }),
    }),
    R,
    g,
  );
  const log = new FireLog(rt);
  const health = new HealthLog(rt);
  const errors: Error[] = [];
  rt.on('error', (error) => errors.push(error));
  const handle = rt.reactor(R.name);
  if (s.paused === true) handle.pause();
  const fired = (): unknown[] => log.records.map((r) => r.outputs?.ident);
  return { rt, name, reactorName: R.name, stream, group, log, health, errors, handle, fired };
}

describeWithRedis('redis stream backend', () => {
  describe.each(executors)('%s executor', (executor) => {
    it('delivers JSON.parse(data) for entries with a data field and the field map of others, in stream order', async () => {
      const client = await server().client();
      const t = await setup({ executor });
      await t.rt.start();
      await t.health.reach(t.name, 'live');
      await add(client, t.stream, [
        { data: '{"px":1,"side":"bid"}' },
        { px: '2', side: 'ask' },
        { data: '[1,2,3]', other: 'ignored' },
        { data: '"text"' },
      ]);
      await t.log.until(4);
      expect(t.fired()).toStrictEqual([{ px: 1, side: 'bid' }, { px: '2', side: 'ask' }, [1, 2, 3], 'text']);
      await t.rt.idle();
      expect(await pendingCount(client, t.stream, t.group)).toBe(0);
    });
  });

  it('creates its group with MKSTREAM, reading the entries added after that', async () => {
    const client = await server().client();
    const t = await setup();
    await add(client, `${t.stream}:other`, numbered(0, 1)); // an unrelated key, untouched
    expect(await client.exists(t.stream)).toBe(0);
    await t.rt.start();
    await t.health.reach(t.name, 'live');
    expect(await client.type(t.stream)).toBe('stream');
    const groups = await client.xInfoGroups(t.stream);
    expect(groups.map((g) => g.name)).toStrictEqual([t.group]);
    await add(client, t.stream, numbered(0, 3));
    await t.log.until(3);
    expect(t.fired()).toStrictEqual([0, 1, 2]);

    // A second runtime on the same group finds it there (BUSYGROUP is not an error) and reads
    // on from where the group is.
    await t.rt.shutdown();
    await add(client, t.stream, numbered(3, 5));
    const again = await setup({ stream: t.stream, group: t.group });
    await again.rt.start();
    await again.log.until(2);
    expect(again.fired()).toStrictEqual([3, 4]);
    expect(again.errors).toStrictEqual([]);
  });

  it('first re-reads the entries its consumer name read in an earlier life and never acknowledged', async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await add(client, stream, numbered(0, 10));
    // An earlier life of consumer 'c1' read 0..5 and died before acknowledging them.
    await client.xReadGroup(group, 'c1', { key: stream, id: '>' }, { COUNT: 6 });
    expect(await pendingCount(client, stream, group)).toBe(6);
    const t = await setup({ stream, group, options: { consumer: 'c1', claimIdle: '1h', batchSize: 4 } });
    await t.rt.start();
    await t.log.until(10);
    await t.rt.idle();
    expect(t.fired()).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await pendingCount(client, stream, group)).toBe(0);
  });

  it('claims entries another consumer left unacknowledged for claimIdle, not those idle for less', async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await add(client, stream, numbered(0, 4));
    await client.xReadGroup(group, 'dead', { key: stream, id: '>' }, { COUNT: 4 });
    await add(client, stream, numbered(4, 6));

    // claimIdle 1h: the consumer looks when it connects, and leaves the dead one's entries alone.
    const patient = await setup({ stream, group, options: { consumer: 'patient', claimIdle: '1h' } });
    await patient.rt.start();
    await patient.log.until(2);
    await patient.rt.idle();
    expect(patient.fired()).toStrictEqual([4, 5]);
    const consumers = async () =>
      Object.fromEntries((await client.xInfoConsumers(stream, group)).map((c) => [c.name, c.pending]));
    expect(await consumers()).toStrictEqual({ dead: 4, patient: 0 });
    await patient.rt.shutdown();

    // claimIdle 50ms: they are claimed and delivered, each once.
    const eager = await setup({ stream, group, options: { consumer: 'eager', claimIdle: '50ms' } });
    await eager.rt.start();
    await eager.log.until(4);
    await eager.rt.idle();
    expect(eager.fired()).toStrictEqual([0, 1, 2, 3]);
    expect(await consumers()).toStrictEqual({ dead: 0, patient: 0, eager: 0 });
  });

  it('an entry whose data is not JSON: an error event naming stream and entry, a dead-letter copy, acknowledged; the consumer goes on', async () => {
    const client = await server().client();
    const t = await setup({ options: { deadLetterMaxLen: 100 } });
    await t.rt.start();
    await t.health.reach(t.name, 'live');
    const [, badId] = await add(client, t.stream, [
      { data: '1' },
      { data: '{not json', source: 'feed-a' },
      { data: '3' },
    ]);
    await t.log.until(2);
    await t.rt.idle();
    expect(t.fired()).toStrictEqual([1, 3]);
    expect(t.errors).toHaveLength(1);
    const error = t.errors[0]!;
    expect(error).toBeInstanceOf(StreamEntryError);
    expect(error).toBeInstanceOf(AccumulatorError);
    expect(error).toMatchObject({
      code: 'CLOACA_ERR_STREAM_ENTRY',
      accumulator: t.name,
      stream: t.stream,
      entry: badId,
      event: { data: '{not json', source: 'feed-a' },
    });
    expect(error.message).toContain(badId);
    expect(error.message).toContain(`'${t.stream}'`);
    const dead = (await client.xRange(`${t.stream}:dead`, '-', '+')) ?? [];
    expect(dead).toHaveLength(1);
    expect(dead[0]!.message).toMatchObject({
      data: '{not json',
      source: 'feed-a',
      'dead.stream': t.stream,
      'dead.id': badId,
      'dead.group': t.group,
    });
    expect(dead[0]!.message['dead.error']).toMatch(/JSON/);
    expect(await pendingCount(client, t.stream, t.group)).toBe(0);
    expect(t.rt.stats().accumulators[t.name]).toMatchObject({ health: 'live', events: 3, failures: 1 });
  });

  it('acknowledges in batches: 1000 entries cost a handful of XACK calls, not 1000', async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await add(client, stream, numbered(0, 1000));
    await client.configResetStat();
    const t = await setup({ stream, group, strategy: 'latest', options: { batchSize: 100 } });
    await t.rt.start();
    await t.log.until(1, (r) => r.outputs?.ident === 999);
    await t.rt.idle();
    expect(await pendingCount(client, stream, group)).toBe(0);
    const stats = await client.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls('xreadgroup')).toBeGreaterThanOrEqual(10);
    expect(calls('xack')).toBeGreaterThanOrEqual(1);
    expect(calls('xack')).toBeLessThanOrEqual(20);
  });

  it('with a checkpoint, acknowledges entries once their boundaries are persisted; a restart fires them from the file', async () => {
    const client = await server().client();
    const file = `${tmp()}/cp.db`;
    const t = await setup({ checkpoint: file, paused: true });
    await t.rt.start();
    await t.health.reach(t.name, 'live');
    await add(client, t.stream, numbered(0, 20));
    await t.rt.idle(); // read, queued (the reactor is paused), persisted, acknowledged
    expect(t.handle.getState().queued).toBe(20);
    expect(await pendingCount(client, t.stream, t.group)).toBe(0);
    expect(t.log.records).toHaveLength(0);
    await t.rt.shutdown();

    // Nothing is left in Redis for the group; the file holds the 20 boundaries.
    const again = await setup({
      checkpoint: file,
      name: t.name,
      reactorName: t.reactorName,
      stream: t.stream,
      group: t.group,
    });
    await again.rt.start();
    again.handle.resume();
    await again.log.until(20);
    await again.rt.idle();
    expect(again.fired()).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('stops reading while its reactor has no room, and reads on once there is', async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await add(client, stream, numbered(0, 100));
    const t = await setup({ stream, group, queueCapacity: 5, paused: true, options: { batchSize: 10 } });
    await t.rt.start();
    await t.health.reach(t.name, 'live');
    await t.rt.idle(); // one batch read, 5 delivered, the reactor full
    expect(t.handle.getState().queued).toBe(5);
    const [info] = await client.xInfoGroups(stream);
    expect(info).toMatchObject({ 'entries-read': 10, lag: 90 });
    t.handle.resume();
    await t.log.until(100);
    await t.rt.idle();
    expect(t.fired()).toStrictEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await pendingCount(client, stream, group)).toBe(0);
  });

  it("trim: 'acknowledged' deletes the entries every group acknowledged, and none another group still needs", async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    const other = unique('other');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await client.xGroupCreate(stream, other, '$');
    const ids = await add(client, stream, numbered(0, 10));
    const t = await setup({ stream, group, options: { trim: 'acknowledged' } });
    await t.rt.start();
    await t.log.until(10);
    await t.rt.idle();
    expect(await client.xLen(stream)).toBe(10); // `other` has read nothing yet
    await t.rt.shutdown();

    await client.xReadGroup(other, 'o', { key: stream, id: '>' }, { COUNT: 10 });
    await client.xAck(stream, other, ids.slice(0, 7));
    const again = await setup({ stream, group, options: { trim: 'acknowledged' } });
    await again.rt.start();
    await add(client, stream, numbered(10, 11));
    await again.log.until(1);
    await again.rt.idle();
    // `other` still waits for 7, 8, 9: the oldest of those is the floor.
    const left = (await client.xRange(stream, '-', '+')) ?? [];
    expect(left.map((e) => e.id)).toStrictEqual([...ids.slice(7), expect.any(String)]);
  });

  it('options it cannot work with: reported once, disconnected at once, never retried', async () => {
    for (const [options, pattern] of [
      [{ bogus: 1 }, /unknown option 'bogus'/],
      [{ url: 'http://127.0.0.1:6379' }, /'url' must be a redis:\/\/ or rediss:\/\/ URL/],
      [{ block: '0ms' }, /'block' must be longer than 0/],
      [{ claimIdle: 'soon' }, /not a duration/],
      [{ batchSize: 0 }, /'batchSize' must be a positive integer/],
      [{ trim: 'all' }, /unknown trim 'all'/],
    ] as const) {
      const t = await setup({ options: options as RedisStreamOptions });
      await t.rt.start();
      await t.health.reach(t.reactorName, 'degraded');
      expect(t.health.of(t.name)).toStrictEqual(['connecting', 'disconnected']);
      expect(t.errors).toHaveLength(1);
      expect(t.errors[0]).toBeInstanceOf(AccumulatorError);
      expect((t.errors[0] as Error).cause).toBeInstanceOf(ConfigurationError);
      expect(t.errors[0]!.message).toMatch(pattern);
      expect(t.errors[0]!.message).toMatch(/giving up/);
      await t.rt.shutdown();
    }
  });

  it('a server restart: connecting while it is gone, live again by itself, and entries added afterwards are delivered', async () => {
    const own = await RedisServer.start();
    try {
      const name = unique('s');
      const stream = unique('stream');
      const R = reactor({ name: unique('r'), accumulators: [name], strategy: 'sequential' });
      const g = await graph(unique('g'), 'inline', { reactor: R, graph: { ident: { inputs: [name] } } });
      const rt = runtime();
      rt.register(
        streamAccumulator({
          name,
          type: 'redis',
          topic: stream,
          options: { url: own.url, block: '100ms' },
          retry: { baseMs: 20, maxMs: 200, maxRetries: 1000 },
        }),
        R,
        g,
      );
      const log = new FireLog(rt);
      const health = new HealthLog(rt);
      const errors: Error[] = [];
      rt.on('error', (error) => errors.push(error));
      await rt.start();
      await health.reach(name, 'live');
      await add(await own.client(), stream, numbered(0, 2));
      await log.until(2);

      const connecting = nextHealth(rt, name, 'connecting');
      await own.kill();
      await connecting;
      expect(rt.reactor(R.name).getState().health).toBe('warming');
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors[0]).toBeInstanceOf(AccumulatorError);

      const live = nextHealth(rt, name, 'live');
      await own.restart(); // empty: no persistence
      await live;
      expect(rt.reactor(R.name).getState().health).toBe('live');
      await add(await own.client(), stream, numbered(2, 4));
      await log.until(4);
      expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual([0, 1, 2, 3]);
      expect(health.of(name)).not.toContain('disconnected');
    } finally {
      await own.kill();
    }
  });

  it('a server that stays away: disconnected once the retries run out, its reactor degraded', async () => {
    const own = await RedisServer.start();
    const t = await setup({ options: { url: own.url }, retry: { baseMs: 5, maxRetries: 2 } });
    await t.rt.start();
    await t.health.reach(t.name, 'live');
    await own.kill();
    await t.health.reach(t.reactorName, 'degraded');
    expect(t.health.of(t.name)).toStrictEqual(['connecting', 'live', 'connecting', 'disconnected']);
    expect(t.errors).toHaveLength(3);
    expect(t.errors[2]!.message).toMatch(/giving up/);
  });
});
