/** The registered names the ops server checks on every ingest request. */
import type { Runtime } from '../runtime/runtime.js';

/**
 * The runtime's accumulator and reactor names, read once: names are fixed once registered, and
 * the ingest paths ask on every request. A name not found re-reads them (registrations made
 * after `serve`, before `start`).
 */
export class Names {
  readonly #runtime: Runtime;
  #accumulators = new Set<string>();
  #reactors = new Set<string>();

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  has(kind: 'accumulator' | 'reactor', name: string): boolean {
    const set = (): Set<string> => (kind === 'accumulator' ? this.#accumulators : this.#reactors);
    if (set().has(name)) return true;
    const { accumulators } = this.#runtime.stats();
    this.#accumulators = new Set(Object.keys(accumulators));
    this.#reactors = new Set(Object.keys(this.#runtime.stats().reactors));
    return set().has(name);
  }
}
