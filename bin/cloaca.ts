#!/usr/bin/env node
/**
 * The `cloaca` command.
 *
 *     cloaca serve ./app.js [--port 8080] [--host 127.0.0.1] [--api-key KEY]
 *
 * `serve` imports a module that exports a Runtime (as `default` or `runtime`), or a function
 * returning one (or a promise of one), starts it unless it already is, serves its ops surface
 * (`cloaca/http`) and prints the URL; SIGINT or SIGTERM shuts the runtime down gracefully (drain,
 * persist, close) with `runtime.shutdownOnSignals()`, then closes the server; a second signal
 * exits at once.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Runtime } from 'cloaca';
import { serve } from 'cloaca/http';

const usage = {
  main: `usage: cloaca <command> [options]

commands:
  serve <module>   start the runtime a module exports and serve its ops server and dashboard

Run 'cloaca <command> --help' for a command's options.`,
  serve: `usage: cloaca serve <module> [--port 8080] [--host 127.0.0.1] [--api-key KEY]

Imports <module> (a .js/.mjs file) exporting a Runtime as 'default' or 'runtime', or a function
returning one (or a promise of one); starts it unless it already is; serves its ops surface:
/health, /ready, /metrics, the /v1/ REST and WebSocket paths, and the dashboard at /.
SIGINT or SIGTERM closes the server and shuts the runtime down gracefully; a second signal
exits at once.

options:
  --port N        TCP port (0 picks a free one)                    default 8080
  --host HOST     interface; anything but loopback needs a key     default 127.0.0.1
  --api-key KEY   key for /v1/ paths and WebSockets                default $CLOACA_API_KEY
  -h, --help      this help`,
};

function fail(message: string, text: string): never {
  console.error(`cloaca: ${message}\n\n${text}`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  const topic = command === 'help' ? rest[0] : undefined;
  console.log(topic === 'serve' ? usage.serve : usage.main);
  process.exit(0);
}
if (command !== 'serve') fail(`unknown command '${command}'`, usage.main);

const args = (() => {
  try {
    return parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        'api-key': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), usage.serve);
  }
})();
if (args.values.help) {
  console.log(usage.serve);
  process.exit(0);
}
const [modulePath, ...extra] = args.positionals;
if (modulePath === undefined) fail('serve needs the module that exports a runtime', usage.serve);
if (extra.length > 0) fail(`unexpected arguments: ${extra.join(' ')}`, usage.serve);
const port = Number(args.values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be an integer from 0 to 65535, got '${args.values.port}'`, usage.serve);
const apiKey = args.values['api-key'] ?? process.env.CLOACA_API_KEY;

/** A Runtime, recognised by shape: the module may resolve its own copy of the package. */
function isRuntime(value: unknown): value is Runtime {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Runtime).start === 'function' &&
    typeof (value as Runtime).shutdown === 'function' &&
    typeof (value as Runtime).inspect === 'function'
  );
}

async function load(path: string): Promise<Runtime> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  let exported = module.default ?? module.runtime;
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  if (!isRuntime(exported)) {
    throw new Error(
      `${path} must export a Runtime as 'default' or 'runtime', or a function returning one (exports: ${Object.keys(module).join(', ') || 'none'})`,
    );
  }
  return exported;
}

try {
  const runtime = await load(modulePath);
  if (runtime.state === 'created') await runtime.start();
  const ops = await serve(runtime, { port, host: args.values.host, ...(apiKey === undefined ? {} : { apiKey }) });
  console.log(
    `cloaca: serving ${modulePath} at ${ops.url} (dashboard ${ops.url}/${apiKey === undefined ? '' : '?token=<key>'})`,
  );
  // The runtime's own handlers drain, persist and close it (a second signal exits at once); the
  // server answers meanwhile (/ready says 503 while it stops) and closes once the runtime is done.
  runtime.on('state', (state) => {
    if (state !== 'stopped') return;
    void ops.close().finally(() => {
      console.log('cloaca: stopped');
      process.exit();
    });
  });
  runtime.shutdownOnSignals(['SIGINT', 'SIGTERM'], { exit: false });
} catch (error) {
  console.error(`cloaca: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
