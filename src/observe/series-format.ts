// The time series' file format (OUT/.gempipe-series.jsonl): one JSON object a line, appended.
// Each run of a job is a segment: a header line {"seg":{…}}, sample lines {"t":…} and, when the
// run ends, {"end":{"at","summary"}}. Counters in a sample are cumulative over the run (a lost
// line loses no count), latencies are the line's interval as a range of histogram buckets, gauges
// are the interval's average (in flight, paused) or the value at the line (rates). Zero or
// absent fields are left out. Lines come every second for a run's first 10 minutes, then
// every 5 s, 15 s (after 1 h), 60 s (after 6 h) and 5 min (after a day): a 7-day run writes
// about 5,200 lines. mergeSamples() joins consecutive lines into one (the report's plots and
// the file's compaction, compactSeriesText(), both use it).
//
// Sample keys: t (ms since the segment's start); records ok, fail, skip, dedup, cache; requests
// req, retry, r429, codes {HTTP code: n}; tokens tin, tout, tthink, tcache, btin, btout (batch);
// inflight (avg), inflightMax; rpm, tpm (rates in force), quotaRpm, quotaTpm (named by the
// server); paused (fraction of the interval), pauses, pausedMs; lat ([first bucket, its count,
// the next's, …], latency-histogram.ts toRange); batch {job state: n}. Cost is not stored: it follows from the tokens
// and the header's prices (cost.ts).

import type { Summary } from '../stats.js';
import type { CostPrices } from './cost.js';
import { addRange, BUCKETS, toRange } from './latency-histogram.js';

export { SERIES_FILE } from '../output/layout.js';
export const SERIES_VERSION = 1;

export interface SegmentHeader {
  v: number;
  /** A run id: start time and pid, unique enough within one output directory. */
  run: string;
  /** ms since epoch. */
  start: number;
  model: string;
  /** online | batch | auto | coordinator … */
  mode: string;
  host?: string;
  pid?: number;
  /** The command line, credentials removed. */
  argv: string[];
  /** Settings worth seeing beside the plots (concurrency, rpm, tpm, …). */
  settings: Record<string, string | number | boolean>;
  /** The prices the run's cost is reckoned at (absent: the model is not in the table). */
  price?: CostPrices;
}

export interface SampleLine {
  t: number;
  ok?: number;
  fail?: number;
  skip?: number;
  dedup?: number;
  cache?: number;
  req?: number;
  retry?: number;
  r429?: number;
  codes?: Record<string, number>;
  tin?: number;
  tout?: number;
  tthink?: number;
  tcache?: number;
  btin?: number;
  btout?: number;
  inflight?: number;
  inflightMax?: number;
  rpm?: number;
  tpm?: number;
  quotaRpm?: number;
  quotaTpm?: number;
  paused?: number;
  pauses?: number;
  pausedMs?: number;
  lat?: number[];
  batch?: Record<string, number>;
}

export interface EndLine {
  /** ms since epoch. */
  at: number;
  summary?: Summary;
}

export type SeriesLine = { seg: SegmentHeader } | SampleLine | { end: EndLine };

/** How often a line is written, by the run's age: [until age ms, every ms]. */
export const RESOLUTION: ReadonlyArray<readonly [number, number]> = [
  [10 * 60_000, 1000],
  [3_600_000, 5000],
  [6 * 3_600_000, 15_000],
  [24 * 3_600_000, 60_000],
  [Infinity, 300_000],
];

export function lineEvery(ageMs: number, table: ReadonlyArray<readonly [number, number]> = RESOLUTION): number {
  for (const [until, every] of table) if (ageMs < until) return every;
  return table[table.length - 1][1];
}

/** Parses one line; undefined for anything that is not a line of this format. */
export function parseSeriesLine(text: string): SeriesLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.seg === 'object' && o.seg !== null && typeof (o.seg as SegmentHeader).start === 'number') return o as { seg: SegmentHeader };
  if (typeof o.end === 'object' && o.end !== null && typeof (o.end as EndLine).at === 'number') return o as { end: EndLine };
  if (typeof o.t === 'number' && Number.isFinite(o.t)) return o as unknown as SampleLine;
  return undefined;
}

