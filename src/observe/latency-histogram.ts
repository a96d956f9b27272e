// createLatencyHistogram(): request latencies in fixed log buckets — four per doubling (each
// bucket's upper bound is 2^(i/4) ms, so a percentile read from it is within 19%), from 1 ms to
// 2^20 ms (17.5 min), plus one overflow bucket. observe() is one log2 and an add: cheap enough
// for every attempt. The time series stores a tick's bucket deltas sparsely; Prometheus gets
// every fourth bound (16 ms, 32 ms, … 262 s) as its `le` buckets, from the same counts.

/** Buckets per doubling. */
export const PER_DOUBLING = 4;
/** The last finite bucket: 2^(MAX_INDEX / 4) ms = 2^20 ms. */
export const MAX_INDEX = 20 * PER_DOUBLING;
/** Finite buckets 0..MAX_INDEX plus the overflow bucket. */
export const BUCKETS = MAX_INDEX + 2;

/** The bucket a latency falls in: bucket i holds (2^((i-1)/4), 2^(i/4)] ms; bucket 0 holds ≤ 1 ms. */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  const i = Math.ceil(Math.log2(ms) * PER_DOUBLING - 1e-9);
  return i > MAX_INDEX ? MAX_INDEX + 1 : i;
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

/** Sparse form for a JSON line: [index, count, index, count, …] of the non-zero buckets. */
export function toSparse(counts: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) out.push(i, counts[i]);
  return out;
}

/** Adds a sparse list into dense counts (ignoring indices out of range: a newer format). */
export function addSparse(into: Float64Array, sparse: readonly number[] | undefined): void {
  if (!sparse) return;
  for (let k = 0; k + 1 < sparse.length; k += 2) {
    const i = sparse[k];
    if (Number.isInteger(i) && i >= 0 && i < into.length) into[i] += sparse[k + 1];
  }
}
