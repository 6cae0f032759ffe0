/**
 * The API reference, generated from the TSDoc of the public entry points into `docs/api/` by
 * `npm run docs` (not committed: regenerate it). Warnings (a public signature naming a type that is
 * not exported, a broken `{@link}`, an undocumented export) are printed, not fatal.
 */
import { packageEntries } from './scripts/package-entries.js';

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'cloaca',
  entryPoints: packageEntries().map((entry) => entry.source),
  tsconfig: 'tsconfig.build.json',
  out: 'docs/api',
  readme: 'none',
  excludeInternal: true,
  excludePrivate: true,
  sort: ['kind', 'instance-first', 'alphabetical-ignoring-documents'],
  validation: { notExported: true, invalidLink: true, rewrittenLink: true, notDocumented: true },
  requiredToBeDocumented: ['Class', 'Function', 'Interface', 'TypeAlias', 'Variable', 'Method', 'Enum'],
};
