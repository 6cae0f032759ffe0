/**
 * The dashboard's files: one page and its script, plain HTML and JavaScript with no build step
 * and no external URL (it works offline). They ship in the package's `dashboard/` folder and
 * are read once, when the server starts.
 */
import { readFileSync } from 'node:fs';

const kFolder = new URL('../../../dashboard/', import.meta.url);

/** A static file the server answers with. */
export interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
}

/** The dashboard's files by path. */
export function dashboardFiles(): ReadonlyMap<string, StaticFile> {
  const read = (name: string) => readFileSync(new URL(name, kFolder));
  return new Map([
    ['/', { type: 'text/html; charset=utf-8', body: read('index.html') }],
    ['/dashboard.js', { type: 'text/javascript; charset=utf-8', body: read('dashboard.js') }],
  ]);
}
