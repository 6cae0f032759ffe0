/**
 * The WebSocket endpoints of `cloaca/http`: accumulator ingest (with backpressure that reaches
 * the producer), reactor commands, and what bad or hostile clients cannot do to the server: a
 * flood against a full accumulator, clients that never read, a malformed frame.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { passthroughAccumulator, reactor } from 'cloaca';
import { executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { Client, http, useServers, wsUrl } from './support.js';

const nodes = fileURLToPath(new URL('./fixtures/ops.nodes.mjs', import.meta.url));
const flooder = fileURLToPath(new URL('./fixtures/ws-flood.mjs', import.meta.url));
const { runtime, graph } = useRuntimes();
const ops = useServers();

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const liveHeap = (): number => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

/** A started runtime: passthrough -> sequential reactor -> `seen` (returns the event's `n`). */
async function sequential(executor: ExecutorName, queueCapacity = 100) {
  const a = unique('a');
  const name = unique('r');
  const R = reactor({ name, accumulators: [a], strategy: 'sequential' });
  const g = await graph(unique('g'), executor, { nodes, reactor: R, graph: { seen: { inputs: [a] } } });
  const rt = runtime({ queueCapacity });
  rt.register(passthroughAccumulator({ name: a }), R, g);
  await rt.start();
  const fired: unknown[] = [];
  rt.on('fire', (record) => fired.push(record.outputs?.seen));
  return { rt, a, name, fired };
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('each message (text or binary) is one event, in order; acks count what was accepted; bad JSON is answered and skipped', async () => {
    const { rt, a, fired } = await sequential(executor);
    const server = await ops(rt);
    const client = new Client(wsUrl(server.url, `/v1/ws/accumulator/${a}`));
    await client.opened;
    client.send({ n: 0 });
    client.ws.send(Buffer.from('{"n":1}'), { binary: true });
    client.send('{"n":');
    client.send({ n: 2 });
    await client.next((m) => m.type === 'ack' && m.accepted === 3);
    expect(client.messages.filter((m) => m.type === 'error')).toStrictEqual([
      { type: 'error', error: expect.stringContaining('malformed JSON') },
    ]);
    await rt.idle();
    expect(fired).toStrictEqual([0, 1, 2]);
    client.close();
  });

  it('the reactor socket answers every command with its type; an id is echoed; a paused reactor does not fire', async () => {
    const { rt, a, name } = await sequential(executor);
    const server = await ops(rt);
    rt.push(a, { n: 7 });
    await rt.idle();
    const client = new Client(wsUrl(server.url, `/v1/ws/reactor/${name}`));
    await client.opened;
    client.send({ command: 'force_fire', id: 1 });
    expect(await client.next((m) => m.id === 1)).toMatchObject({
      type: 'fired',
      reactor: name,
      record: { ok: true, manual: true, outputs: { seen: 7 } },
    });
    client.send({ command: 'fire_with', inputs: { [a]: { n: 8 } }, id: 2 });
    expect(await client.next((m) => m.id === 2)).toMatchObject({ type: 'fired', record: { outputs: { seen: 8 } } });
    client.send({ command: 'fire_with', cache: { [a]: { n: 9 } }, id: 3 });
    expect(await client.next((m) => m.id === 3)).toMatchObject({ type: 'fired', record: { outputs: { seen: 9 } } });
    client.send({ command: 'get_state', id: 4 });
    expect(await client.next((m) => m.id === 4)).toStrictEqual({
      type: 'state',
      reactor: name,
      state: { cache: { [a]: { n: 9 } }, dirty: { [a]: false }, paused: false, queued: 0, health: 'live' },
      id: 4,
    });
    client.send({ command: 'pause', id: 5 });
    expect(await client.next((m) => m.id === 5)).toStrictEqual({ type: 'paused', reactor: name, paused: true, id: 5 });
    expect(rt.reactor(name).getState().paused).toBe(true);
    client.send({ command: 'force_fire', id: 6 });
    expect(await client.next((m) => m.id === 6)).toMatchObject({ type: 'error', command: 'force_fire', paused: true });
    client.send({ command: 'resume', id: 7 });
    expect(await client.next((m) => m.id === 7)).toStrictEqual({
      type: 'resumed',
      reactor: name,
      paused: false,
      id: 7,
    });
    client.send({ command: 'explode', id: 8 });
    expect(await client.next((m) => m.id === 8)).toMatchObject({
      type: 'error',
      error: expect.stringContaining('unknown command'),
    });
    client.send('not json');
    expect(await client.next((m) => m.type === 'error' && m.id === undefined)).toMatchObject({
      error: expect.stringContaining('malformed JSON'),
    });
    expect(rt.stats().reactors[name]!.fires).toBe(4);
    client.close();
  });
});

