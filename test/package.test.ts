/**
 * What `npm pack` ships: exactly the built entry points, the pool's worker, the type declarations,
 * README, LICENSE and CHANGELOG; and the tarball, installed into a new project, works there: ESM
 * imports, CommonJS `require`, a graph on the pool, and type declarations that compile on their own.
 *
 * The install skips install scripts: better-sqlite3 would compile its native addon (about a
 * minute), which only checkpoints load, and nothing here uses one.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

let dir: string;
let app: string;
let packed: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cloaca-pack-'));
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: root,
  });
  const [manifest] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = manifest!.files.map((f) => f.path).sort();
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await exec(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', join(dir, manifest!.filename)],
    { cwd: app },
  );
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a file of the test project with the Node running the tests; returns its stdout. */
async function run(file: string, source: string): Promise<string> {
  writeFileSync(join(app, file), source);
  const { stdout } = await exec(process.execPath, [file], { cwd: app });
  return stdout;
}

// npm, child processes and a compiler run: on a busy machine that takes far longer than usual.
describe('npm pack', { timeout: 120_000 }, () => {
  it('ships the compiled source with its declarations, the worker entry, the bin scripts, the dashboard, README, LICENSE, CHANGELOG and nothing else', () => {
    const sources = (readdirSync(join(root, 'src'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `dist/src/${f.slice(0, -3)}`);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      bin?: string | Record<string, string>;
    };
    const bins = Object.values(typeof pkg.bin === 'string' ? { bin: pkg.bin } : (pkg.bin ?? {}));
    // A bin script may also be one of the compiled sources: each file is listed once.
    const expected = [
      ...new Set([
        ...sources.flatMap((f) => [`${f}.js`, `${f}.d.ts`]),
        ...bins.map((bin) => bin.replace(/^\.\//, '')),
        'dist/workers/node-worker.js',
        'dist/workers/piscina-entry.cjs',
        ...readdirSync(join(root, 'dashboard')).map((f) => `dashboard/${f}`),
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
      ]),
    ].sort();
    expect(packed).toStrictEqual(expected);
  });

  it('installs into a new project where cloaca and cloaca/worker import and a graph runs on the pool', async () => {
    writeFileSync(join(app, 'nodes.mjs'), 'export const double = (x) => x * 2;\nexport const inc = (x) => x + 1;\n');
    const out = await run(
      'main.mjs',
      `import { ComputationGraphBuilder } from 'cloaca';
import { host } from 'cloaca/worker';
const graph = await new ComputationGraphBuilder('g', {
  nodes: new URL('./nodes.mjs', import.meta.url),
  graph: { double: { next: 'inc' }, inc: {} },
  executor: 'pool',
  fuse: false,
}).build();
const result = await graph.execute(20, { trace: true });
await graph.close();
console.log(JSON.stringify({ outputs: result.outputs, threads: result.trace.map((t) => t.threadId), host: typeof host.push }));
`,
    );
    const { outputs, threads, host } = JSON.parse(out);
    expect(outputs).toStrictEqual({ inc: 41 });
    expect(threads).toHaveLength(2);
    for (const id of threads) expect(id).toBeGreaterThan(0); // a worker thread, not the main thread (0)
    expect(host).toBe('function');
  });

  it('can be required from CommonJS (require of an ES module, Node 20.19+)', async () => {
    const out = await run(
      'main.cjs',
      `const { ComputationGraphBuilder } = require('cloaca');
const { host } = require('cloaca/worker');
new ComputationGraphBuilder('g', { nodes: { one: () => 1 }, graph: { one: {} }, executor: 'inline' })
  .build()
  .then((graph) => graph.execute())
  .then((result) => console.log(JSON.stringify({ outputs: result.outputs, host: typeof host.log })));
`,
    );
    expect(JSON.parse(out)).toStrictEqual({ outputs: { one: 1 }, host: 'function' });
  });

  it('ships type declarations that compile in a strict project without skipLibCheck', async () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { ComputationGraphBuilder, Runtime, passthroughAccumulator, type GraphResult } from 'cloaca';
import { host } from 'cloaca/worker';
const graph = await new ComputationGraphBuilder('g', { nodes: { a: (x: number) => x + 1 }, graph: { a: {} } }).build();
const result: GraphResult = await graph.execute(1);
new Runtime({ threads: 1 }).register(passthroughAccumulator({ name: 'in' }));
export const pushed: Promise<void> = host.push('in', result.outputs);
`,
    );
    const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--types', 'node'];
    // @types/node comes from this repository; the test project installs no development tools.
    args.push('--typeRoots', join(root, 'node_modules/@types'), 'check.ts');
    const errors = await exec(process.execPath, [tsc, ...args], { cwd: app }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(errors).toBe('');
  });
});
