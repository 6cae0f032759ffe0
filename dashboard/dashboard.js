// The cloaca dashboard: plain browser JavaScript, no build step, no external URL.
//
// It reads each graph's topology once from GET /v1/health/graphs and draws it (levels left to
// right, routing edges labelled with their variant), then follows the live feed on the
// WebSocket /v1/ws/dashboard (one update a second) and redraws the tables. The buttons call the
// REST paths (pause, resume, fire). With an API key, open the page as /?token=<key>: the page
// sends it as a Bearer token and on the WebSocket URL.

const token = new URL(window.location.href).searchParams.get('token');
const headers = token === null ? {} : { authorization: `Bearer ${token}` };
const $ = (id) => document.getElementById(id);

/** Creates an element with attributes and children (strings become text, never HTML). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const svgNs = 'http://www.w3.org/2000/svg';
function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(svgNs, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function badge(state) {
  return el('span', { class: `badge ${state}` }, state);
}

function number(value, digits = 0) {
  return value === null || value === undefined ? '-' : value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function ms(value) {
  if (value === null || value === undefined) return '-';
  return value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

function ago(at) {
  if (at === null || at === undefined) return 'never';
  const seconds = Math.max(0, (Date.now() - at) / 1000);
  return seconds < 1 ? 'just now' : seconds < 120 ? `${seconds.toFixed(0)} s ago` : new Date(at).toLocaleTimeString();
}

function say(text) {
  $('message').textContent = text;
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error ?? `${response.status}`);
  return answer;
}

function command(reactor, verb) {
  const path = `/v1/health/reactors/${encodeURIComponent(reactor)}/${verb}`;
  const body = verb === 'fire' ? { mode: 'force_fire' } : undefined;
  call('POST', path, body).then(
    (answer) =>
      say(verb === 'fire' ? `${reactor}: fired (${answer.ok ? 'ok' : answer.error})` : `${reactor}: ${verb}d`),
    (error) => say(`${reactor}: ${verb} failed: ${error.message}`),
  );
}

/** Seconds of history each reactor's chart shows (one sample per update): bounded memory. */
const kHistory = 180;
/** Reactor name -> its last kHistory samples of fires/s and p99 (ms). */
const history = new Map();

function remember(r) {
  let samples = history.get(r.name);
  if (samples === undefined) history.set(r.name, (samples = []));
  samples.push({ rate: r.rate, p99: r.p99_ms });
  if (samples.length > kHistory) samples.splice(0, samples.length - kHistory);
  return samples;
}

