// buildReportData(): the series, the failures digest and the runs' summaries turned into what
// the report shows — pure, so the HTML page, the text fallback and the tests read one model.
// The runs of a resumed job are laid one after another on a "job time" axis (each run's own
// time, a small gap between runs, a marker at each start). Each run's samples are merged down
// (mergeSamples) to at most `maxPoints` over the job before rates and percentiles are worked
// out, so a point's value is exact for the interval it covers, however long the run.

import { costOf, type Cost, type CostCounters } from './cost.js';
import type { FailureDigest } from './failures-digest.js';
import { addRange, BUCKETS, MAX_INDEX, quantile, upperMs } from './latency-histogram.js';
import { downsample, type SampleLine } from './series-format.js';
import type { Series } from './series-reader.js';
import { FAILURES_FILE, SERIES_FILE } from '../output/layout.js';

export type { BuildOptions, ChartData, ChartSeries, ModelCost, ReportData, RunRow } from './report-types.js';
import type { BuildOptions, ChartData, ChartSeries, ModelCost, ReportData, RunRow } from './report-types.js';

const ZERO: CostCounters = { tokensIn: 0, tokensOut: 0, tokensCached: 0, batchTokensIn: 0, batchTokensOut: 0, succeeded: 0, deduped: 0, cached: 0 };

function countersOf(s: SampleLine | undefined): CostCounters {
  if (!s) return ZERO;
  return { tokensIn: s.tin ?? 0, tokensOut: s.tout ?? 0, tokensCached: s.tcache ?? 0, batchTokensIn: s.btin ?? 0, batchTokensOut: s.btout ?? 0, succeeded: s.ok ?? 0, deduped: s.dedup ?? 0, cached: s.cache ?? 0 };
}

function addCost(a: Cost | undefined, b: Cost | undefined): Cost | undefined {
  if (!a) return b;
  if (!b) return a;
  return { usd: a.usd + b.usd, onlineUsd: a.onlineUsd + b.onlineUsd, batchUsd: a.batchUsd + b.batchUsd, savedBatchUsd: a.savedBatchUsd + b.savedBatchUsd, savedCachedTokensUsd: a.savedCachedTokensUsd + b.savedCachedTokensUsd, savedReuseUsd: a.savedReuseUsd + b.savedReuseUsd };
}

