/**
 * The newest fire records of one reactor, in a ring of fixed size: what `/fires` and the
 * dashboard show. A record is four numbers in one Float64Array (its graph's index, its flags,
 * its duration and its start time, side by side so a push touches one cache line) plus, only
 * for a failure, the error's message. The ring is allocated once and overwritten: keeping the
 * history allocates nothing and never holds on to a firing's inputs or outputs.
 */
import type { FireRecord } from '../reactor/records.js';

/** One fire as the ring keeps it. */
export interface FireSummary {
  readonly reactor: string;
  readonly graph: string;
  readonly ok: boolean;
  /** Why it failed (the error's message), or null. */
  readonly error: string | null;
  /** True for `forceFire` and `fireWith`. */
  readonly manual: boolean;
  /** NaN for a failure that was not timed (outside the sample; see `RuntimeOptions.metrics`). */
  readonly durationMs: number;
  /** Epoch milliseconds when the firing started (when it ended, for a failure that was not timed). */
  readonly firedAt: number;
}

const kOk = 1;
const kManual = 2;
/** Numbers per record: graph index, flags, duration, start time. */
const kStride = 4;

export class FireRing {
  readonly reactor: string;
  /** The ring holds this many records: a power of two, so a slot is an index masked. */
  readonly capacity: number;
  readonly #graphs: readonly string[];
  readonly #mask: number;
  readonly #records: Float64Array;
  /** Error messages of the failed records, by slot (stale for slots holding a success). */
  readonly #errors: Array<string | null>;
  /** Records written so far; the next one goes to slot `#written & #mask`. */
  #written = 0;

  /** Keeps at least `size` records of the reactor's `graphs` (pushed by index). */
  constructor(reactor: string, graphs: readonly string[], size: number) {
    this.reactor = reactor;
    this.#graphs = graphs;
    this.capacity = 2 ** Math.ceil(Math.log2(Math.max(1, size)));
    this.#mask = this.capacity - 1;
    this.#records = new Float64Array(this.capacity * kStride);
    this.#errors = new Array<string | null>(this.capacity).fill(null);
  }

  /** Keeps `record`, a record of graph number `graph` of the reactor. */
  push(record: FireRecord, graph: number): void {
    const slot = this.#written++ & this.#mask;
    const at = slot * kStride;
    const records = this.#records;
    records[at] = graph;
    records[at + 1] = (record.ok ? kOk : 0) | (record.manual ? kManual : 0);
    records[at + 2] = record.durationMs;
    records[at + 3] = record.firedAt;
    if (!record.ok) this.#errors[slot] = messageOf(record.error);
  }

  /** The newest `limit` records, newest first. */
  newest(limit: number): FireSummary[] {
    const count = Math.min(limit, this.#written, this.capacity);
    const records = this.#records;
    const out: FireSummary[] = [];
    for (let k = 1; k <= count; k++) {
      const slot = (this.#written - k) & this.#mask;
      const at = slot * kStride;
      const flags = records[at + 1]!;
      const ok = (flags & kOk) !== 0;
      out.push({
        reactor: this.reactor,
        graph: this.#graphs[records[at]!]!,
        ok,
        error: ok ? null : this.#errors[slot]!,
        manual: (flags & kManual) !== 0,
        durationMs: records[at + 2]!,
        firedAt: records[at + 3]!,
      });
    }
    return out;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