/** A small chart of the reactor's fires/s (filled) and p99 (line), each scaled to its own peak. */
function trend(samples) {
  const width = 120;
  const height = 28;
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'trend', role: 'img' });
  const peak = (pick) => Math.max(1e-9, ...samples.map((s) => pick(s) ?? 0));
  const points = (pick) => {
    const top = peak(pick);
    return samples
      .map((s, i) => {
        const x = (i / (kHistory - 1)) * width;
        const y = height - 1 - ((pick(s) ?? 0) / top) * (height - 2);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
  };
  const last = samples.length === 0 ? 0 : ((samples.length - 1) / (kHistory - 1)) * width;
  chart.append(
    svg('polygon', { points: `0,${height} ${points((s) => s.rate)} ${last.toFixed(1)},${height}`, class: 'rate' }),
    svg('polyline', { points: points((s) => s.p99), class: 'p99' }),
    svg(
      'title',
      {},
      `last ${samples.length} s: fires/s up to ${number(
        peak((s) => s.rate),
        1,
      )}, p99 up to ${ms(peak((s) => s.p99))}`,
    ),
  );
  return chart;
}

function keysCell(r) {
  if (!r.keyed) return el('td', { class: 'num', 'data-field': 'keys' }, '-');
  const busiest = (r.busiest_keys ?? []).map((k) => `${k.key} (${number(k.queued)})`).join(', ');
  return el(
    'td',
    { class: 'num', 'data-field': 'keys', title: `busiest: ${busiest || 'none'}` },
    number(r.keys),
    el('div', { class: 'busiest' }, busiest),
  );
}

function reactorRow(r) {
  const button = (verb) =>
    el('button', { 'aria-label': `${verb} ${r.name}`, title: verb, onclick: () => command(r.name, verb) }, verb);
  const buttons = el('td', {}, button('pause'), button('resume'), button('fire'));
  return el(
    'tr',
    { 'data-reactor': r.name },
    el('td', {}, r.name),
    el('td', { 'data-field': 'health' }, badge(r.health), ' ', r.paused ? badge('paused') : ''),
    el('td', {}, `${r.input_strategy}, ${r.reaction_mode}`),
    el('td', { class: 'num', 'data-field': 'fires' }, number(r.fires)),
    el('td', { class: 'num', 'data-field': 'failures' }, number(r.failures)),
    el('td', { class: 'num', 'data-field': 'rate' }, number(r.rate, 1)),
    el('td', { class: 'num' }, ms(r.p50_ms)),
    el('td', { class: 'num' }, ms(r.p99_ms)),
    el(
      'td',
      { class: 'num' },
      r.queue_capacity === null ? number(r.queued) : `${number(r.queued)} / ${number(r.queue_capacity)}`,
    ),
    keysCell(r),
    el('td', { 'data-field': 'trend' }, trend(remember(r))),
    el('td', {}, ago(r.last_fired_at)),
    buttons,
  );
}

function accumulatorRow(a) {
  const buffered =
    a.buffer_capacity === null ? number(a.buffer_depth) : `${number(a.buffer_depth)} / ${number(a.buffer_capacity)}`;
  return el(
    'tr',
    { 'data-accumulator': a.name },
    el('td', {}, a.name),
    el('td', {}, a.kind),
    el('td', {}, badge(a.state)),
    el('td', { class: 'num', 'data-field': 'events' }, number(a.events_total)),
    el('td', { class: 'num', 'data-field': 'rate' }, number(a.rate, 1)),
    el('td', { class: 'num' }, buffered),
    el('td', { class: 'num' }, number(a.refused_total)),
    el('td', { class: 'num' }, number(a.failures_total)),
    el('td', {}, ago(a.last_event_at)),
  );
}

function fireRow(f) {
  return el(
    'tr',
    {},
    el('td', {}, new Date(f.fired_at).toLocaleTimeString()),
    el('td', {}, `${f.reactor} / ${f.graph}${f.manual ? ' (manual)' : ''}`),
    el('td', {}, badge(f.ok ? 'ok' : 'failed')),
    el('td', { class: 'num' }, ms(f.duration_ms)),
    el('td', { class: 'error' }, f.error ?? ''),
  );
}

/** Draws one graph: a column per level, nodes top to bottom, edges as curves. */
function drawGraph(graph) {
  const width = 150;
  const height = 38;
  const gapX = 70;
  const gapY = 22;
  const place = new Map();
  graph.levels.forEach((level, x) =>
    level.forEach((name, y) => place.set(name, { x: 10 + x * (width + gapX), y: 10 + y * (height + gapY) })),
  );
  const tallest = Math.max(...graph.levels.map((level) => level.length));
  const picture = svg('svg', {
    width: 20 + graph.levels.length * (width + gapX) - gapX,
    height: 20 + tallest * (height + gapY) - gapY,
    role: 'img',
    'aria-label': `topology of ${graph.name}`,
  });
  const marker = svg('marker', {
    id: `arrow-${graph.name}`,
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto',
  });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#5b6b7b' }));
  const defs = svg('defs');
  defs.append(marker);
  picture.append(defs);
  for (const edge of graph.topology.edges) {
    const from = place.get(edge.from);
    const to = place.get(edge.to);
    const x1 = from.x + width;
    const y1 = from.y + height / 2;
    const x2 = to.x;
    const y2 = to.y + height / 2;
    const bend = (x2 - x1) / 2;
    picture.append(
      svg('path', {
        class: 'edge',
        d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
        'marker-end': `url(#arrow-${graph.name})`,
      }),
    );
    if (edge.label !== null) {
      // Near the target, where the edges leaving one router have fanned apart.
      picture.append(svg('text', { class: 'label', x: x2 - 8, y: y2 - 6, 'text-anchor': 'end' }, edge.label));
    }
  }
  for (const node of graph.topology.nodes) {
    const { x, y } = place.get(node.id);
    const group = svg('g', { class: `node${node.terminal ? ' terminal' : ''}`, 'data-node': node.id });
    group.append(svg('rect', { x, y, width, height, rx: 6 }));
    group.append(svg('text', { x: x + 10, y: y + (node.inputs.length > 0 ? 16 : 23) }, node.id));
    if (node.inputs.length > 0) {
      group.append(svg('text', { class: 'inputs', x: x + 10, y: y + 30 }, `in: ${node.inputs.join(', ')}`));
    }
    picture.append(group);
  }
  return el(
    'div',
    { class: 'graph', 'data-graph': graph.name },
    el('h3', {}, graph.name, ' ', el('span', {}, `fired by ${graph.reactor}, ${graph.executor}`)),
    picture,
  );
}

async function loadGraphs() {
  try {
    const { items } = await call('GET', '/v1/health/graphs');
    $('graphs').replaceChildren(...items.map(drawGraph));
  } catch (error) {
    say(`cannot read the graphs: ${error.message}`);
  }
}

function render(update) {
  const { runtime, pool } = update;
  $('state').replaceChildren(runtime.state);
  $('state').className = `badge ${runtime.state}`;
  $('ready').textContent = runtime.ready ? 'ready' : `not ready: ${runtime.reason}`;
  $('pool').textContent =
    pool === null
      ? ''
      : `pool ${pool.threads} threads, ${pool.in_flight} in flight, ${pool.queued} queued` +
        (pool.utilisation === null ? '' : `, ${(pool.utilisation * 100).toFixed(0)}% busy`);
  $('reactors').replaceChildren(...update.reactors.map(reactorRow));
  $('accumulators').replaceChildren(...update.accumulators.map(accumulatorRow));
  $('fires').replaceChildren(...update.fires.map(fireRow));
}

/** Follows the live feed; reconnects after a second when it drops. */
function follow() {
  const url = new URL('/v1/ws/dashboard', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token !== null) url.searchParams.set('token', token);
  const socket = new WebSocket(url);
  socket.addEventListener('message', (event) => render(JSON.parse(event.data)));
  socket.addEventListener('close', () => {
    $('state').replaceChildren('offline');
    $('state').className = 'badge offline';
    setTimeout(follow, 1000);
  });
}

loadGraphs();
follow();
