// formatReportText(): the report for a terminal (`gempipe report --text`) — the same data as the
// HTML page, as plain lines: totals, one row per run, a sparkline per chart series, latency
// percentiles, cost per model, failures by status with examples, where the time went.

import type { ChartSeries, ReportData } from './report-data.js';
import { int, ms, usd } from './report-html.js';
import { FAILURES_FILE } from '../output/layout.js';

const BARS = '▁▂▃▄▅▆▇█';

/** A series squeezed into `width` characters (each the mean of its slice); gaps are spaces. */
export function sparkline(values: ReadonlyArray<number | null>, width = 60): string {
  const vals = values.filter((v): v is number => v !== null);
  if (vals.length === 0) return '';
  const max = Math.max(...vals);
  const n = Math.min(width, values.length);
  let out = '';
  for (let i = 0; i < n; i++) {
    const slice = values.slice(Math.floor((i * values.length) / n), Math.floor(((i + 1) * values.length) / n)).filter((v): v is number => v !== null);
    if (slice.length === 0) {
      out += ' ';
      continue;
    }
    const mean = slice.reduce((a, b) => a + b, 0) / slice.length;
    out += max > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((mean / max) * (BARS.length - 1) + 0.5))] : BARS[0];
  }
  return out;
}

const maxOf = (s: ChartSeries) => Math.max(0, ...s.values.filter((v): v is number => v !== null));

export function formatReportText(d: ReportData): string {
  const L: string[] = [];
  const t = d.totals;
  L.push(`gempipe report — ${d.dir}: ${d.runs.length} run(s), ${ms(t.wallMs)} in all`);
  for (const n of d.notes) L.push(`  note: ${n}`);
  L.push(`  ${int(t.succeeded)} succeeded, ${int(t.failed)} failed; ${int(t.attempts)} requests (${int(t.retries)} retries, ${int(t.http429)} answered 429); tokens ${int(t.tokensIn)} in, ${int(t.tokensOut)} out; cost ${usd(t.usd)}${t.saved ? ` (saved ${usd(t.saved)})` : ''}`);
  L.push('');
  L.push('runs:');
  for (const r of d.runs) {
    L.push(`  ${r.n}. ${new Date(r.start).toISOString().slice(0, 19).replace('T', ' ')} UTC  ${r.model} (${r.mode})  ${r.outcome}${r.exitCode !== undefined ? ` (exit ${r.exitCode})` : ''}  ${ms(r.wallMs)}`);
    L.push(`     ${int(r.succeeded)} succeeded, ${int(r.failed)} failed, ${int(r.skipped)} skipped${r.deduped ? `, ${int(r.deduped)} deduped` : ''}${r.cached ? `, ${int(r.cached)} cached` : ''}; ${r.recordsPerSec} records/s; ${int(r.attempts)} requests, ${int(r.retries)} retries, ${int(r.http429)} 429s; cost ${usd(r.cost?.usd)}${r.fromSummary ? '' : ' (no summary: killed)'}`);
  }
  if (d.charts.length > 0) {
    L.push('');
    L.push('over time (job time, runs one after another; each line scaled to its own peak):');
    for (const c of d.charts) {
      for (const s of c.series) {
        const peak = maxOf(s);
        if (peak === 0 && s.values.every((v) => v === null)) continue;
        L.push(`  ${`${c.title}: ${s.label}`.padEnd(44).slice(0, 44)} ${sparkline(s.values)}  peak ${int(peak)}`);
      }
    }
  }
  if (d.latency.count > 0) {
    L.push('');
    L.push(`latency: p50 ${d.latency.p50} ms, p90 ${d.latency.p90} ms, p99 ${d.latency.p99} ms over ${int(d.latency.count)} answered attempts`);
  }
  L.push('');
  L.push('tokens and cost by model:');
  for (const m of d.byModel) {
    const c = m.cost;
    L.push(`  ${m.model}: ${int(m.tokensIn)} in, ${int(m.tokensOut)} out; cost ${usd(c?.usd)}${c ? ` (online ${usd(c.onlineUsd)}, batch ${usd(c.batchUsd)}; saved ${usd(c.savedBatchUsd)} by batch, ${usd(c.savedCachedTokensUsd)} by cached tokens, ~${usd(c.savedReuseUsd)} by --cache/--dedupe)` : ' (not in the price table)'}`);
  }
  L.push('');
  const F = d.failures;
  L.push(`${FAILURES_FILE}: ${int(F.total)} record(s)`);
  for (const [status, g] of Object.entries(F.byStatus).sort((a, b) => b[1].count - a[1].count)) {
    L.push(`  ${status} ${int(g.count)}`);
    for (const e of g.examples) L.push(`    ${e.id}${e.code ? ` (${e.code})` : ''}: ${e.message.replace(/\s+/g, ' ').slice(0, 160)}`);
  }
  for (const r of d.runs) {
    if (!r.time) continue;
    const x = r.time;
    L.push('');
    L.push(`where run ${r.n}'s time went (summed over concurrent requests): API ${ms(x.apiMs)} (${x.avgInFlight} in flight on average), limiter ${ms(x.limiterMs)}, backoff ${ms(x.backoffMs)}, starved for input ${ms(x.readWaitMs)}, held by the writer ${ms(x.writeWaitMs)}, writing ${ms(x.writeMs)}${x.postMs ? `, --post ${ms(x.postMs)}` : ''}`);
  }
  return L.join('\n') + '\n';
}
