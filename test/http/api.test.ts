/**
 * The REST surface of `cloaca/http` (contract section 9): every path with its shape and status
 * codes, on both executors, and the bad requests that must change nothing.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchAccumulator, ConfigurationError, passthroughAccumulator, reactor } from 'cloaca';
import { serve } from 'cloaca/http';
import { executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { http, useServers } from './support.js';

const nodes = fileURLToPath(new URL('./fixtures/ops.nodes.mjs', import.meta.url));
const { runtime, graph } = useRuntimes();
const ops = useServers();

/** A started runtime: passthroughs `a`, `b` -> reactor -> decide routes to big | small. */
async function routed(executor: ExecutorName, strategy: 'latest' | 'sequential' = 'sequential', queueCapacity = 100) {
  const a = unique('a');
  const b = unique('b');
  const name = unique('r');
  const R = reactor({ name, accumulators: [a, b], strategy });
  const g = await graph(unique('g'), executor, {
    nodes,
    reactor: R,
    graph: { decide: { inputs: [a, b], routes: { Big: 'big', Small: 'small' } }, big: {}, small: {} },
  });
  const rt = runtime({ queueCapacity });
  rt.register(passthroughAccumulator({ name: a }), passthroughAccumulator({ name: b }), R, g);
  await rt.start();
  return { rt, a, b, name, graph: g.name };
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('GET /health, /ready and the three health lists answer with the contract shapes', async () => {
    const { rt, a, b, name, graph: g } = await routed(executor);
    const server = await ops(rt);
    for (let i = 0; i < 3; i++) rt.push(a, { value: 4 * i });
    await rt.idle();

    expect((await http(server.url, 'GET', '/health')).json).toStrictEqual({ status: 'ok' });
    const ready = await http(server.url, 'GET', '/ready');
    expect([ready.status, ready.json]).toStrictEqual([200, { status: 'ready' }]);

    const accumulators = await http(server.url, 'GET', '/v1/health/accumulators');
    expect(accumulators.status).toBe(200);
    expect(accumulators.headers['content-type']).toMatch(/^application\/json/);
    expect(accumulators.json.total).toBe(2);
    const first = accumulators.json.items.find((i: { name: string }) => i.name === a);
    expect(first).toMatchObject({
      name: a,
      kind: 'passthrough',
      state: 'socket_only',
      reactors: [name],
      events_total: 3,
      buffer_depth: 0,
      buffer_capacity: 100,
    });
    expect(first.last_event_at).toBeGreaterThan(Date.now() - 60_000);
    expect(accumulators.json.items.find((i: { name: string }) => i.name === b).last_event_at).toBeNull();

    const reactors = await http(server.url, 'GET', '/v1/health/reactors');
    expect(reactors.json).toStrictEqual({
      items: [
        {
          name,
          health: 'live',
          accumulators: [a, b],
          reaction_mode: 'when_any',
          input_strategy: 'sequential',
          bound_graphs: [g],
          paused: false,
          fires: 3,
          failures: 0,
          queued: 0,
          queue_capacity: 100,
          last_fired_at: expect.any(Number),
          keyed: false,
          keys: null,
        },
      ],
      total: 1,
    });

    const graphs = await http(server.url, 'GET', '/v1/health/graphs');
    expect(graphs.json.total).toBe(1);
    const one = await http(server.url, 'GET', `/v1/health/graphs/${g}`);
    expect(one.json).toStrictEqual(graphs.json.items[0]);
    expect(one.json).toMatchObject({
      name: g,
      reactor: name,
      executor,
      levels: [['decide'], ['big', 'small']],
      topology: {
        nodes: [
          { id: 'decide', inputs: [a, b], level: 0, terminal: false },
          { id: 'big', inputs: [], level: 1, terminal: true },
          { id: 'small', inputs: [], level: 1, terminal: true },
        ],
        edges: [
          { from: 'decide', to: 'big', label: 'Big' },
          { from: 'decide', to: 'small', label: 'Small' },
        ],
      },
      fires: 3,
      last_fired_at: expect.any(Number),
    });
  });

  it('POST .../fire answers the fire record (force_fire, fire_with, an empty body); a paused reactor answers 409', async () => {
    const { rt, a, name, graph: g } = await routed(executor);
    const server = await ops(rt);
    rt.push(a, { value: 3 });
    await rt.idle();

    const forced = await http(server.url, 'POST', `/v1/health/reactors/${name}/fire`, '{"mode":"force_fire"}');
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({
      reactor: name,
      graph: g,
      ok: true,
      manual: true,
      inputs: { [a]: { value: 3 } },
      outputs: { small: { small: 3 } },
      error: null,
    });
    expect(typeof forced.json.duration_ms).toBe('number');

    const withInputs = await http(
      server.url,
      'POST',
      `/v1/health/reactors/${name}/fire`,
      JSON.stringify({ mode: 'fire_with', inputs: { [a]: { value: 20 } } }),
    );
    expect(withInputs.json).toMatchObject({ ok: true, outputs: { big: { big: 20 } }, inputs: { [a]: { value: 20 } } });
    const empty = await http(server.url, 'POST', `/v1/health/reactors/${name}/fire`);
    expect(empty.json).toMatchObject({ ok: true, outputs: { big: { big: 20 } } });

    rt.reactor(name).pause();
    const paused = await http(server.url, 'POST', `/v1/health/reactors/${name}/fire`, '{"mode":"force_fire"}');
    expect(paused.status).toBe(409);
    expect(paused.json).toMatchObject({ error: expect.stringContaining('paused'), paused: true });

    for (const bad of ['{"mode":"later"}', '{"mode":"fire_with"}', '{"mode":"fire_with","inputs":[1]}', '[1]']) {
      const answer = await http(server.url, 'POST', `/v1/health/reactors/${name}/fire`, bad);
      expect([answer.status, typeof answer.json.error]).toStrictEqual([400, 'string']);
    }
    expect(rt.reactor(name).getState().cache).toStrictEqual({ [a]: { value: 20 } });
  });

  it('pause and resume answer {reactor, paused}; the reactor and the list agree', async () => {
    const { rt, a, name } = await routed(executor);
    const server = await ops(rt);
    const paused = await http(server.url, 'POST', `/v1/health/reactors/${name}/pause`);
    expect(paused.json).toStrictEqual({ reactor: name, paused: true });
    expect(rt.reactor(name).getState().paused).toBe(true);
    rt.push(a, { value: 1 });
    const list = await http(server.url, 'GET', '/v1/health/reactors');
    expect(list.json.items[0]).toMatchObject({ paused: true, queued: 1, fires: 0 });
    const resumed = await http(server.url, 'POST', `/v1/health/reactors/${name}/resume`);
    expect(resumed.json).toStrictEqual({ reactor: name, paused: false });
    await rt.idle();
    expect(rt.stats().reactors[name]!.fires).toBe(1);
  });

  async function failingLast(listen: boolean) {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a], strategy: 'sequential' });
    const g = await graph(unique('g'), executor, { nodes, reactor: R, graph: { maybe_fail: { inputs: [a] } } });
    const rt = runtime({ queueCapacity: 1000 });
    rt.register(passthroughAccumulator({ name: a }), R, g);
    await rt.start();
    let heard = 0;
    if (listen) rt.on('fire', () => heard++);
    const server = await ops(rt);
    for (let n = 0; n < 230; n++) rt.push(a, { n, fail: n === 229 });
    await rt.idle();
    if (listen) expect(heard).toBe(230);
    return { rt, server, name, g };
  }

  it('GET .../fires under a burst keeps a sample of the firings and every failure; the count stays exact', async () => {
    const { rt, server, name } = await failingLast(false);
    const fires = await http(server.url, 'GET', `/v1/health/reactors/${name}/fires`);
    expect(fires.json.total).toBeGreaterThanOrEqual(2);
    expect(fires.json.total).toBeLessThan(50);
    expect(fires.json.items[0]).toMatchObject({ ok: false, error: expect.stringContaining('asked to fail at 229') });
    const times = fires.json.items.map((f: { fired_at: number }) => f.fired_at);
    expect(times).toStrictEqual([...times].sort((x: number, y: number) => y - x));
    expect(rt.stats().reactors[name]).toMatchObject({ fires: 230, failures: 1 });
    const listed = (await http(server.url, 'GET', '/v1/health/reactors')).json.items;
    expect(listed.find((r: { name: string }) => r.name === name)).toMatchObject({ fires: 230 });
  });

  it('GET .../fires lists the newest records first, with errors; limit defaults to 50 and stops at 200', async () => {
    // A 'fire' listener hears every firing, so every one is recorded.
    const { server, name, g } = await failingLast(true);

    const fires = await http(server.url, 'GET', `/v1/health/reactors/${name}/fires`);
    expect(fires.json.total).toBe(50);
    expect(fires.json.items[0]).toStrictEqual({
      fired_at: expect.any(Number),
      ok: false,
      error: expect.stringContaining('asked to fail at 229'),
      duration_ms: expect.any(Number),
      manual: false,
      graph: g.name,
    });
    expect(fires.json.items[1]).toMatchObject({ ok: true, error: null });
    const times = fires.json.items.map((f: { fired_at: number }) => f.fired_at);
    expect(times).toStrictEqual([...times].sort((x: number, y: number) => y - x));
    expect((await http(server.url, 'GET', `/v1/health/reactors/${name}/fires?limit=3`)).json.total).toBe(3);
    expect((await http(server.url, 'GET', `/v1/health/reactors/${name}/fires?limit=1000`)).json.total).toBe(200);
    for (const bad of ['0', '-1', '2.5', 'x']) {
      expect((await http(server.url, 'GET', `/v1/health/reactors/${name}/fires?limit=${bad}`)).status).toBe(400);
    }
  });

  it('POST .../inject delivers an event; a full accumulator answers 503 with Retry-After and accepts nothing', async () => {
    const { rt, a, name } = await routed(executor, 'sequential', 2);
    const server = await ops(rt);
    rt.reactor(name).pause();
    for (let i = 0; i < 2; i++) {
      const answer = await http(
        server.url,
        'POST',
        `/v1/health/accumulators/${a}/inject`,
        JSON.stringify({ event: { value: i } }),
      );
      expect([answer.status, answer.json]).toStrictEqual([200, { accumulator: a, delivered: true }]);
    }
    const refused = await http(server.url, 'POST', `/v1/health/accumulators/${a}/inject`, '{"event":{"value":9}}');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json).toMatchObject({ accumulator: a, delivered: false, error: expect.stringContaining('no room') });
    expect(rt.reactor(name).getState().queued).toBe(2);
    const listed = (await http(server.url, 'GET', '/v1/health/accumulators')).json.items.find(
      (i: { name: string }) => i.name === a,
    );
    expect(listed).toMatchObject({ buffer_depth: 2, buffer_capacity: 2, refused_total: 1, events_total: 2 });
  });
});

