// createLatencyHistogram(): request latencies in fixed log buckets — four per doubling (each
// bucket's upper bound is 2^(i/4) ms, so a percentile read from it is within 19%), from 1 ms to
// 2^20 ms (17.5 min), plus one overflow bucket. observe() is one log2 and an add: cheap enough
// for every attempt. The time series stores a line's bucket deltas as a range; Prometheus gets
// every fourth bound (16 ms, 32 ms, … 262 s) as its `le` buckets, from the same counts.

/** Buckets per doubling. */
export const PER_DOUBLING = 4;
/** The last finite bucket: 2^(MAX_INDEX / 4) ms = 2^20 ms. */
export const MAX_INDEX = 20 * PER_DOUBLING;
/** Finite buckets 0..MAX_INDEX plus the overflow bucket. */
export const BUCKETS = MAX_INDEX + 2;

/** 2^-e for e = 0..20: a multiply, where 2 ** e is a Math.pow call. */
const INV_POW2 = Float64Array.from({ length: 21 }, (_, e) => 2 ** -e);
const Q1 = 2 ** 0.25;
const Q2 = 2 ** 0.5;
const Q3 = 2 ** 0.75;

/**
 * The bucket a latency falls in: bucket i holds (2^((i-1)/4), 2^(i/4)] ms; bucket 0 holds ≤ 1 ms.
 * The doubling from clz32 and three comparisons: a third of Math.log2's cost, on every attempt.
 */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  if (ms > 1_048_576) return MAX_INDEX + 1; // 2^20
  const e = 31 - Math.clz32(ms); // floor(log2(ms)) for 1 <= ms < 2^31
  const f = ms * INV_POW2[e]; // in [1, 2)
  return PER_DOUBLING * e + (f === 1 ? 0 : f <= Q1 ? 1 : f <= Q2 ? 2 : f <= Q3 ? 3 : 4);
}

/** A bucket's upper bound in ms (Infinity for the overflow bucket). */
export function upperMs(i: number): number {
  return i > MAX_INDEX ? Infinity : 2 ** (i / PER_DOUBLING);
}

/** A bucket's lower bound in ms. */
export function lowerMs(i: number): number {
  return i === 0 ? 0 : 2 ** ((i - 1) / PER_DOUBLING);
}

export interface LatencyHistogram {
  /** Cumulative counts per bucket (a live view: copy what you keep). */
  readonly counts: Float64Array;
  /** Observations so far. */
  count: number;
  /** Sum of the observed latencies, ms. */
  sumMs: number;
  observe(ms: number): void;
}

export function createLatencyHistogram(): LatencyHistogram {
  const counts = new Float64Array(BUCKETS);
  const h: LatencyHistogram = {
    counts,
    count: 0,
    sumMs: 0,
    observe(ms: number) {
      counts[bucketOf(ms)]++;
      h.count++;
      h.sumMs += ms > 0 ? ms : 0;
    },
  };
  return h;
}

/**
 * The q-quantile (0..1) of bucket counts, interpolated linearly inside its bucket; undefined
 * when there are none. The overflow bucket reads as its lower bound.
 */
export function quantile(counts: ArrayLike<number>, q: number): number | undefined {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  if (n === 0) return undefined;
  const rank = q * n;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    if (seen + c >= rank) {
      const lo = lowerMs(i);
      const hi = upperMs(i);
      if (!Number.isFinite(hi)) return lo;
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - seen) / c));
    }
    seen += c;
  }
  return lowerMs(counts.length - 1);
}

/**
 * Compact form for a JSON line: [first bucket, its count, the next bucket's, …, the last
 * non-zero bucket's]; [] when all are zero. Latencies bunch into neighbouring buckets, so a range
 * is about half the size of index/count pairs.
 */
export function toRange(counts: ArrayLike<number>): number[] {
  let lo = 0;
  while (lo < counts.length && counts[lo] === 0) lo++;
  if (lo === counts.length) return [];
  let hi = counts.length - 1;
  while (counts[hi] === 0) hi--;
  const out = [lo];
  for (let i = lo; i <= hi; i++) out.push(counts[i]);
  return out;
}

/** Adds a range (toRange) into dense counts, ignoring buckets out of range (a newer format). */
export function addRange(into: Float64Array, range: readonly number[] | undefined): void {
  if (!range || range.length < 2) return;
  const lo = range[0];
  if (!Number.isInteger(lo) || lo < 0) return;
  for (let k = 1; k < range.length && lo + k - 1 < into.length; k++) into[lo + k - 1] += range[k];
}
