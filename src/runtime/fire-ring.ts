/**
 * The newest fire records of one reactor, in a ring of fixed size: what `/fires` and the
 * dashboard show. Slots are allocated once and overwritten, so keeping the history costs a few
 * field writes per record and never holds on to a firing's inputs or outputs.
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

interface Slot {
  graph: string;
  ok: boolean;
  error: string | null;
  manual: boolean;
  durationMs: number;
  firedAt: number;
}

export class FireRing {
  readonly reactor: string;
  readonly #slots: Slot[];
  /** Records written so far; the next one goes to `#written % size`. */
  #written = 0;

  constructor(reactor: string, size: number) {
    this.reactor = reactor;
    this.#slots = Array.from({ length: size }, () => ({
      graph: '',
      ok: true,
      error: null,
      manual: false,
      durationMs: 0,
      firedAt: 0,
    }));
  }

  /** Records held (at most the ring's size). */
  get size(): number {
    return Math.min(this.#written, this.#slots.length);
  }

  push(record: FireRecord): void {
    const slot = this.#slots[this.#written++ % this.#slots.length]!;
    slot.graph = record.graph;
    slot.ok = record.ok;
    slot.error = record.ok ? null : messageOf(record.error);
    slot.manual = record.manual;
    slot.durationMs = record.durationMs;
    slot.firedAt = record.firedAt;
  }

  /** The newest `limit` records, newest first. */
  newest(limit: number): FireSummary[] {
    const count = Math.min(limit, this.size);
    const out: FireSummary[] = [];
    for (let k = 1; k <= count; k++) {
      const slot = this.#slots[(this.#written - k) % this.#slots.length]!;
      out.push({ reactor: this.reactor, ...slot });
    }
    return out;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
