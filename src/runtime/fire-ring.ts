/**
 * The newest fire records of one reactor, in a ring of fixed size: what `/fires` and the
 * dashboard show. The ring is columns of typed arrays (and two arrays for the graph name and
 * the error), allocated once and overwritten, so keeping the history costs a few stores per
 * record, allocates nothing, and never holds on to a firing's inputs or outputs.
 */
import type { FireRecord } from '../reactor/reactor.js';

/** One fire as the ring keeps it. */
export interface FireSummary {
  readonly reactor: string;
  readonly graph: string;
  readonly ok: boolean;
  /** Why it failed (the error's message), or null. */
  readonly error: string | null;
  /** True for `forceFire` and `fireWith`. */
  readonly manual: boolean;
  readonly durationMs: number;
  /** Epoch milliseconds when the firing started. */
  readonly firedAt: number;
}

const kOk = 1;
const kManual = 2;

export class FireRing {
  readonly reactor: string;
  /** The ring holds this many records: a power of two, so a slot is an index masked. */
  readonly capacity: number;
  readonly #mask: number;
  readonly #graph: string[];
  readonly #error: Array<string | null>;
  readonly #flags: Uint8Array;
  readonly #durationMs: Float64Array;
  readonly #firedAt: Float64Array;
  /** Records written so far; the next one goes to slot `#written & #mask`. */
  #written = 0;

  /** Keeps at least `size` records. */
  constructor(reactor: string, size: number) {
    this.reactor = reactor;
    this.capacity = 2 ** Math.ceil(Math.log2(Math.max(1, size)));
    this.#mask = this.capacity - 1;
    this.#graph = new Array<string>(this.capacity).fill('');
    this.#error = new Array<string | null>(this.capacity).fill(null);
    this.#flags = new Uint8Array(this.capacity);
    this.#durationMs = new Float64Array(this.capacity);
    this.#firedAt = new Float64Array(this.capacity);
  }

  push(record: FireRecord): void {
    const i = this.#written++ & this.#mask;
    this.#graph[i] = record.graph;
    this.#error[i] = record.ok ? null : messageOf(record.error);
    this.#flags[i] = (record.ok ? kOk : 0) | (record.manual ? kManual : 0);
    this.#durationMs[i] = record.durationMs;
    this.#firedAt[i] = record.firedAt;
  }

  /** The newest `limit` records, newest first. */
  newest(limit: number): FireSummary[] {
    const count = Math.min(limit, this.#written, this.capacity);
    const out: FireSummary[] = [];
    for (let k = 1; k <= count; k++) {
      const i = (this.#written - k) & this.#mask;
      out.push({
        reactor: this.reactor,
        graph: this.#graph[i]!,
        ok: (this.#flags[i]! & kOk) !== 0,
        error: this.#error[i]!,
        manual: (this.#flags[i]! & kManual) !== 0,
        durationMs: this.#durationMs[i]!,
        firedAt: this.#firedAt[i]!,
      });
    }
    return out;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
