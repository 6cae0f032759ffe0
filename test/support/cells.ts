/**
 * Shared memory between a test and the node functions it runs, on whatever thread they run: a
 * SharedArrayBuffer passed in a graph's input keeps sharing its memory after structured clone.
 * Waiting on a cell is an event (Atomics.notify), not a sleep.
 */

/** `Atomics.waitAsync` (Node >= 16), which the ES2023 lib the project compiles against lacks. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(view: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

/** A fresh block of four Int32 cells, all 0. */
export function cells(): { sab: SharedArrayBuffer; view: Int32Array } {
  const sab = new SharedArrayBuffer(16);
  return { sab, view: new Int32Array(sab) };
}

/** Resolves once cell `index` holds something other than `from`, with what it holds. */
export async function changed(view: Int32Array, index: number, from = 0): Promise<number> {
  while (Atomics.load(view, index) === from) await waitAsync(view, index, from).value;
  return Atomics.load(view, index);
}

/** Stores `value` in cell `index` and wakes whoever waits on it. */
export function signal(view: Int32Array, index: number, value = 1): void {
  Atomics.store(view, index, value);
  Atomics.notify(view, index);
}