describe('bad requests get JSON errors and change nothing', () => {
  it('unknown names and paths 404, malformed JSON 400, wrong method 405 with Allow, oversized body 413', async () => {
    const { rt, a, name } = await routed('inline');
    const server = await ops(rt, { bodyLimit: 1024 });
    const before = rt.stats();
    const cases: Array<[string, string, string | Buffer | undefined, number]> = [
      ['GET', '/nope', undefined, 404],
      ['GET', '/v1/health/graphs/nope', undefined, 404],
      ['POST', '/v1/health/reactors/nope/fire', '{"mode":"force_fire"}', 404],
      ['POST', '/v1/health/reactors/nope/pause', undefined, 404],
      ['GET', '/v1/health/reactors/nope/fires', undefined, 404],
      ['POST', '/v1/health/accumulators/nope/inject', '{"event":1}', 404],
      ['POST', `/v1/health/accumulators/${a}/inject`, '{"event":', 400],
      ['POST', `/v1/health/accumulators/${a}/inject`, '{"evnt":1}', 400],
      ['POST', `/v1/health/accumulators/${a}/inject`, '"just a string"', 400],
      ['POST', `/v1/health/reactors/${name}/fire`, '{mode:force_fire}', 400],
      ['POST', '/v1/health/accumulators/%E0%A4%A/inject', '{"event":1}', 400],
      ['GET', `/v1/health/accumulators/${a}/inject`, undefined, 405],
      ['DELETE', `/v1/health/reactors/${name}/pause`, undefined, 405],
      ['POST', '/health', undefined, 405],
      ['POST', `/v1/health/accumulators/${a}/inject`, JSON.stringify({ event: 'x'.repeat(2000) }), 413],
    ];
    for (const [method, path, body, status] of cases) {
      const answer = await http(server.url, method, path, body);
      expect([method, path, answer.status]).toStrictEqual([method, path, status]);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(typeof answer.json.error).toBe('string');
      if (status === 405) expect(answer.headers.allow).toBeTruthy();
    }
    // A chunked body (no Content-Length) that grows past the limit is cut off too.
    const chunked = await http(server.url, 'POST', `/v1/health/accumulators/${a}/inject`, Buffer.alloc(4096, 32), {
      'transfer-encoding': 'chunked',
    });
    expect(chunked.status).toBe(413);
    const after = rt.stats();
    expect(after.pushed).toBe(before.pushed);
    expect(after.reactors[name]).toStrictEqual(before.reactors[name]);
    expect(rt.reactor(name).getState().paused).toBe(false);
  });
});

