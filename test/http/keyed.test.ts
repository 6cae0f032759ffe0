/**
 * The ops server's view of a keyed reactor (contract section 11): `keyed` and `keys` in the
 * reactor list, the keys list, firing one key, and the keys gauge, which never carries a key.
 */
import { describe, expect, it } from 'vitest';
import { passthroughAccumulator, reactor } from 'cloaca';
import { executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { http, useServers } from './support.js';

const { runtime, graph } = useRuntimes();
const ops = useServers();

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('lists keys, fires one key, refuses an injected event without a key, and counts keys in cloaca_reactor_keys', async () => {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a], strategy: 'sequential', key: 'k' });
    const g = await graph(unique('g'), executor, { reactor: R, graph: { snap: { inputs: [a] } } });
    const plain = reactor({ name: unique('p'), accumulators: [a] });
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), R, plain, g);
    await rt.start();
    const server = await ops(rt);
    rt.push(a, { k: 'x', n: 1 });
    rt.push(a, { k: 'y', n: 1 });
    rt.push(a, { k: 'y', n: 2 });
    await rt.idle();

    const reactors = (await http(server.url, 'GET', '/v1/health/reactors')).json.items;
    expect(reactors.find((r: { name: string }) => r.name === name)).toMatchObject({ keyed: true, keys: 2 });
    expect(reactors.find((r: { name: string }) => r.name === plain.name)).toMatchObject({ keyed: false, keys: null });

    const keys = await http(server.url, 'GET', `/v1/health/reactors/${name}/keys?limit=1`);
    expect(keys.status).toBe(200);
    expect(keys.json).toStrictEqual({
      items: [{ key: expect.any(String), queued: 0, last_fired_at: expect.any(Number) }],
      total: 1,
    });
    expect((await http(server.url, 'GET', `/v1/health/reactors/${name}/keys?limit=0`)).status).toBe(400);
    expect((await http(server.url, 'GET', `/v1/health/reactors/${plain.name}/keys`)).status).toBe(404);

    const fired = await http(
      server.url,
      'POST',
      `/v1/health/reactors/${name}/keys/x/fire`,
      JSON.stringify({ mode: 'fire_with', inputs: { [a]: { k: 'x', n: 9 } } }),
      { 'content-type': 'application/json' },
    );
    expect(fired.status).toBe(200);
    expect(fired.json).toMatchObject({ reactor: name, key: 'x', manual: true, inputs: { [a]: { k: 'x', n: 9 } } });
    const forced = await http(server.url, 'POST', `/v1/health/reactors/${name}/keys/y/fire`);
    expect(forced.json).toMatchObject({ key: 'y', inputs: { [a]: { k: 'y', n: 2 } } });
    expect((await http(server.url, 'POST', `/v1/health/reactors/${plain.name}/keys/x/fire`)).status).toBe(404);

    const injected = await http(
      server.url,
      'POST',
      `/v1/health/accumulators/${a}/inject`,
      JSON.stringify({ event: { n: 1 } }),
      {
        'content-type': 'application/json',
      },
    );
    expect(injected.status).toBe(400);
    expect(injected.json.error).toMatch(/no valid key/);

    const metrics = (await http(server.url, 'GET', '/metrics')).text;
    expect(metrics).toContain(`cloaca_reactor_keys{reactor="${name}"} 2`);
    expect(metrics).not.toMatch(/key="/);
  });
});
