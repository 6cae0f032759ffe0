/**
 * The file Piscina loads in each pool thread. Piscina loads its task file with `require()`
 * first, and on Node 20 a thread terminated while `require()` is loading an ES module aborts the
 * whole process (a V8 check fails in the loader): a pool closed, or a thread replaced, while a
 * thread was still starting would take the application down. So this entry is CommonJS and loads
 * the worker (`node-worker.ts`, an ES module) with `import()`, which a termination only rejects.
 * Piscina awaits an exported promise before it marks the thread ready, so tasks reach `handle`
 * directly, with no wrapper in between.
 */
export = import('./node-worker.js').then((worker) => worker.handle);
