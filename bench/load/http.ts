/**
 * `npm run load -- --http [--full | --tiny] [--out DIR]`: events into a `latest` reactor over
 * HTTP (POST .../inject) and over WebSocket (/v1/ws/accumulator/{name}), next to a bare
 * `node:http` + `ws` server speaking the same protocol without a runtime, measured in the same
 * run. Each server runs in its own child process (`http-server.ts`); this process generates the
 * load, so on a 2-core machine the client and the server each have about one core.
 *
 * Per transport:
 * 1. saturation, after a warm-up of each: a closed loop (HTTP: 32 keep-alive connections, each
 *    sending its next request when the last is answered; WebSocket: one connection keeping up
 *    to 10,000 events unacknowledged), three probes of each server in the order ABBAAB; the
 *    ratio of the means is the result (target >= 0.7x). Each step also reads the server
 *    process's CPU time, so the report has the CPU per event as well: steadier than rates on
 *    a machine shared with other work, and it shows what the server costs when the client is
 *    the bottleneck;
 * 2. fixed rates: 25% and 50% of the bare server's saturation (and 10%, 75% in full mode),
 *    offered open loop on a schedule to both servers. Latency runs from each event's scheduled
 *    send time (so a stalled server cannot hide queueing: no coordinated omission) to its
 *    answer (HTTP) or to the first acknowledgement that covers it (WebSocket), in an HDR
 *    histogram: p50, p90, p99, p99.9, max.
 *
 * Checks (exit 1 when one fails): every HTTP request was answered 200, every WebSocket event
 * acknowledged, and each server counted exactly the events it acknowledged.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { expectSteps, printTable, progress, progressDone, writeResult, type Row } from '../harness.js';

type Target = 'bare' | 'cloaca';
type Transport = 'http' | 'ws';

/** One measured step. */
export interface HttpStep {
  readonly transport: Transport;
  readonly target: Target;
  readonly label: string;
  /** Offered events/s, or null for a saturation step. */
  readonly offered: number | null;
  readonly events: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  /** The server process's CPU time per event (µs): steadier than rates on a shared machine. */
  readonly serverCpuUsPerEvent: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

const kConnections = 32;
const kWindow = 10_000;
const kPath = { http: '/v1/health/accumulators/a/inject', ws: '/v1/ws/accumulator/a' } as const;

const plans = {
  tiny: { probeMs: 300, stepMs: 300, fractions: [0.25] },
  quick: { probeMs: 1500, stepMs: 2000, fractions: [0.25, 0.5] },
  full: { probeMs: 5000, stepMs: 10_000, fractions: [0.1, 0.25, 0.5, 0.75] },
} as const;

/** A server child process. */
class Server {
  readonly target: Target;
  readonly port: number;
  readonly #child: ChildProcess;

  private constructor(target: Target, port: number, child: ChildProcess) {
    this.target = target;
    this.port = port;
    this.#child = child;
  }

  static async start(target: Target): Promise<Server> {
    const child = fork(new URL('./http-server.js', import.meta.url), [target], { stdio: 'inherit' });
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number }));
      child.once('exit', (code) => reject(new Error(`the ${target} server exited with ${code} before listening`)));
    });
    return new Server(target, port, child);
  }

  /** Events the server took so far, and its CPU time (µs). */
  stats(): Promise<{ events: number; cpuUs: number }> {
    return new Promise((resolve) => {
      this.#child.once('message', (m) => resolve(m as { events: number; cpuUs: number }));
      this.#child.send('stats');
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send('stop');
    await exited;
  }
}

function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function summary(h: hdr.Histogram): HttpStep['latencyMs'] {
  const ms = (us: number) => us / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

const body = (n: number): string => `{"event":{"n":${n},"price":101.25,"side":"buy"}}`;
const message = (n: number): string => `{"n":${n},"price":101.25,"side":"buy"}`;

/**
 * HTTP: POSTs events; `rate` null runs the closed loop of {@link kConnections} lanes, a number
 * offers that many per second on a schedule.
 */
type Measured = Omit<HttpStep, 'serverCpuUsPerEvent'>;

async function httpStep(server: Server, rate: number | null, durationMs: number, label: string): Promise<Measured> {
  const agent = new Agent({ keepAlive: true, maxSockets: kConnections });
  const h = histogram();
  let errors = 0;
  let done = 0;
  let issued = 0;
  const post = (n: number, scheduled: number): Promise<void> =>
    new Promise((resolve) => {
      const text = body(n);
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: kPath.http,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            h.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
            done++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        done++;
        resolve();
      });
      req.end(text);
    });

  const start = performance.now();
  if (rate === null) {
    const end = start + durationMs;
    await Promise.all(
      Array.from({ length: kConnections }, async () => {
        while (performance.now() < end) await post(issued++, performance.now());
      }),
    );
  } else {
    const total = Math.floor((rate * durationMs) / 1000);
    const pending: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; issued < due; issued++) pending.push(post(issued, start + (issued * 1000) / rate));
        if (issued >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await Promise.all(pending);
  }
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    transport: 'http',
    target: server.target,
    label,
    offered: rate,
    events: done,
    seconds,
    perSecond: done / seconds,
    errors,
    latencyMs: summary(h),
  };
}

