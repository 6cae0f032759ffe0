/**
 * The server side of `npm run load -- --http`, run in a child process so the load generator
 * does not share its event loop (`fork`, IPC). `argv[2]` picks it:
 *
 * - `cloaca`: a runtime (passthrough `a` -> `latest` reactor -> a one-node inline graph) behind
 *   `serve()` from `cloaca/http`: POST /v1/health/accumulators/a/inject and the WebSocket
 *   /v1/ws/accumulator/a.
 * - `bare`: the peer, plain `node:http` and `ws` speaking the same protocol without a runtime:
 *   the POST body is read and parsed as JSON and answered with the same JSON; each WebSocket
 *   message is parsed and acknowledged with the same coalesced `{"type":"ack","accepted":N}`.
 *
 * It sends `{ port }` once listening, answers `{ events, cpuUs }` (what reached the runtime, and
 * the process's CPU time so far) to `'stats'`, and exits on `'stop'`.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor } from 'cloaca';
import { serve } from 'cloaca/http';

const kind = process.argv[2];
const send = (message: unknown): void => {
  process.send!(message);
};

async function cloaca(): Promise<{ port: number; events: () => number; close: () => Promise<void> }> {
  const declaration = reactor({ name: 'r', accumulators: ['a'], strategy: 'latest' });
  const graph = await new ComputationGraphBuilder('g', {
    reactor: declaration,
    nodes: { last: (a: unknown) => a },
    graph: { last: { inputs: ['a'] } },
  }).build();
  const runtime = new Runtime({ threads: 1 });
  runtime.register(passthroughAccumulator({ name: 'a' }), declaration, graph);
  await runtime.start();
  const ops = await serve(runtime, { port: 0 });
  return {
    port: ops.port,
    events: () => runtime.stats().accumulators.a!.events,
    close: async () => {
      await ops.close();
      await runtime.shutdown();
    },
  };
}

async function bare(): Promise<{ port: number; events: () => number; close: () => Promise<void> }> {
  let events = 0;
  const answer = JSON.stringify({ accumulator: 'a', delivered: true });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      events++;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length });
      res.end(answer);
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      let accepted = 0;
      let queued = false;
      ws.on('message', (data) => {
        JSON.parse((data as Buffer).toString('utf8'));
        events++;
        accepted++;
        if (queued) return;
        queued = true;
        setImmediate(() => {
          queued = false;
          ws.send(`{"type":"ack","accepted":${accepted}}`);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    events: () => events,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (kind !== 'cloaca' && kind !== 'bare') throw new Error(`http-server: expected 'cloaca' or 'bare', got '${kind}'`);
const target = kind === 'cloaca' ? await cloaca() : await bare();
process.on('message', (message) => {
  if (message === 'stats') {
    const { user, system } = process.cpuUsage();
    send({ events: target.events(), cpuUs: user + system });
  }
  if (message === 'stop') void target.close().then(() => process.exit(0));
});
send({ port: target.port });
