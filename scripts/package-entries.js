/**
 * The package's public entry points, read from `exports` in package.json, so that the API report
 * and the API reference follow a new entry point without being told.
 */
import { readFileSync } from 'node:fs';

/**
 * @typedef {object} PackageEntry
 * @property {string} specifier what users import: `cloaca`, `cloaca/worker`
 * @property {string} name a file-name-safe form of the specifier: `cloaca`, `cloaca-worker`
 * @property {string} types the entry's declaration file, relative to the package root
 * @property {string} source the TypeScript source it is built from, relative to the package root
 */

/** @returns {PackageEntry[]} every `exports` subpath that has types, in declaration order */
export function packageEntries() {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object' && target.types)
    .map(([subpath, target]) => {
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      return {
        specifier,
        name: specifier.replaceAll('/', '-'),
        types: target.types.slice(2),
        source: target.types
          .slice(2)
          .replace(/^dist\//, '')
          .replace(/\.d\.ts$/, '.ts'),
      };
    });
}
