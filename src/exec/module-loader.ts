/**
 * Loads node modules by URL, on the main thread (inline executor) and in workers alike.
 *
 * `.js`/`.mjs`/`.cjs` modules are imported natively. Node 20 cannot strip TypeScript types, and
 * `--import tsx` does not reach `import()` inside worker threads there, so `.ts`/`.mts` modules go
 * through tsx's `tsImport`, loaded on first use: about 150 ms and 25 MiB per thread, paid only by
 * graphs whose nodes are TypeScript. tsx is an optional peer dependency.
 */
import { ConfigurationError } from '../model/errors.js';
import type { NodeFunction } from '../model/topology.js';

const kTypeScript = /\.(ts|mts|cts)$/;

/** Imports the module at `href` (a file: URL). */
export async function importNodeModule(href: string): Promise<Record<string, unknown>> {
  if (!kTypeScript.test(new URL(href).pathname)) return import(href) as Promise<Record<string, unknown>>;
  let api: typeof import('tsx/esm/api');
  try {
    api = await import('tsx/esm/api');
  } catch (error) {
    throw new ConfigurationError(
      'nodes',
      href,
      `the node module ${href} is TypeScript, which needs the 'tsx' package: npm install tsx`,
      {
        cause: error,
      },
    );
  }
  return (await api.tsImport(href, import.meta.url)) as Record<string, unknown>;
}

/**
 * The functions a module offers as nodes: its function exports, plus the functions of a default
 * export that is a plain object (`export default { a() {}, b() {} }`). Named exports win.
 */
export function nodeFunctions(module: Record<string, unknown>): Map<string, NodeFunction> {
  const table = new Map<string, NodeFunction>();
  const fallback = module.default;
  if (typeof fallback === 'object' && fallback !== null) {
    for (const [name, value] of Object.entries(fallback)) {
      if (typeof value === 'function') table.set(name, value as NodeFunction);
    }
  }
  for (const [name, value] of Object.entries(module)) {
    if (name !== 'default' && typeof value === 'function') table.set(name, value as NodeFunction);
  }
  return table;
}
