/**
 * The layer rule of cloaca's source, checked by `npm run lint` (part of `npm test`).
 *
 *   entry points   src/index.ts, src/worker.ts, src/http.ts   (import anything)
 *   http           src/http/          -> runtime and below
 *   runtime        src/runtime/       -> graph, reactor, accumulators, exec, model
 *   components     src/graph/, src/reactor/, src/accumulators/  -> exec, model
 *                  (reactor may also use graph)
 *   executors      src/exec/, workers/ -> model
 *   model          src/model/         -> nothing of cloaca (pure: no threads, no I/O)
 *
 * An import that points up, or a cycle, fails the check.
 */
const layer = (name, allowed) => ({
  name: `${name}-imports-only-below`,
  severity: 'error',
  comment: `${name} may import only: ${allowed.join(', ')}`,
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: allowed.map((a) => `^src/${a}/`) },
});

module.exports = {
  forbidden: [
    layer('model', ['model']),
    layer('exec', ['exec', 'model']),
    layer('graph', ['graph', 'exec', 'model']),
    layer('accumulators', ['accumulators', 'exec', 'model']),
    layer('reactor', ['reactor', 'graph', 'exec', 'model']),
    layer('runtime', ['runtime', 'graph', 'reactor', 'accumulators', 'exec', 'model']),
    layer('http', ['http', 'runtime', 'graph', 'reactor', 'accumulators', 'exec', 'model']),
    {
      name: 'worker-entry-imports-executors-only',
      severity: 'error',
      comment:
        'src/worker.ts is allowed: the worker loads the cloaca/worker entry (a barrel over exec) before node modules require it',
      from: { path: '^workers/' },
      to: { path: '^src/', pathNot: ['^src/exec/', '^src/model/', '^src/worker\\.ts$'] },
    },
    {
      name: 'model-is-pure',
      severity: 'error',
      comment: 'the model layer uses no thread, file, network or npm package',
      from: { path: '^src/model/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'core'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