/**
 * WebSocket: sends events on one connection; latency ends at the first ack covering an event.
 * `rate` null keeps {@link kWindow} events unacknowledged for `durationMs`.
 */
async function wsStep(server: Server, rate: number | null, durationMs: number, label: string): Promise<Measured> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${kPath.ws}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const h = histogram();
  const sentAt: number[] = [];
  let acked = 0;
  let sent = 0;
  let errors = 0;
  let start = 0;
  let finish: () => void = () => {};
  let stopSending = false;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const sendOne = (scheduled: number): void => {
    sentAt.push(scheduled);
    ws.send(message(sent++));
  };
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { type: string; accepted: number };
    if (m.type !== 'ack') {
      errors++;
      return;
    }
    const now = performance.now();
    for (; acked < m.accepted; acked++) h.recordValue(Math.max(1, Math.round((now - sentAt[acked]!) * 1000)));
    if (rate === null && !stopSending) {
      if (now - start >= durationMs) stopSending = true;
      else while (sent - acked < kWindow) sendOne(performance.now());
    }
    if (stopSending && acked === sent) finish();
  });
  start = performance.now();
  if (rate === null) {
    while (sent < kWindow) sendOne(performance.now());
  } else {
    const total = Math.floor((rate * durationMs) / 1000);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        while (sent < due) sendOne(start + (sent * 1000) / rate);
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    stopSending = true;
    if (acked === sent) finish();
  }
  await finished;
  const seconds = (performance.now() - start) / 1000;
  ws.close();
  return {
    transport: 'ws',
    target: server.target,
    label,
    offered: rate,
    events: acked,
    seconds,
    perSecond: acked / seconds,
    errors,
    latencyMs: summary(h),
  };
}

/** Saturation of one transport: mean rates and server CPU per event, bare vs cloaca. */
interface Comparison {
  readonly bare: number;
  readonly cloaca: number;
  /** cloaca / bare events/s. */
  readonly ratio: number;
  readonly cpuUsPerEvent: { readonly bare: number; readonly cloaca: number };
  /** bare / cloaca server CPU per event: the throughput ratio per CPU second. */
  readonly cpuRatio: number;
}