describe('upgrades', () => {
  it('unknown names are upgraded then closed with 4404; unknown paths and missing keys are refused before the upgrade', async () => {
    const { rt, a } = await sequential('inline');
    const open = await ops(rt);
    for (const path of ['/v1/ws/accumulator/nope', '/v1/ws/reactor/nope']) {
      const client = new Client(wsUrl(open.url, path));
      await client.opened;
      expect(await client.closed).toStrictEqual({ code: 4404, reason: expect.stringContaining("'nope'") });
    }
    const refused = (path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const client = new Client(wsUrl(keyed.url, path), { headers });
        client.ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
      });
    const keyed = await ops(rt, { apiKey: 'k3y' });
    expect(await refused('/v1/ws/elsewhere')).toBe(404);
    expect(await refused(`/v1/ws/accumulator/${a}`)).toBe(401);
    expect(await refused(`/v1/ws/accumulator/${a}?token=wrong`)).toBe(401);
    expect(await refused(`/v1/ws/dashboard`, { authorization: 'Bearer nope' })).toBe(401);
    for (const client of [
      new Client(wsUrl(keyed.url, `/v1/ws/accumulator/${a}?token=k3y`)),
      new Client(wsUrl(keyed.url, `/v1/ws/accumulator/${a}`), { headers: { authorization: 'Bearer k3y' } }),
    ]) {
      await client.opened;
      client.send({ n: 1 });
      await client.next((m) => m.type === 'ack');
      client.close();
    }
  });
});