export function savedOf(c: Cost): number {
  return c.savedBatchUsd + c.savedCachedTokensUsd + c.savedReuseUsd;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function buildReportData(dir: string, series: Series, failures: FailureDigest, options: BuildOptions = {}): ReportData {
  const maxPoints = Math.max(10, options.maxPoints ?? 2000);
  const segs = series.segments;
  const notes: string[] = [];
  if (segs.length === 0) notes.push(`No time series in this directory: runs record one (${SERIES_FILE}) from this version on.`);
  if (series.tornTail) notes.push('The series ends in a torn line (a process killed mid-write); it was skipped.');
  if (series.skippedLines > (series.tornTail ? 1 : 0)) notes.push(`${series.skippedLines} line(s) of the series could not be read and were skipped.`);
  if (failures.unreadable > 0) notes.push(`${failures.unreadable} line(s) of ${FAILURES_FILE} are not failure records (a torn tail is repaired by the next run).`);

  const durations = segs.map((s) => Math.max(s.samples.at(-1)?.t ?? 0, s.end ? s.end.at - s.header.start : 0) / 1000);
  const jobSec = durations.reduce((a, b) => a + b, 0);
  const gap = Math.max(1, jobSec * 0.01);
  const totalSamples = segs.reduce((a, s) => a + s.samples.length, 0);

  const runs: RunRow[] = [];
  const x: number[] = [];
  const cols: Record<string, Array<number | null>> = {};
  const COLS = ['recPerSec', 'reqPerSec', 'reqPerMin', 'rpm', 'quotaRpm', 'r429PerMin', 'retryPerMin', 'pausedPct', 'inflight', 'inflightMax', 'p50', 'p90', 'p99', 'tin', 'tout', 'tthink', 'tcache', 'usd', 'saved'];
  for (const c of COLS) cols[c] = [];
  const batchStates = new Set<string>();
  for (const s of segs) for (const l of s.samples) for (const k of Object.keys(l.batch ?? {})) batchStates.add(k);
  const batchCols = new Map<string, Array<number | null>>([...batchStates].sort().map((k) => [k, []]));
  const push = (xv: number, v: Record<string, number | null | undefined> | null, batch?: Record<string, number>) => {
    x.push(xv);
    for (const c of COLS) cols[c].push(v ? (v[c] ?? null) : null);
    for (const [k, arr] of batchCols) arr.push(v ? (batch?.[k] ?? 0) : null);
  };
  const wholeLat = new Float64Array(BUCKETS);
  const byModel = new Map<string, ModelCost>();
  let offset = 0;
  let jobCost: Cost | undefined;
  let tokensBefore = { tin: 0, tout: 0, tthink: 0, tcache: 0 };
  let costBefore = 0;
  let savedBefore = 0;

  segs.forEach((seg, i) => {
    const h = seg.header;
    const last = seg.samples.at(-1);
    const sum = seg.end?.summary;
    const cost = h.price ? costOf(countersOf(last), h.price) : undefined;
    if (i > 0) {
      offset += gap;
      push(offset - gap / 2, null); // a break in every line between two runs
    }
    const x0 = offset;
    const budget = totalSamples > 0 ? Math.max(2, Math.floor((maxPoints * seg.samples.length) / totalSamples)) : 2;
    const pts = downsample(seg.samples, budget);
    let prev: SampleLine = { t: 0 };
    for (const p of pts) {
      const dt = Math.max(1e-3, (p.t - prev.t) / 1000);
      const d = (k: keyof SampleLine) => Math.max(0, ((p[k] as number | undefined) ?? 0) - ((prev[k] as number | undefined) ?? 0));
      const lat = new Float64Array(BUCKETS);
      addRange(lat, p.lat);
      addRange(wholeLat, p.lat);
      const c = h.price ? costOf(countersOf(p), h.price) : undefined;
      push(offset + p.t / 1000, {
        recPerSec: r1((d('ok') + d('fail')) / dt),
        reqPerSec: r1(d('req') / dt),
        reqPerMin: Math.round((d('req') / dt) * 60),
        rpm: p.rpm ?? null,
        quotaRpm: p.quotaRpm ?? null,
        r429PerMin: r1((d('r429') / dt) * 60),
        retryPerMin: r1((d('retry') / dt) * 60),
        pausedPct: Math.round((p.paused ?? 0) * 100),
        inflight: p.inflight ?? 0,
        inflightMax: p.inflightMax ?? 0,
        p50: roundMs(quantile(lat, 0.5)),
        p90: roundMs(quantile(lat, 0.9)),
        p99: roundMs(quantile(lat, 0.99)),
        tin: tokensBefore.tin + (p.tin ?? 0),
        tout: tokensBefore.tout + (p.tout ?? 0),
        tthink: tokensBefore.tthink + (p.tthink ?? 0),
        tcache: tokensBefore.tcache + (p.tcache ?? 0),
        usd: c ? r3(costBefore + c.usd) : null,
        saved: c ? r3(savedBefore + savedOf(c)) : null,
      }, p.batch);
      prev = p;
    }
    offset += durations[i];
    tokensBefore = { tin: tokensBefore.tin + (last?.tin ?? 0), tout: tokensBefore.tout + (last?.tout ?? 0), tthink: tokensBefore.tthink + (last?.tthink ?? 0), tcache: tokensBefore.tcache + (last?.tcache ?? 0) };
    costBefore += cost?.usd ?? 0;
    savedBefore += cost ? savedOf(cost) : 0;
    jobCost = addCost(jobCost, cost);

    const wallMs = sum?.wallMs ?? Math.round(durations[i] * 1000);
    const done = sum ? sum.done : (last?.ok ?? 0) + (last?.fail ?? 0);
    runs.push({
      n: i + 1, run: h.run, start: h.start, model: h.model, mode: h.mode,
      outcome: sum?.outcome ?? (seg.end ? 'ended' : i === segs.length - 1 ? 'killed or running' : 'killed'),
      exitCode: sum?.exitCode, wallMs,
      succeeded: sum?.succeeded ?? last?.ok ?? 0,
      failed: sum?.failed ?? last?.fail ?? 0,
      skipped: sum?.skipped ?? last?.skip ?? 0,
      deduped: sum?.deduped ?? last?.dedup ?? 0,
      cached: sum?.cached ?? last?.cache ?? 0,
      attempts: sum?.attempts ?? last?.req ?? 0,
      retries: sum?.retries ?? last?.retry ?? 0,
      http429: sum?.http429 ?? last?.r429 ?? 0,
      tokensIn: sum?.tokensIn ?? last?.tin ?? 0,
      tokensOut: sum?.tokensOut ?? last?.tout ?? 0,
      recordsPerSec: sum?.recordsPerSec ?? r1((done / Math.max(1, wallMs)) * 1000),
      cost, failedByStatus: sum?.failedByStatus ?? {}, time: sum?.time, fromSummary: sum !== undefined,
      argv: h.argv ?? [], settings: h.settings ?? {}, priceNote: h.price?.note, x0,
    });
    const m = byModel.get(h.model) ?? { model: h.model, runs: 0, tokensIn: 0, tokensOut: 0, cost: undefined };
    m.runs++;
    m.tokensIn += runs[i].tokensIn;
    m.tokensOut += runs[i].tokensOut;
    m.cost = addCost(m.cost, cost);
    byModel.set(h.model, m);
  });

  const points = x.length - Math.max(0, segs.length - 1);
  const chart = (id: string, title: string, unit: string, note: string, series: ChartSeries[], rightUnit?: string): ChartData => ({ id, title, unit, note, x, series, points, ...(rightUnit ? { rightUnit } : {}) });
  const charts: ChartData[] = [];
  if (points > 0) {
    charts.push(chart('throughput', 'Throughput', 'per second', 'Records finished (success or failure) and requests sent, per second of each interval.', [
      { label: 'records/s', values: cols.recPerSec },
      { label: 'requests/s', values: cols.reqPerSec },
    ]));
    charts.push(chart('rate', 'Requests against the rate limit', 'per minute', 'Requests sent per minute, the rate the limiter held them to, and the quota the server named in a 429 (quotaValue) once it did.', [
      { label: 'sent/min', values: cols.reqPerMin },
      { label: 'rate limit/min', values: cols.rpm },
      { label: 'server quota/min', values: cols.quotaRpm },
    ]));
    charts.push(chart('errors', '429s, retries and pauses', 'per minute', 'Answers 429 and retries per minute; on the right, the share of the interval the limiter was paused by RetryInfo.', [
      { label: '429/min', values: cols.r429PerMin },
      { label: 'retries/min', values: cols.retryPerMin },
      { label: 'paused %', values: cols.pausedPct, right: true },
    ], '% paused'));
    charts.push(chart('inflight', 'In flight', 'requests', 'Requests in flight: the interval\'s average and its peak.', [
      { label: 'average', values: cols.inflight },
      { label: 'peak', values: cols.inflightMax },
    ]));
    charts.push(chart('latency', 'Latency', 'ms', 'Answered attempts\' latency percentiles per interval (from histogram buckets: within 10%).', [
      { label: 'p50', values: cols.p50 },
      { label: 'p90', values: cols.p90 },
      { label: 'p99', values: cols.p99 },
    ]));
    charts.push(chart('tokens', 'Tokens (cumulative)', 'tokens', 'Input and output tokens over the job; thoughts are part of output, context-cached tokens part of input.', [
      { label: 'input', values: cols.tin },
      { label: 'output', values: cols.tout },
      { label: 'thoughts', values: cols.tthink },
      { label: 'cached input', values: cols.tcache },
    ]));
    if (segs.some((s) => s.header.price)) {
      charts.push(chart('cost', 'Cost (cumulative)', 'USD', 'What the tokens cost at the price table\'s rates (Batch API at half), and what Batch Mode, --cache/--dedupe and context caching saved.', [
        { label: 'cost $', values: cols.usd },
        { label: 'saved $', values: cols.saved },
      ]));
    }
    if (batchCols.size > 0) {
      charts.push(chart('batch', 'Batch jobs', 'jobs', 'Batch jobs by state (the journal\'s: packed, uploaded, created, written, ended).', [...batchCols].map(([k, v]) => ({ label: k, values: v }))));
    }
  }

  let hi = wholeLat.length - 1;
  while (hi > 0 && wholeLat[hi] === 0) hi--;
  let lo = 0;
  while (lo < hi && wholeLat[lo] === 0) lo++;
  const latCount = wholeLat.reduce((a, b) => a + b, 0);
  const latency = {
    // The overflow bucket is drawn as one more doubling.
    upperMs: Array.from({ length: latCount ? hi - lo + 1 : 0 }, (_, k) => roundMs(Math.min(upperMs(lo + k), 2 * upperMs(MAX_INDEX))) ?? 0),
    counts: latCount ? Array.from(wholeLat.subarray(lo, hi + 1)) : [],
    p50: roundMs(quantile(wholeLat, 0.5)), p90: roundMs(quantile(wholeLat, 0.9)), p99: roundMs(quantile(wholeLat, 0.99)),
    count: latCount,
  };

  const total = (k: 'succeeded' | 'failed' | 'deduped' | 'cached' | 'attempts' | 'retries' | 'http429' | 'tokensIn' | 'tokensOut' | 'wallMs') => runs.reduce((a, r) => a + r[k], 0);
  const totals: ReportData['totals'] = {
    succeeded: total('succeeded'), failed: total('failed'), deduped: total('deduped'), cached: total('cached'),
    attempts: total('attempts'), retries: total('retries'), http429: total('http429'), tokensIn: total('tokensIn'), tokensOut: total('tokensOut'), wallMs: total('wallMs'),
    ...(jobCost ? { usd: jobCost.usd, saved: savedOf(jobCost) } : {}),
  };
  return { dir, generatedAt: options.now ?? Date.now(), runs, totals, charts, latency, byModel: [...byModel.values()], failures, notes };
}

function roundMs(ms: number | undefined): number | undefined {
  if (ms === undefined) return undefined;
  return ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10;
}
