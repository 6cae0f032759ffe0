/**
 * The child side of `child.ts`: report lines go to the file named by CLOACA_TEST_REPORT with
 * fs.writeSync, so a line is in the file before the next statement runs and a SIGKILL cannot
 * lose it (a pipe read by a lagging parent can).
 */
import { openSync, writeSync } from 'node:fs';

const path = process.env.CLOACA_TEST_REPORT;
if (!path) throw new Error('CLOACA_TEST_REPORT is not set: run this fixture through test/support/child.ts');
const fd = openSync(path, 'a');

/** Appends one line to the report file. */
export function report(line) {
  writeSync(fd, `${line}\n`);
}
