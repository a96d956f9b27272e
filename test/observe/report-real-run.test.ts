// report.html of a real run, in headless Chromium: the pipeline against the emulator with a
// quota that answers 429s (it names its limit; some bare ones too), prompts scripted to fail
// twice with 503 (retries) or to be blocked (failures), run 1 stopped part-way (the signal a
// SIGINT gives) and run 2 resuming into the same -o with --report. The page must open offline
// with no console error, draw every chart with as many points as the series has lines, and show
// each run's numbers exactly as its --summary-json has them. The report and a screenshot are
// left in the test's temp dir (printed) for people to look at. Skips, saying so, without chromium.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { FAILURES_FILE, REPORT_FILE, SERIES_FILE } from '../../src/output/layout.js';
import { loadReportData } from '../../src/observe/report.js';
import type { ReportData } from '../../src/observe/report-data.js';
import type { SampleLine } from '../../src/observe/series-format.js';
import { readSeries } from '../../src/observe/series-reader.js';
import type { Summary } from '../../src/stats.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, until } from '../helpers/util.js';
import { findChromium, launchChromium, openReportPage, readCharts } from './chromium.js';

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('report-real-run.test.ts: skipped — no chromium (apt-get install chromium, or set GEMPIPE_CHROMIUM); .ci/run installs it');

// More than the reader holds ahead (256 records) and the stages between: run 1, stopped after
// 150 answers, leaves a real share for run 2.
const N = 1200;
const FILES = 20;
/** Every 25th prompt fails twice with 503 first; every 40th is blocked. */
const prompt = (i: number) => `Question ${i}: what is ${i} times 7?${i % 25 === 0 ? ' [[emu:503x2]]' : ''}${i % 40 === 0 ? ' [[emu:block]]' : ''}`;