/** Runs the HTTP load test; resolves to the process exit code. */
export async function httpLoad(mode: keyof typeof plans): Promise<number> {
  const plan = plans[mode];
  console.log(
    `cloaca HTTP/WebSocket load test (${mode} mode): inject into a latest reactor, next to a bare node:http + ws server`,
  );
  const servers = { bare: await Server.start('bare'), cloaca: await Server.start('cloaca') };
  const steps: HttpStep[] = [];
  /** Events each server acknowledged, warm-up included: what it must have counted. */
  const acknowledged = { bare: 0, cloaca: 0 };
  const comparisons = {} as Record<Transport, Comparison>;
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expectSteps(2 * (8 + 2 * plan.fractions.length));
  for (const transport of ['http', 'ws'] as const) {
    const step = transport === 'http' ? httpStep : wsStep;
    const run = async (target: Target, rate: number | null, ms: number, label: string): Promise<HttpStep> => {
      progress(`${transport}: ${target}, ${label}`);
      const before = await servers[target].stats();
      const measured = await step(servers[target], rate, ms, label);
      const after = await servers[target].stats();
      acknowledged[target] += measured.events;
      return { ...measured, serverCpuUsPerEvent: (after.cpuUs - before.cpuUs) / Math.max(1, measured.events) };
    };
    // Warm both servers (and this process's client code) up before measuring.
    await run('bare', null, plan.probeMs, 'warm-up');
    await run('cloaca', null, plan.probeMs, 'warm-up');
    const saturation: Record<Target, HttpStep[]> = { bare: [], cloaca: [] };
    for (const order of [
      ['bare', 'cloaca'],
      ['cloaca', 'bare'],
      ['bare', 'cloaca'],
    ] as const) {
      for (const target of order) {
        const result = await run(target, null, plan.probeMs, 'saturation');
        saturation[target].push(result);
        steps.push(result);
      }
    }
    const rate = (t: Target) => mean(saturation[t].map((s) => s.perSecond));
    const cpu = (t: Target) => mean(saturation[t].map((s) => s.serverCpuUsPerEvent));
    comparisons[transport] = {
      bare: rate('bare'),
      cloaca: rate('cloaca'),
      ratio: rate('cloaca') / rate('bare'),
      cpuUsPerEvent: { bare: cpu('bare'), cloaca: cpu('cloaca') },
      cpuRatio: cpu('bare') / cpu('cloaca'),
    };
    for (const fraction of plan.fractions) {
      const offered = Math.max(100, Math.round((comparisons[transport].bare * fraction) / 100) * 100);
      for (const target of ['bare', 'cloaca'] as const) {
        steps.push(await run(target, offered, plan.stepMs, `${offered.toLocaleString('en-US')}/s`));
      }
    }
  }
  progressDone();
  const counted = { bare: (await servers.bare.stats()).events, cloaca: (await servers.cloaca.stats()).events };
  await servers.bare.stop();
  await servers.cloaca.stop();

  const fmt = (ms: number) => ms.toFixed(2).padStart(8);
  console.log('');
  console.log(
    'transport  server  step            events/s    p50 ms    p90 ms    p99 ms  p99.9 ms    max ms  errors  server µs/event',
  );
  for (const s of steps) {
    const { p50, p90, p99, p999, max } = s.latencyMs;
    console.log(
      `${s.transport.padEnd(9)}  ${s.target.padEnd(6)}  ${s.label.padEnd(12)}  ${Math.round(s.perSecond).toLocaleString('en-US').padStart(10)}  ` +
        `${fmt(p50)}  ${fmt(p90)}  ${fmt(p99)}  ${fmt(p999)}  ${fmt(max)}  ${String(s.errors).padStart(6)}  ${s.serverCpuUsPerEvent.toFixed(1).padStart(15)}`,
    );
  }
  console.log('');
  const rows: Row[] = (['http', 'ws'] as const).map((t) => {
    const c = comparisons[t];
    return {
      suite: 'load --http',
      metric: t === 'http' ? 'POST inject, saturation' : 'WebSocket events, saturation',
      value: c.cloaca,
      unit: 'events/s',
      note:
        `${c.ratio.toFixed(2)}x of bare node:http/ws (${Math.round(c.bare).toLocaleString('en-US')}/s); ` +
        `server CPU ${c.cpuUsPerEvent.cloaca.toFixed(1)} vs ${c.cpuUsPerEvent.bare.toFixed(1)} µs/event ` +
        `(${c.cpuRatio.toFixed(2)}x per CPU second); target >= 0.7x`,
    };
  });
  printTable(rows);

  const errors = steps.reduce((n, s) => n + s.errors, 0);
  const checks = [
    { name: 'every request answered 200, every event acknowledged', ok: errors === 0, detail: `${errors} errors` },
    {
      name: 'each server counted what it acknowledged',
      ok: counted.cloaca === acknowledged.cloaca && counted.bare === acknowledged.bare,
      detail: `the cloaca runtime took ${counted.cloaca} events, ${acknowledged.cloaca} were acknowledged; bare ${counted.bare} / ${acknowledged.bare}`,
    },
  ];
  for (const check of checks) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
  const ok = checks.every((c) => c.ok);
  const file = writeResult('load-http', {
    mode,
    ok,
    connections: kConnections,
    window: kWindow,
    comparisons,
    steps,
    checks,
  });
  console.log(`\nwrote ${file}`);
  return ok ? 0 : 1;
}