describe('API key', () => {
  it('/v1/ paths answer 401 without the Bearer key; /health, /ready, /metrics and the page stay open', async () => {
    const { rt, a } = await routed('inline');
    const server = await ops(rt, { apiKey: 's3cret' });
    for (const path of ['/v1/health/accumulators', '/v1/health/reactors', '/v1/health/graphs', '/v1/nothing']) {
      const none = await http(server.url, 'GET', path);
      expect([path, none.status]).toStrictEqual([path, 401]);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect((await http(server.url, 'GET', path, undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
      // ?token= is for WebSocket URLs (browsers cannot set their headers), not for REST.
      expect((await http(server.url, 'GET', `${path}?token=s3cret`)).status).toBe(401);
    }
    const injected = await http(server.url, 'POST', `/v1/health/accumulators/${a}/inject`, '{"event":1}');
    expect(injected.status).toBe(401);
    expect(rt.stats().pushed).toBe(0);
    const authorised = await http(server.url, 'GET', '/v1/health/reactors', undefined, {
      authorization: 'Bearer s3cret',
    });
    expect(authorised.status).toBe(200);
    for (const path of ['/health', '/ready', '/metrics', '/'])
      expect((await http(server.url, 'GET', path)).status).toBe(200);
  });

  it('serve refuses a non-loopback host without a key, and bad options, with ConfigurationError', async () => {
    const rt = runtime();
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      await expect(serve(rt, { host, port: 0 })).rejects.toBeInstanceOf(ConfigurationError);
    }
    await expect(serve(rt, { port: 70000 })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(serve(rt, { port: 0, bodyLimit: 0 })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(serve(rt, { port: 0, apiKey: '' })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(serve(rt, { port: 0, colour: 'red' } as never)).rejects.toThrow(/unknown option 'colour'/);
    const loopback = await ops(rt, { host: '::1' });
    expect(loopback.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const everywhere = await ops(rt, { host: '0.0.0.0', apiKey: 'k' });
    expect((await http(everywhere.url, 'GET', '/health')).status).toBe(200);
  });
});

describe('lifecycle', () => {
  it('/ready is 503 with a reason before start and after shutdown; the server answers until close()', async () => {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a] });
    const rt = runtime();
    rt.register(batchAccumulator({ name: a, maxBufferSize: 5 }), R);
    const server = await ops(rt);
    const early = await http(server.url, 'GET', '/ready');
    expect([early.status, early.json]).toStrictEqual([503, { status: 'not ready', reason: 'the runtime is created' }]);
    await rt.start();
    expect((await http(server.url, 'GET', '/ready')).status).toBe(200);
    const batch = (await http(server.url, 'GET', '/v1/health/accumulators')).json.items[0];
    expect(batch).toMatchObject({ kind: 'batch', state: 'live', buffer_capacity: 5 });
    await rt.shutdown();
    const late = await http(server.url, 'GET', '/ready');
    expect([late.status, late.json]).toStrictEqual([503, { status: 'not ready', reason: 'the runtime is stopped' }]);
    expect((await http(server.url, 'GET', '/health')).status).toBe(200);
    const inject = await http(server.url, 'POST', `/v1/health/accumulators/${a}/inject`, '{"event":1}');
    expect(inject.status).toBe(503);
    const fire = await http(server.url, 'POST', `/v1/health/reactors/${name}/fire`);
    expect(fire.status).toBe(503);
    await server.close();
    await expect(http(server.url, 'GET', '/health')).rejects.toThrow();
  });
});