describe.skipIf(!chromiumPath)('report.html of a real run (429s, retries, failures, a resume) in headless Chromium', () => {
  let work: string;
  let out: string;
  let emu: Emulator;
  const summaries: Summary[] = [];
  let stderr2 = '';
  let data: ReportData;
  let browser: BrowserContext;
  let page: Page;
  let problems: string[] = [];
  let requests: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'gempipe-report-run-'));
    out = join(work, 'out');
    const inputs = join(work, 'inputs');
    mkdirSync(inputs);
    const per = N / FILES;
    for (let f = 0; f < FILES; f++) writeFileSync(join(inputs, `part-${String(f).padStart(2, '0')}.txt`), Array.from({ length: per }, (_, k) => prompt(f * per + k + 1)).join('\n') + '\n');
    // 6,000 requests/min in a small bucket, named in its 429s; 3% bare 429s (shared capacity).
    emu = await startEmulator({ rpm: 6000, quota: { mode: 'bucket', burstMs: 200 }, quotaValue: true, capacity429Rate: 0.03, latencyMs: 20, jitterMs: 20, seed: 3 });
    const raw = (n: number) => ({ out, rpm: 'auto', concurrency: '16', retryBaseDelay: '20', summaryJson: join(work, `summary-${n}.json`) });

    // Run 1: stopped part-way, as SIGINT stops it.
    const stop = new AbortController();
    const first = runAgainst(emu, [inputs], raw(1), { signal: stop.signal });
    await until(() => emu.stats.ok >= 150, { what: '150 answers in run 1', timeoutMs: 60_000 });
    stop.abort(new Error('interrupted'));
    const r1 = await first;
    expect(r1.exitCode, r1.stderr).toBe(130);
    // Run 2: the same command into the same directory resumes it, and writes the report.
    const r2 = await runAgainst(emu, [inputs], { ...raw(2), report: true });
    expect(r2.exitCode, r2.stderr).toBe(3); // the blocked prompts are failures
    stderr2 = r2.stderr;
    for (const n of [1, 2]) summaries.push(JSON.parse(readFileSync(join(work, `summary-${n}.json`), 'utf8')) as Summary);
    data = await loadReportData(out);

    browser = await launchChromium(chromiumPath!, join(work, 'profile'));
    ({ page, problems, requests } = await openReportPage(browser, join(out, REPORT_FILE)));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await emu?.close();
    if (work) rmSync(join(work, 'profile'), { recursive: true, force: true });
    console.log(`report-real-run.test.ts: the run's directory, its report.html and a screenshot (report.png) are in ${work}`);
  });

  it('ran the job the report is about: every line once, 429s, retries, blocked failures, two runs', () => {
    const all = readOutputs(out).all;
    expect(all).toHaveLength(N);
    expect(new Set(all.map((r) => r.id)).size).toBe(N);
    const [s1, s2] = summaries;
    expect([s1.outcome, s1.exitCode, s2.outcome, s2.exitCode]).toEqual(['interrupted', 130, 'completed', 3]);
    expect(s2.skipped).toBe(s1.succeeded + s1.failed);
    expect(s1.succeeded + s1.failed).toBeLessThan(N * 0.75); // both runs did a real share
    expect(s2.succeeded + s2.failed).toBe(N - s2.skipped);
    expect(s1.http429 + s2.http429).toBeGreaterThan(0);
    expect(s1.retriesByCause['503'] ?? 0).toBeGreaterThan(0);
    expect((s1.failedByStatus.BLOCKED ?? 0) + (s2.failedByStatus.BLOCKED ?? 0)).toBe(N / 40);
    // The summary names the report; the series holds both runs, each ended by its summary.
    expect(s2.report).toBe(join(out, REPORT_FILE));
    expect(stderr2).toContain(`  report: ${join(out, REPORT_FILE)}\n`);
  });

  it('keeps a series of both runs with what the run saw: answers by code, 429s, the quota the server named, latencies', async () => {
    const series = await readSeries(out);
    expect(series.segments).toHaveLength(2);
    expect(series.segments.map((s) => s.end?.summary?.exitCode)).toEqual([130, 3]);
    // Each run's summary as --summary-json has it (the report's path is known only after the series ends).
    expect(series.segments.map((s) => s.end?.summary)).toEqual(summaries.map(({ report: _, ...s }) => s));
    const lasts = series.segments.map((s) => s.samples.at(-1)!);
    const sum = (k: keyof SampleLine) => lasts.reduce((a, l) => a + ((l[k] as number | undefined) ?? 0), 0);
    expect(sum('ok')).toBe(summaries[0].succeeded + summaries[1].succeeded);
    expect(sum('r429')).toBe(summaries[0].http429 + summaries[1].http429);
    expect(sum('req')).toBe(summaries[0].attempts + summaries[1].attempts);
    // Answers by HTTP code add up to the requests; 503s and 429s among them.
    for (const [i, l] of lasts.entries()) expect(Object.values(l.codes ?? {}).reduce((a, b) => a + b, 0), `run ${i + 1}`).toBe(summaries[i].attempts);
    expect(lasts[0].codes?.['503']).toBeGreaterThan(0);
    expect((lasts[0].codes?.['429'] ?? 0) + (lasts[1].codes?.['429'] ?? 0)).toBe(summaries[0].http429 + summaries[1].http429);
    expect(series.segments.some((s) => s.samples.some((l) => l.quotaRpm === 6000))).toBe(true);
    expect(series.segments.every((s) => s.samples.some((l) => (l.lat ?? []).length > 0))).toBe(true);
    // The prices the cost is reckoned at are the run's (the built-in table's, for its model).
    expect(series.segments.map((s) => s.header.price?.model)).toEqual([series.segments[0].header.model, series.segments[0].header.model]);
  });

  it('opens offline with no console errors and fetches nothing', () => {
    expect(problems).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(out, REPORT_FILE)).href]);
  });

  it('draws every chart with the run\'s data points', async () => {
    const series = await readSeries(out);
    const sampleLines = series.segments.reduce((a, s) => a + s.samples.length, 0);
    const latencyLines = series.segments.reduce((a, s) => a + s.samples.filter((l) => (l.lat ?? []).length > 0).length, 0);
    const charts = await readCharts(page);
    expect(charts.map((c) => c.id)).toEqual(['throughput', 'rate', 'errors', 'inflight', 'latency', 'tokens', 'cost', 'latency-dist']);
    expect(sampleLines).toBeGreaterThanOrEqual(4); // at least a line a second and a last one per run
    for (const c of charts) {
      expect(c.drawn, c.id).toBe('1');
      expect(c.inked, `${c.id}: pixels in the series' colours`).toBeGreaterThan(100);
      const want = c.id === 'latency' ? latencyLines : c.id === 'latency-dist' ? data.latency.counts.length : sampleLines;
      expect(c.points, c.id).toBe(want);
    }
    // What the charts plot is what happened: 429s and retries per minute above zero somewhere,
    // the server's quota on the rate chart, as many answered latencies as 200/503/429 answers.
    const chart = (id: string) => data.charts.find((c) => c.id === id)!;
    const some = (id: string, label: string) => chart(id).series.find((s) => s.label === label)!.values.some((v) => v !== null && v > 0);
    expect(some('errors', '429/min')).toBe(true);
    expect(some('errors', 'retries/min')).toBe(true);
    expect(chart('rate').series.find((s) => s.label === 'server quota/min')!.values).toContain(6000);
    expect(data.latency.count).toBe(summaries[0].attempts + summaries[1].attempts);
  });

  it('shows the numbers of each run\'s --summary-json, and failures.jsonl\'s counts', async () => {
    const fields = new Map((await page.$$eval('[data-field]', (els) => els.map((el) => [(el as HTMLElement).dataset.field!, { value: Number((el as HTMLElement).dataset.value), text: el.textContent }] as const))));
    const int = (n: number) => n.toLocaleString('en-US');
    let checked = 0;
    for (const [i, s] of summaries.entries()) {
      const n = i + 1;
      for (const k of ['succeeded', 'failed', 'skipped', 'deduped', 'cached', 'attempts', 'retries', 'http429', 'tokensIn', 'tokensOut'] as const) {
        expect(fields.get(`run.${n}.${k}`), `run ${n} ${k}`).toEqual({ value: s[k], text: int(s[k]) });
        checked++;
      }
      expect(fields.get(`run.${n}.recordsPerSec`)).toEqual({ value: s.recordsPerSec, text: String(s.recordsPerSec) });
      expect(fields.get(`run.${n}.wallMs`)!.value).toBe(s.wallMs);
      for (const [k, v] of Object.entries(s.time)) {
        if (k === 'postMs' && v === 0) expect(fields.has(`run.${n}.time.postMs`)).toBe(false);
        else expect(fields.get(`run.${n}.time.${k}`)?.value, `run ${n} time.${k}`).toBe(v);
      }
      for (const [k, v] of Object.entries(s.failedByStatus)) expect(fields.get(`run.${n}.failedByStatus.${k}`)).toEqual({ value: v, text: int(v) });
    }
    for (const k of ['succeeded', 'failed', 'attempts', 'retries', 'http429', 'tokensIn', 'tokensOut', 'wallMs'] as const) {
      expect(fields.get(`totals.${k}`)?.value, `totals.${k}`).toBe(summaries[0][k] + summaries[1][k]);
    }
    const failures: Record<string, number> = {};
    for (const line of readFileSync(join(out, FAILURES_FILE), 'utf8').split('\n').filter(Boolean)) {
      const st = (JSON.parse(line) as { error: { status: string } }).error.status;
      failures[st] = (failures[st] ?? 0) + 1;
    }
    expect(Object.keys(failures)).toEqual(['BLOCKED']);
    for (const [status, count] of Object.entries(failures)) expect(fields.get(`failures.${status}`), status).toEqual({ value: count, text: int(count) });
    expect(checked).toBe(20);
  });

  it('leaves a screenshot for people to look at', async () => {
    const shot = join(work, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot) && statSync(shot).size).toBeGreaterThan(50_000);
    expect(existsSync(join(out, SERIES_FILE))).toBe(true);
  });
});
