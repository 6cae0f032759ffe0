/**
 * `runtime.shutdownOnSignals()`: a graceful stop on SIGINT/SIGTERM for services.
 *
 * The first signal shuts the runtime down (accumulators stopped, the last batch delivered,
 * reactors drained, the checkpoint committed and closed, the pool closed), then removes the
 * handlers and exits with `process.exitCode` (0 unless the application set one) once the
 * callbacks waiting on the shutdown have run. A second signal during that shutdown exits at once
 * with the conventional 128 + signal number. Nothing is installed unless this is called.
 */
import { constants } from 'node:os';

/** Options of `runtime.shutdownOnSignals()`. */
export interface ShutdownOnSignalsOptions {
  /**
   * Exit the process once the shutdown has finished. With `false` the handlers only shut the
   * runtime down, and the application decides when to exit.
   * @default true
   */
  readonly exit?: boolean;
}

/** Installs the handlers; returns a function that removes them. */
export function installSignalHandlers(
  signals: readonly NodeJS.Signals[],
  shutdown: () => Promise<void>,
  log: (message: string) => void,
  options: ShutdownOnSignalsOptions,
): () => void {
  let stopping = false;
  const remove = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: exiting without waiting for the shutdown`);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    stopping = true;
    log(`${signal}: shutting down (drain, persist, close); send it again to exit at once`);
    shutdown().then(
      () => {
        remove();
        if (options.exit !== false) setImmediate(() => process.exit());
      },
      (error: unknown) => {
        remove();
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
        if (options.exit !== false) setImmediate(() => process.exit());
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return remove;
}