describe('hostile clients', () => {
  it('a flood against a full accumulator: the socket is not read, server memory stays flat, every acknowledged event fires in order', async () => {
    const count = 20_000;
    const { rt, a, name, fired } = await sequential('inline', 100);
    const server = await ops(rt);
    rt.reactor(name).pause();
    const child = spawn(
      process.execPath,
      [flooder, wsUrl(server.url, `/v1/ws/accumulator/${a}`), String(count), '1000'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lines = createInterface({ input: child.stdout! });
    const waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = [];
    let lastAck = 0;
    lines.on('line', (line) => {
      const message = JSON.parse(line);
      if (message.acked !== undefined) {
        expect(message.acked).toBeGreaterThanOrEqual(lastAck);
        lastAck = message.acked;
      }
      for (const w of waiters.splice(0)) {
        if (w.match(message)) w.resolve(message);
        else waiters.push(w);
      }
    });
    const until = (match: (m: any) => boolean) => new Promise<any>((resolve) => waiters.push({ match, resolve }));

    // The queue fills (100 accepted), then the server stops reading: the producer's own
    // buffer holds what the server refused to read (about 20 MB were sent).
    await until((m) => m.acked === 100);
    const before = liveHeap();
    await until((m) => m.buffered > 8 * 2 ** 20);
    const after = liveHeap();
    expect(rt.stats().pushed).toBe(100);
    expect(rt.reactor(name).getState().queued).toBe(100);
    // The server read at most what was already in flight when it paused, not the 20 MB.
    const received = await http(server.url, 'GET', '/metrics');
    const messages = Number(/cloaca_ws_messages_total\{kind="accumulator"\} (\d+)/.exec(received.text)![1]);
    expect(messages).toBeLessThan(2000);
    expect((after - before) / 2 ** 20).toBeLessThan(4);

    // Room again: everything arrives, fires once and in order, and is acknowledged.
    rt.reactor(name).resume();
    await until((m) => m.acked === count);
    expect(await exited).toBe(0);
    await rt.idle();
    expect(fired.length).toBe(count);
    expect(fired.every((n, i) => n === i)).toBe(true);
  });

  it('clients that never read do not stall the server: pipelined HTTP requests, a WebSocket flooding commands', async () => {
    const { rt, a, name } = await sequential('inline');
    rt.push(a, { n: 0, pad: 'x'.repeat(100_000) }); // every get_state answer carries 100 kB
    await rt.idle();
    const server = await ops(rt);
    const { port } = new URL(server.url);
    const slow: Socket[] = [];
    for (let k = 0; k < 8; k++) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.pause(); // never reads a byte
      socket.on('error', () => {});
      socket.write('GET /v1/health/reactors HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2000));
      slow.push(socket);
    }
    // A command client that never reads its answers is cut off once its backlog passes 1 MiB.
    const flooding = new Client(wsUrl(server.url, `/v1/ws/reactor/${name}`));
    await flooding.opened;
    (flooding.ws as unknown as { _socket: Socket })._socket.pause();
    const command = JSON.stringify({ command: 'get_state' });
    const pump = setInterval(() => {
      for (let i = 0; i < 20 && flooding.ws.readyState === flooding.ws.OPEN; i++) flooding.ws.send(command);
    }, 1);
    await flooding.closed;
    clearInterval(pump);

    expect((await http(server.url, 'GET', '/health')).json).toStrictEqual({ status: 'ok' });
    const fresh = new Client(wsUrl(server.url, `/v1/ws/reactor/${name}`));
    await fresh.opened;
    fresh.send({ command: 'get_state', id: 1 });
    expect(await fresh.next((m) => m.id === 1)).toMatchObject({ type: 'state' });
    fresh.close();
    for (const socket of slow) socket.destroy();
  });

  it('a malformed frame closes that connection only; an oversized message closes with 1009', async () => {
    const { rt, a } = await sequential('inline');
    const server = await ops(rt, { bodyLimit: 1024 });
    const { port } = new URL(server.url);
    const raw = connect(Number(port), '127.0.0.1');
    raw.on('error', () => {});
    const key = randomBytes(16).toString('base64');
    raw.write(
      `GET /v1/ws/accumulator/${a} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const received: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => received.push(chunk));
    await new Promise<void>((resolve) => raw.once('data', () => resolve()));
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 101/);
    // An unmasked frame with a reserved opcode (0x3): both are protocol errors from a client.
    raw.write(Buffer.from([0x83, 0x02, 0x7b, 0x7d]));
    await new Promise<void>((resolve) => raw.once('close', () => resolve()));
    const closeFrame = Buffer.concat(received).subarray(Buffer.concat(received).indexOf('\r\n\r\n') + 4);
    expect(closeFrame[0]).toBe(0x88); // a close frame
    expect(closeFrame.readUInt16BE(2)).toBe(1002); // protocol error

    const big = new Client(wsUrl(server.url, `/v1/ws/accumulator/${a}`));
    await big.opened;
    big.send({ n: 1, pad: 'x'.repeat(2000) });
    expect((await big.closed).code).toBe(1009);
    expect(rt.stats().pushed).toBe(0);

    expect((await http(server.url, 'GET', '/health')).status).toBe(200);
    const good = new Client(wsUrl(server.url, `/v1/ws/accumulator/${a}`));
    await good.opened;
    good.send({ n: 2 });
    await good.next((m) => m.type === 'ack' && m.accepted === 1);
    good.close();
  });
});
