/**
 * What structured clone loses of a value ({@link ValueExtras}) and the sink a check fills with
 * it: the sender lists the extras beside the value, the receiver puts them back.
 */
import type { ErrorShape } from './error-shape.js';

/**
 * What structured clone loses of a value, listed by the sender and sent in the same message as
 * the value: clone keeps identity within one message, so each entry is the very object inside
 * the received value and can be fixed in place, wherever it sits (an object, a Map key...).
 */
export interface ValueExtras {
  /** Buffers, which arrive as bare Uint8Arrays. */
  readonly buffers?: readonly Uint8Array[];
  /** Errors, with what they lose. */
  readonly errors?: ReadonlyArray<readonly [error: Error, shape: ErrorShape]>;
  /** Objects that were frozen. */
  readonly frozen?: readonly object[];
}

/** What {@link inspectValue} collects besides checking: extras and buffers to transfer. */
export class ValueSink {
  buffers: Uint8Array[] | undefined = undefined;
  errors: Array<readonly [Error, ErrorShape]> | undefined = undefined;
  frozen: object[] | undefined = undefined;
  /** Buffers marked by `move()` (in `marked`) found in the value: to transfer instead of copy. */
  readonly transfers: Set<ArrayBuffer> | null;
  readonly marked: WeakSet<object> | null;
  /**
   * Objects of the other values that travel in the same message (a batch of units): clone keeps
   * identity across a whole message, so a value sharing one of them would arrive shared with
   * another unit's. When set, the walk adds what it visits and sets {@link overlaps} when it
   * meets an object already there; the caller then sends a copy instead.
   */
  across: Set<object> | null = null;
  overlaps = false;

  constructor(marked: WeakSet<object> | null = null) {
    this.marked = marked;
    this.transfers = marked === null ? null : new Set();
  }

  /** The extras to send beside the value, or undefined when clone loses nothing of it. */
  extras(): ValueExtras | undefined {
    if (this.buffers === undefined && this.errors === undefined && this.frozen === undefined) return undefined;
    const extras: { -readonly [K in keyof ValueExtras]: ValueExtras[K] } = {};
    if (this.buffers !== undefined) extras.buffers = this.buffers;
    if (this.errors !== undefined) extras.errors = this.errors;
    if (this.frozen !== undefined) extras.frozen = this.frozen;
    return extras;
  }
}
