/**
 * A diamond of CPU-heavy nodes: `split` cuts a range in two, `lower` and `upper` count the primes
 * in each half (independent, so they run on two threads at once), `total` joins them.
 */
export interface Range {
  readonly from: number;
  readonly to: number;
}

export function split(range: Range): { lower: Range; upper: Range } {
  const mid = Math.floor((range.from + range.to) / 2);
  return { lower: { from: range.from, to: mid }, upper: { from: mid, to: range.to } };
}

export function lower(halves: { lower: Range }): number {
  return countPrimes(halves.lower);
}

export function upper(halves: { upper: Range }): number {
  return countPrimes(halves.upper);
}

export function total(low: number, high: number): { primes: number } {
  return { primes: low + high };
}

function countPrimes({ from, to }: Range): number {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}