const CUMULATIVE = ['ok', 'fail', 'skip', 'dedup', 'cache', 'req', 'retry', 'r429', 'tin', 'tout', 'tthink', 'tcache', 'btin', 'btout', 'pauses', 'pausedMs'] as const;
const AT_LINE = ['rpm', 'tpm', 'quotaRpm', 'quotaTpm'] as const;

/**
 * Joins consecutive samples (oldest first) into one covering their intervals: cumulative fields
 * and rates from the last, latency buckets summed, in-flight and paused averaged by interval
 * length, the maximum kept. `tPrev` is the time of the sample before the first (0 at a start).
 */
export function mergeSamples(list: readonly SampleLine[], tPrev: number): SampleLine {
  const last = list[list.length - 1];
  if (list.length === 1) return last;
  const out: SampleLine = { t: last.t };
  for (const k of CUMULATIVE) if (last[k] !== undefined) out[k] = last[k];
  for (const k of AT_LINE) if (last[k] !== undefined) out[k] = last[k];
  if (last.codes) out.codes = last.codes;
  if (last.batch) out.batch = last.batch;
  let span = 0;
  let inflight = 0;
  let paused = 0;
  let max = 0;
  const lat = new Float64Array(BUCKETS);
  let prev = tPrev;
  for (const s of list) {
    const w = Math.max(0, s.t - prev);
    prev = s.t;
    span += w;
    inflight += (s.inflight ?? 0) * w;
    paused += (s.paused ?? 0) * w;
    max = Math.max(max, s.inflightMax ?? s.inflight ?? 0);
    addRange(lat, s.lat);
  }
  if (span > 0 && inflight > 0) out.inflight = round1(inflight / span);
  if (max > 0) out.inflightMax = max;
  if (span > 0 && paused > 0) out.paused = Math.round((paused / span) * 100) / 100;
  const range = toRange(lat);
  if (range.length > 0) out.lat = range;
  return out;
}

/** At most `maxPoints` samples: groups of consecutive ones merged (mergeSamples). */
export function downsample(samples: readonly SampleLine[], maxPoints: number): SampleLine[] {
  if (samples.length <= maxPoints) return [...samples];
  const k = Math.ceil(samples.length / maxPoints);
  const out: SampleLine[] = [];
  for (let i = 0; i < samples.length; i += k) out.push(mergeSamples(samples.slice(i, i + k), i === 0 ? 0 : samples[i - 1].t));
  return out;
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * The same series in at most `budget` bytes: every segment's samples merged in groups of 2, 4,
 * 8, … until it fits; if even 16 samples a segment do not fit (thousands of runs), the oldest
 * segments keep only their header and end line (the summary). Unparsable lines are dropped.
 */
export function compactSeriesText(text: string, budget: number): string {
  interface Seg { head: string; samples: SampleLine[]; tail: string[] }
  const segs: Seg[] = [];
  for (const raw of text.split('\n')) {
    const l = parseSeriesLine(raw);
    if (!l) continue;
    if ('seg' in l) segs.push({ head: raw, samples: [], tail: [] });
    else if (segs.length === 0) continue;
    else if ('end' in l) segs[segs.length - 1].tail.push(raw);
    else segs[segs.length - 1].samples.push(l);
  }
  const encode = (keep: number, bareUpTo: number) => segs.map((s, i) => [s.head, ...(i < bareUpTo ? [] : downsample(s.samples, keep).map((x) => JSON.stringify(x))), ...s.tail].join('\n') + '\n').join('');
  const most = Math.max(1, ...segs.map((s) => s.samples.length));
  for (let keep = most; keep >= 16; keep = Math.floor(keep / 2)) {
    const out = encode(keep, 0);
    if (Buffer.byteLength(out) <= budget) return out;
  }
  for (let bare = 1; bare <= segs.length; bare++) {
    const out = encode(16, bare);
    if (Buffer.byteLength(out) <= budget || bare === segs.length) return out;
  }
  return '';
}
