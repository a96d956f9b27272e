// report.html in a real browser: Debian's chromium, headless, through playwright-core. Skips,
// saying so, where there is no chromium (.ci/run installs it). The screenshot and the report
// are left in the test's temp dir (printed) for people to look at.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { reportCommand, type ReportResult } from '../../src/observe/report.js';
import { findChromium, launchChromium, openReportPage, readCharts } from './chromium.js';
import { makeReportFixture, type ReportFixture } from './report-fixture.js';

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('report-chromium.test.ts: skipped — no chromium (apt-get install chromium, or set GEMPIPE_CHROMIUM); .ci/run installs it');

describe.skipIf(!chromiumPath)('report.html in headless Chromium', () => {
  let work: string;
  let fx: ReportFixture;
  let report: ReportResult;
  let browser: BrowserContext;
  let page: Page;
  let problems: string[] = [];
  let requests: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'gempipe-report-chromium-'));
    fx = makeReportFixture(join(work, 'out'));
    report = await reportCommand(fx.dir);
    browser = await launchChromium(chromiumPath!, join(work, 'profile'));
    ({ page, problems, requests } = await openReportPage(browser, report.path!));
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(join(work, 'profile'), { recursive: true, force: true });
    console.log(`report-chromium.test.ts: the report and its screenshot are in ${work}`);
  });

  it('opens offline with no console errors and fetches nothing', () => {
    expect(problems).toEqual([]);
    expect(requests).toEqual([pathToFileURL(report.path!).href]);
  });

  it('draws every chart with the series\' data points', async () => {
    const charts = await readCharts(page);
    expect(charts.map((c) => c.id)).toEqual(['throughput', 'rate', 'errors', 'inflight', 'latency', 'tokens', 'cost', 'latency-dist']);
    for (const c of charts) {
      expect(c.drawn, c.id).toBe('1');
      expect(c.inked, `${c.id}: pixels in the series' colours`).toBeGreaterThan(100);
      const want = c.id === 'latency' ? fx.latencyLines : c.id === 'latency-dist' ? report.data.latency.counts.length : fx.sampleLines;
      expect(c.points, c.id).toBe(want);
    }
  });

  it('shows the numbers of each run\'s summary, and failures.jsonl\'s counts', async () => {
    const fields = new Map((await page.$$eval('[data-field]', (els) => els.map((el) => [(el as HTMLElement).dataset.field!, { value: Number((el as HTMLElement).dataset.value), text: el.textContent }] as const))));
    const int = (n: number) => n.toLocaleString('en-US');
    let checked = 0;
    for (const n of [2, 3]) {
      const s = fx.summaries[n - 1]!;
      for (const k of ['succeeded', 'failed', 'skipped', 'deduped', 'cached', 'attempts', 'retries', 'http429', 'tokensIn', 'tokensOut'] as const) {
        expect(fields.get(`run.${n}.${k}`), `run ${n} ${k}`).toEqual({ value: s[k], text: int(s[k]) });
        checked++;
      }
      expect(fields.get(`run.${n}.recordsPerSec`)).toEqual({ value: s.recordsPerSec, text: String(s.recordsPerSec) });
      expect(fields.get(`run.${n}.wallMs`)!.value).toBe(s.wallMs);
      for (const [k, v] of Object.entries(s.time)) {
        // --post's line is shown only for a run that had one.
        if (k === 'postMs' && v === 0) expect(fields.has(`run.${n}.time.postMs`)).toBe(false);
        else expect(fields.get(`run.${n}.time.${k}`)?.value, `run ${n} time.${k}`).toBe(v);
      }
      for (const [k, v] of Object.entries(s.failedByStatus)) expect(fields.get(`run.${n}.failedByStatus.${k}`)).toEqual({ value: v, text: int(v) });
    }
    const killed = fx.lastSamples[0];
    expect(fields.get('run.1.succeeded')!.value).toBe(killed.ok);
    expect(fields.get('totals.succeeded')!.value).toBe(killed.ok + fx.summaries[1]!.succeeded + fx.summaries[2]!.succeeded);
    expect(fields.get('totals.http429')!.value).toBe((killed.r429 ?? 0) + fx.summaries[1]!.http429 + fx.summaries[2]!.http429);
    for (const [status, count] of Object.entries(fx.failuresByStatus)) expect(fields.get(`failures.${status}`), status).toEqual({ value: count, text: int(count) });
    expect(checked).toBe(20);
  });

  it('leaves a screenshot for people to look at', async () => {
    const shot = join(work, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot) && statSync(shot).size).toBeGreaterThan(50_000);
  });
});
