/**
 * Child processes for crash and signal tests. The child reports through `report.mjs` (lines
 * appended to a file with fs.writeSync); the parent awaits lines with fs.watch and reads the
 * whole file once the child is gone, so nothing reported before a SIGKILL is lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export interface ReportingChild {
  readonly proc: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every line reported so far. */
  lines(): string[];
  /** Resolves at the first reported line that matches (already reported ones count); rejects if the child exits first. */
  line(match: (line: string) => boolean): Promise<string>;
  /** What the child wrote to stderr. */
  stderr(): string;
}

/** Runs `node script ...args` with a report file of its own; `env` is added to the environment. */
export function spawnReporting(
  script: string,
  args: readonly string[] = [],
  options: { env?: Record<string, string>; command?: readonly string[] } = {},
): ReportingChild {
  const dir = mkdtempSync(join(tmpdir(), 'cloaca-child-'));
  const file = join(dir, 'report.txt');
  writeFileSync(file, '');
  const command = options.command ?? [process.execPath];
  const proc = spawn(command[0]!, [...command.slice(1), script, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env, CLOACA_TEST_REPORT: file },
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
  let waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const check = (): void => {
    if (waiters.length === 0) return;
    const all = lines();
    waiters = waiters.filter((w) => {
      const found = all.find(w.match);
      if (found === undefined) return true;
      w.resolve(found);
      return false;
    });
  };
  const watcher = watch(file, check);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      check();
      watcher.close();
      resolve({ code, signal });
    });
  });
  dirs.push(dir);
  return {
    proc,
    exited,
    lines,
    stderr: () => stderr,
    line(match) {
      return new Promise<string>((resolve, reject) => {
        waiters.push({ match, resolve });
        check();
        exited.then(({ code, signal }) =>
          reject(new Error(`child exited (${code ?? signal}) first; stderr:\n${stderr}`)),
        );
      });
    },
  };
}
