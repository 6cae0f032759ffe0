/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (which downloads
 * nothing). The page loads offline (no external URL), draws each graph's topology from
 * `/v1/health/graphs`, shows fire counts rising without a reload, and its pause / resume / fire
 * buttons act on the runtime (checked over REST). The screenshot in the README comes from here:
 * it is written to docs/dashboard.png when that file is missing or CLOACA_UPDATE_SCREENSHOTS=1.
 */
import { existsSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { batchAccumulator, memoryBroker, passthroughAccumulator, reactor, streamAccumulator } from 'cloaca';
import { unique, useRuntimes } from '../runtime/support.js';
import { chromiumPath, haveChromium, http, useServers } from './support.js';

const nodes = fileURLToPath(new URL('./fixtures/ops.nodes.mjs', import.meta.url));
const screenshot = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const { runtime, graph } = useRuntimes();
const ops = useServers();

const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A runtime like the market-maker demo: three accumulator kinds, a routing graph, and a reactor whose graph fails. */
async function marketMaker() {
  const topic = unique('orderbook');
  const mm = reactor({ name: 'market_maker_reactor', accumulators: ['alpha', 'beta', 'fills'] });
  const audit = reactor({ name: 'audit_reactor', accumulators: ['audit'], strategy: 'sequential' });
  // On the runtime's own pool, so the page shows the pool too.
  const g = await graph(
    'market_maker',
    'pool',
    {
      nodes,
      reactor: mm,
      graph: { decide: { inputs: ['alpha', 'beta'], routes: { Big: 'big', Small: 'small' } }, big: {}, small: {} },
    },
    { sharedPool: true },
  );
  const checker = await graph('audit_check', 'inline', {
    nodes,
    reactor: audit,
    graph: { maybe_fail: { inputs: ['audit'] } },
  });
  const rt = runtime();
  rt.register(
    passthroughAccumulator({ name: 'alpha' }),
    streamAccumulator({ name: 'beta', type: 'memory', topic, group: 'mm' }),
    batchAccumulator({ name: 'fills', maxBufferSize: 50, flushInterval: '200ms' }),
    passthroughAccumulator({ name: 'audit' }),
    mm,
    audit,
    g,
    checker,
  );
  await rt.start();
  let n = 0;
  const feed = (): void => {
    for (let k = 0; k < 5; k++, n++) {
      rt.push('alpha', { value: n % 13 });
      memoryBroker.topic(topic).publish({ value: n % 7 });
      rt.push('fills', { qty: (n % 9) - 4 });
    }
    rt.push('audit', { n, fail: n % 40 === 0 });
  };
  return { rt, feed };
}

/** Resolves once the number shown by `selector` exceeds `above` (polled in the page; no reload). */
const numberAbove = (page: Page, selector: string, above: number) =>
  page.waitForFunction(
    `Number(document.querySelector(${JSON.stringify(selector)})?.textContent?.replace(/,/g, '')) > ${above}`,
  );

const cellText = (page: Page, reactorName: string, field: string) =>
  page.locator(`tr[data-reactor="${reactorName}"] td[data-field="${field}"]`).innerText();

describe.skipIf(!haveChromium())('dashboard in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, args: flags });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows live counts, draws the topology, and its buttons pause, resume and fire the reactor', async () => {
    const { rt, feed } = await marketMaker();
    const server = await ops(rt);
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const outside: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(server.url)) outside.push(request.url());
    });
    feed();
    await rt.idle();
    await page.goto(`${server.url}/`);

    // The topology, drawn from /v1/health/graphs: levels left to right, routing edges labelled.
    const picture = page.locator('[data-graph="market_maker"] svg');
    await picture.waitFor();
    expect(await picture.locator('g.node').count()).toBe(3);
    expect(await picture.locator('text.label').allTextContents()).toStrictEqual(['Big', 'Small']);
    const x = async (node: string) => Number(await picture.locator(`g[data-node="${node}"] rect`).getAttribute('x'));
    expect(await x('decide')).toBeLessThan(await x('big'));
    expect(await x('big')).toBe(await x('small'));

    // Live: fire counts rise after pushes, without a reload.
    await page.locator('tr[data-reactor="market_maker_reactor"]').waitFor();
    const before = Number((await cellText(page, 'market_maker_reactor', 'fires')).replace(/,/g, ''));
    const producer = setInterval(feed, 20);
    try {
      await numberAbove(page, 'tr[data-reactor="market_maker_reactor"] td[data-field="fires"]', before);
      await numberAbove(page, 'tr[data-reactor="market_maker_reactor"] td[data-field="rate"]', 0);
      await page.locator('#fires td.error', { hasText: 'asked to fail' }).first().waitFor();
      expect(await page.locator('tr[data-accumulator="beta"] .badge').innerText()).toBe('live');
      const path = join(mkdtempSync(join(tmpdir(), 'cloaca-dashboard-')), 'dashboard.png');
      await page.screenshot({ path, fullPage: true });
      if (!existsSync(screenshot) || process.env.CLOACA_UPDATE_SCREENSHOTS === '1') copyFileSync(path, screenshot);
      rmSync(path);
    } finally {
      clearInterval(producer);
    }
    await rt.idle();

    // pause -> the runtime is paused (checked over REST), and the page says so; resume undoes it.
    const paused = page.waitForResponse((r) => r.url().endsWith('/v1/health/reactors/market_maker_reactor/pause'));
    await page.getByRole('button', { name: 'pause market_maker_reactor' }).click();
    expect((await paused).status()).toBe(200);
    const listed = await http(server.url, 'GET', '/v1/health/reactors');
    expect(listed.json.items.find((r: { name: string }) => r.name === 'market_maker_reactor').paused).toBe(true);
    expect(rt.reactor('market_maker_reactor').getState().paused).toBe(true);
    // The next live update shows it.
    await page.locator('tr[data-reactor="market_maker_reactor"] .badge.paused').waitFor();
    const resumed = page.waitForResponse((r) => r.url().endsWith('/v1/health/reactors/market_maker_reactor/resume'));
    await page.getByRole('button', { name: 'resume market_maker_reactor' }).click();
    expect(await (await resumed).json()).toStrictEqual({ reactor: 'market_maker_reactor', paused: false });
    expect(rt.reactor('market_maker_reactor').getState().paused).toBe(false);

    // fire -> one manual firing.
    const fired = page.waitForResponse((r) => r.url().endsWith('/v1/health/reactors/market_maker_reactor/fire'));
    await page.getByRole('button', { name: 'fire market_maker_reactor' }).click();
    expect(await (await fired).json()).toMatchObject({ reactor: 'market_maker_reactor', manual: true, ok: true });
    expect(rt.recentFires('market_maker_reactor', 1)[0]!.manual).toBe(true);
    expect(outside).toStrictEqual([]);
    await page.close();
  });

  it('with an API key, the page opened as /?token=<key> reads the runtime and follows the live feed', async () => {
    const { rt, feed } = await marketMaker();
    const server = await ops(rt, { apiKey: 'dash-key' });
    const page = await browser.newPage();
    await page.goto(`${server.url}/?token=dash-key`);
    await page.locator('[data-graph="market_maker"] svg g.node').first().waitFor();
    await page.locator('tr[data-reactor="market_maker_reactor"]').waitFor();
    const before = Number(await cellText(page, 'market_maker_reactor', 'fires'));
    feed();
    await numberAbove(page, 'tr[data-reactor="market_maker_reactor"] td[data-field="fires"]', before);
    await page.close();
  });
  it("shows a keyed reactor's key count and busiest keys, and a chart of fires/s and p99 per reactor", async () => {
    const a = unique('a');
    const name = unique('keyed');
    const R = reactor({ name, accumulators: [a], strategy: 'sequential', key: 'k' });
    const g = await graph(unique('g'), 'inline', {
      nodes,
      reactor: R,
      graph: { decide: { inputs: [a], routes: { Big: 'big', Small: 'small' } }, big: {}, small: {} },
    });
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), R, g);
    await rt.start();
    for (const k of ['x', 'y', 'z']) rt.push(a, { k, value: 1 });
    await rt.idle();
    rt.reactor(name).pause();
    for (let n = 0; n < 5; n++) rt.push(a, { k: 'y', value: n });
    const server = await ops(rt);
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    const row = page.locator(`tr[data-reactor="${name}"]`);
    await row.locator('td[data-field="keys"] .busiest', { hasText: 'y (5)' }).waitFor();
    expect(await row.locator('td[data-field="keys"]').innerText()).toMatch(/^3/);
    await row.locator('td[data-field="trend"] svg.trend polyline').waitFor({ state: 'attached' });
    await page.close();
  });
});
