// renderReportHtml(): the report's data as one self-contained HTML file — uPlot's script and CSS
// inlined, the data as a JSON island, the page code (report-page.ts) as source text. Nothing is
// fetched: it opens offline from a file:// URL in any browser. Numbers and tables are rendered
// here, as HTML, so they read without JavaScript and a test can compare each with the summary
// it came from (data-field / data-value); only the charts need the script.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { reportPage } from './report-page.js';
import type { ReportData, RunRow } from './report-data.js';
import type { Cost } from './cost.js';
import { FAILURES_FILE } from '../output/layout.js';

export interface ChartAssets {
  js: string;
  css: string;
  version: string;
}

let assets: ChartAssets | undefined;
/** uPlot's minified script and CSS from node_modules, read once. */
export function chartAssets(): ChartAssets {
  if (!assets) {
    const req = createRequire(import.meta.url);
    const js = readFileSync(req.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(req.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    const version = /\(v([\d.]+)\)/.exec(js.slice(0, 200))?.[1] ?? '';
    assets = { js, css, version };
  }
  return assets;
}

export const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export function ms(v: number): string {
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 120_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 7_200_000) return `${Math.floor(v / 60_000)} min ${Math.round((v % 60_000) / 1000)} s`;
  return `${Math.floor(v / 3_600_000)} h ${Math.round((v % 3_600_000) / 60_000)} min`;
}
export function usd(v: number | undefined): string {
  if (v === undefined) return 'unknown';
  if (v === 0) return '$0';
  return v >= 1 ? `$${v.toFixed(2)}` : v >= 0.01 ? `$${v.toFixed(4)}` : `$${v.toPrecision(2)}`;
}
const when = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

/** A number a test can find: `data-field` names it, `data-value` holds it exactly. */
function field(name: string, value: number, text = int(value)): string {
  return `<span data-field="${esc(name)}" data-value="${value}">${esc(text)}</span>`;
}

function costCells(c: Cost | undefined): string {
  if (!c) return '<td colspan="5" class="muted">not in the price table (give --price-in/--price-out)</td>';
  return `<td>${usd(c.usd)}</td><td>${usd(c.onlineUsd)}</td><td>${usd(c.batchUsd)}</td><td>${usd(c.savedBatchUsd + c.savedCachedTokensUsd)}</td><td>${usd(c.savedReuseUsd)}</td>`;
}

function runRow(r: RunRow): string {
  const f = (k: keyof RunRow) => `<td>${field(`run.${r.n}.${k}`, r[k] as number)}</td>`;
  const outcome = r.outcome + (r.exitCode !== undefined ? ` (exit ${r.exitCode})` : '');
  return `<tr><td>${r.n}</td><td title="${esc(when(r.start))}">${esc(when(r.start).slice(0, 16))}</td><td>${esc(r.model)}</td><td>${esc(r.mode)}</td><td>${esc(outcome)}${r.fromSummary ? '' : ' <span class="muted">— from its last sample</span>'}</td>`
    + `<td>${field(`run.${r.n}.wallMs`, r.wallMs, ms(r.wallMs))}</td>${f('succeeded')}${f('failed')}${f('skipped')}${f('deduped')}${f('cached')}${f('attempts')}${f('retries')}${f('http429')}${f('tokensIn')}${f('tokensOut')}`
    + `<td>${field(`run.${r.n}.recordsPerSec`, r.recordsPerSec, String(r.recordsPerSec))}</td><td>${usd(r.cost?.usd)}</td></tr>`;
}

const TIME_ROWS: Array<[keyof NonNullable<RunRow['time']>, string, string]> = [
  ['apiMs', 'waiting on the API', 'summed over concurrent requests'],
  ['limiterMs', 'waiting on the limiter', 'rate limits and 429 pauses'],
  ['backoffMs', 'in retry backoff', ''],
  ['readWaitMs', 'starved for input', 'free slots and nothing read'],
  ['writeWaitMs', 'held by the writer', ''],
  ['writeMs', 'writing', ''],
  ['postMs', 'post-processing (--post)', 'on worker threads'],
];

function timeTable(r: RunRow): string {
  if (!r.time) return `<p class="muted">Run ${r.n} left no summary (killed): where its time went is not known.</p>`;
  const t = r.time;
  const max = Math.max(1, ...TIME_ROWS.map(([k]) => t[k]));
  const rows = TIME_ROWS.filter(([k]) => k !== 'postMs' || t.postMs > 0).map(([k, label, why]) =>
    `<tr><td>${esc(label)}</td><td class="num">${field(`run.${r.n}.time.${k}`, t[k], ms(t[k]))}</td><td class="barcell"><div class="bar" style="width:${((t[k] / max) * 100).toFixed(1)}%"></div></td><td class="muted">${Math.round((t[k] / Math.max(1, r.wallMs)) * 100)}% of wall${why ? ` · ${esc(why)}` : ''}</td></tr>`).join('');
  return `<h3>Run ${r.n} <span class="muted">(${ms(r.wallMs)} wall, ${field(`run.${r.n}.time.avgInFlight`, t.avgInFlight, String(t.avgInFlight))} in flight on average)</span></h3><table class="time">${rows}</table>`;
}

export function renderReportHtml(data: ReportData, a: ChartAssets = chartAssets()): string {
  const t = data.totals;
  const cards: Array<[string, string]> = [
    ['succeeded', field('totals.succeeded', t.succeeded)],
    ['failed', field('totals.failed', t.failed)],
    ['requests', field('totals.attempts', t.attempts)],
    ['retries', field('totals.retries', t.retries)],
    ['answered 429', field('totals.http429', t.http429)],
    ['tokens in / out', `${field('totals.tokensIn', t.tokensIn)} / ${field('totals.tokensOut', t.tokensOut)}`],
    ['run time', field('totals.wallMs', t.wallMs, ms(t.wallMs))],
    ['cost', t.usd !== undefined ? `${usd(t.usd)}${t.saved ? ` <small>(saved ${usd(t.saved)})</small>` : ''}` : 'unknown'],
  ];
  const charts = data.charts.map((c) => `<section class="chart"><h3>${esc(c.title)}</h3><p class="note">${esc(c.note)}</p><div id="chart-${esc(c.id)}" class="plot" data-chart="${esc(c.id)}"></div></section>`).join('\n');
  const L = data.latency;
  const latency = L.count > 0
    ? `<section class="chart"><h3>Latency distribution</h3><p class="note">${int(L.count)} answered attempts over the job: p50 ${field('latency.p50', L.p50 ?? 0, `${L.p50} ms`)}, p90 ${field('latency.p90', L.p90 ?? 0, `${L.p90} ms`)}, p99 ${field('latency.p99', L.p99 ?? 0, `${L.p99} ms`)} (histogram buckets, four per doubling).</p><div id="chart-latency-dist" class="plot" data-chart="latency-dist"></div></section>`
    : '';
  const models = data.byModel.map((m) => `<tr><td>${esc(m.model)}</td><td>${m.runs}</td><td>${int(m.tokensIn)}</td><td>${int(m.tokensOut)}</td>${costCells(m.cost)}</tr>`).join('');
  const costTotal = data.byModel.length > 1 && t.usd !== undefined ? `<tr class="total"><td>all models</td><td>${data.runs.length}</td><td>${int(t.tokensIn)}</td><td>${int(t.tokensOut)}</td><td>${usd(t.usd)}</td><td colspan="4"></td></tr>` : '';
  const priceNotes = [...new Set(data.runs.map((r) => r.priceNote).filter(Boolean))].map((n) => `<li>${esc(n)}</li>`).join('');
  const F = data.failures;
  const failures = F.total === 0
    ? `<p>${FAILURES_FILE} holds no failure records.</p>`
    : Object.entries(F.byStatus).sort((x, y) => y[1].count - x[1].count).map(([status, g]) =>
      `<details open><summary><b>${esc(status)}</b> — ${field(`failures.${status}`, g.count)} record(s)</summary><table class="ex"><tr><th>id</th><th>code</th><th>attempts</th><th>message</th><th>prompt</th></tr>${g.examples.map((e) =>
        `<tr><td><code>${esc(e.id)}</code></td><td>${e.code || ''}</td><td>${e.attempts}</td><td>${esc(e.message)}</td><td class="muted">${esc(e.prompt)}</td></tr>`).join('')}</table></details>`).join('\n');
  const failedByRun = data.runs.filter((r) => Object.keys(r.failedByStatus).length > 0).map((r) =>
    `<li>run ${r.n}: ${Object.entries(r.failedByStatus).map(([k, v]) => `${esc(k)} ${field(`run.${r.n}.failedByStatus.${k}`, v)}`).join(', ')}</li>`).join('');
  const commands = data.runs.map((r) => `<li>run ${r.n} (${esc(r.run)}): <code>${esc(r.argv.join(' ')) || '(not recorded)'}</code>${Object.keys(r.settings).length ? `<br><span class="muted">${esc(Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' · '))}</span>` : ''}</li>`).join('');
  const notes = data.notes.map((n) => `<li>${esc(n)}</li>`).join('');
  // A JSON island: `<` escaped so no string in the data can close the script element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gempipe report — ${esc(data.dir)}</title>
<style>${a.css}</style>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:16px 24px 48px;max-width:1200px;color:#1b1b1b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 2px}
.muted,.note{color:#666}.note{margin:0 0 6px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 10px}.card .k{color:#666;font-size:12px}.card .v{font-size:18px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f6f6}
.scroll{overflow-x:auto}.runs td{white-space:nowrap}.runs td:nth-child(5){white-space:normal;min-width:120px}.runs td:nth-child(n+6){text-align:right}.num{text-align:right;white-space:nowrap}
.time{min-width:720px}.barcell{width:300px}.bar{height:10px;background:#1f6fb4;border-radius:2px;min-width:1px}
.plot{width:100%;min-height:250px}.chart{margin-bottom:10px}tr.total td{font-weight:600}
details{margin:6px 0}table.ex td{max-width:420px;overflow-wrap:anywhere}code{font-size:12px}
</style></head>
<body>
<h1>gempipe report</h1>
<div class="muted">${esc(data.dir)} · ${data.runs.length} run(s) · generated ${esc(when(data.generatedAt))}</div>
${notes ? `<ul class="notes">${notes}</ul>` : ''}
<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${v}</div></div>`).join('')}</div>
<h2>Runs</h2>
<p class="note">Each run of the job, one after another (a resumed job adds a run). Numbers come from each run's summary.</p>
<div class="scroll"><table class="runs"><tr><th>#</th><th>started</th><th>model</th><th>mode</th><th>outcome</th><th>wall</th><th>succeeded</th><th>failed</th><th>skipped</th><th>deduped</th><th>cached</th><th>requests</th><th>retries</th><th>429s</th><th>tokens in</th><th>tokens out</th><th>records/s</th><th>cost</th></tr>
${data.runs.map(runRow).join('\n')}
</table></div>
<h2>Over time</h2>
<p class="note">The x axis is job time: each run's own clock, runs laid one after another (dashed lines mark where a run starts). Hover to read a point; the cursor follows across the charts.</p>
${charts}
${latency}
<h2>Tokens and cost</h2>
<table><tr><th>model</th><th>runs</th><th>tokens in</th><th>tokens out</th><th>cost</th><th>online</th><th>batch</th><th>saved: batch + cached tokens</th><th>saved: --cache/--dedupe (est.)</th></tr>${models}${costTotal}</table>
${priceNotes ? `<ul class="muted">${priceNotes}</ul>` : ''}
<h2>Failures</h2>
${failedByRun ? `<p class="note">Failed per run (from the summaries):</p><ul>${failedByRun}</ul>` : ''}
<p class="note">${FAILURES_FILE} now: ${field('failures.total', F.total)} record(s), by status, with a few examples each.</p>
${failures}
<h2>Where the time went</h2>
<p class="note">From each run's summary. Times waiting on the API, the limiter and backoff are summed over concurrent requests, so they can exceed the wall time.</p>
${data.runs.map(timeTable).join('\n')}
<h2>Command lines</h2>
<ul>${commands}</ul>
<p class="muted">Made by <code>gempipe report</code>. Charts: uPlot ${esc(a.version)} (MIT, © Leon Sorokin), inlined.</p>
<script type="application/json" id="report-data">${json}</script>
<script>${a.js}</script>
<script>(${reportPage.toString()})(JSON.parse(document.getElementById('report-data').textContent), uPlot);</script>
</body></html>
`;
}

