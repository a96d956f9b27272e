import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { loadReportData, reportCommand } from '../../src/observe/report.js';
import type { ReportData } from '../../src/observe/report-data.js';
import { sparkline } from '../../src/observe/report-text.js';
import { tempDir } from '../helpers/util.js';
import { makeReportFixture, type ReportFixture } from './report-fixture.js';

let dir: string;
let cleanup: () => void;
let fx: ReportFixture;
let data: ReportData;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('gempipe-report-'));
  fx = makeReportFixture(join(dir, 'out'));
  data = await loadReportData(fx.dir, { now: Date.parse('2026-11-04T00:00:00Z') });
});
afterAll(() => cleanup());

describe('the report\'s data', () => {
  it('the fixture job has what a report must show', () => {
    const [killed, interrupted, completed] = fx.summaries;
    expect(killed).toBeUndefined();
    expect([interrupted!.exitCode, completed!.exitCode]).toEqual([130, 3]);
    expect(completed!.http429).toBeGreaterThan(0);
    expect(completed!.retriesByCause['503']).toBeGreaterThan(0);
    expect(Object.keys(fx.failuresByStatus).sort()).toEqual(['BLOCKED', 'INVALID_INPUT', 'MAX_TOKENS', 'UNAVAILABLE']);
    expect(fx.lastSamples.some((s) => (s.pauses ?? 0) > 0)).toBe(true);
    expect(fx.lastSamples.some((s) => (s.quotaRpm ?? 0) > 0)).toBe(true);
  });

  it('lays the runs of the resumed job one after another, numbers from each run\'s summary (the killed one from its last sample)', () => {
    expect(data.runs.map((r) => [r.n, r.outcome, r.exitCode, r.fromSummary])).toEqual([
      [1, 'killed', undefined, false],
      [2, 'interrupted', 130, true],
      [3, 'completed', 3, true],
    ]);
    for (const i of [1, 2]) {
      const s = fx.summaries[i]!;
      const r = data.runs[i];
      expect([r.succeeded, r.failed, r.skipped, r.deduped, r.cached, r.attempts, r.retries, r.http429, r.tokensIn, r.tokensOut, r.wallMs, r.recordsPerSec])
        .toEqual([s.succeeded, s.failed, s.skipped, s.deduped, s.cached, s.attempts, s.retries, s.http429, s.tokensIn, s.tokensOut, s.wallMs, s.recordsPerSec]);
      expect(r.time).toEqual(s.time);
    }
    const k = fx.lastSamples[0];
    expect([data.runs[0].succeeded, data.runs[0].failed, data.runs[0].attempts]).toEqual([k.ok, k.fail, k.req]);
    expect(data.runs[1].x0).toBeGreaterThan(data.runs[0].x0);
    expect(data.runs[2].x0).toBeGreaterThan(data.runs[1].x0);
    expect(data.totals.succeeded).toBe(data.runs.reduce((a, r) => a + r.succeeded, 0));
    // The killed run's torn line was cut off when run 2 started: nothing is skipped.
    expect(data.notes).toEqual([]);
  });

  it('draws every sample line of every run as a point, a break between runs', () => {
    const ids = data.charts.map((c) => c.id);
    expect(ids).toEqual(['throughput', 'rate', 'errors', 'inflight', 'latency', 'tokens', 'cost']);
    for (const c of data.charts) {
      expect(c.points).toBe(fx.sampleLines);
      expect(c.x).toHaveLength(fx.sampleLines + 2); // two nulls: the breaks before runs 2 and 3
      for (const s of c.series) expect(s.values).toHaveLength(c.x.length);
    }
    const tokens = data.charts.find((c) => c.id === 'tokens')!;
    const input = tokens.series[0].values.filter((v): v is number => v !== null);
    expect(input.at(-1)).toBe(fx.lastSamples.reduce((a, s) => a + s.tin, 0)); // cumulative over the job
    expect(data.latency.count).toBe(data.runs.reduce((a, r) => a + r.attempts, 0)); // every attempt was answered
  });

  it('merges points down to --max-points, keeping cumulative values exact', async () => {
    const small = await loadReportData(fx.dir, { maxPoints: 60 });
    for (const c of small.charts) expect(c.points).toBeLessThanOrEqual(60);
    const tokens = (d: ReportData) => d.charts.find((c) => c.id === 'tokens')!.series[1].values.filter((v) => v !== null).at(-1);
    expect(tokens(small)).toBe(tokens(data));
    expect(small.latency).toEqual(data.latency); // the distribution is over every line, not the plotted points
  });

  it('sums failures.jsonl by status with a few examples each', () => {
    const byStatus = Object.fromEntries(Object.entries(data.failures.byStatus).map(([k, v]) => [k, v.count]));
    expect(byStatus).toEqual(fx.failuresByStatus);
    for (const g of Object.values(data.failures.byStatus)) {
      expect(g.examples.length).toBeGreaterThan(0);
      expect(g.examples.length).toBeLessThanOrEqual(3);
      expect(g.examples[0].id).toMatch(/^inputs\/part-\d\d\.jsonl:\d+$/);
    }
  });
});

describe('gempipe report', () => {
  it('writes one self-contained report.html: nothing to fetch, the data island parses back', async () => {
    const r = await reportCommand(fx.dir, { now: data.generatedAt });
    expect(r.path).toBe(join(fx.dir, 'report.html'));
    const html = readFileSync(r.path!, 'utf8');
    expect(r.bytes).toBe(Buffer.byteLength(html));
    expect(readdirSync(fx.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
    expect(html).toMatch(/uPlot/);
    const island = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1];
    expect(JSON.parse(island)).toEqual(JSON.parse(JSON.stringify(r.data)));
    expect(r.bytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('keeps a prompt that closes a script element inert', async () => {
    const { dir: d, cleanup: c } = tempDir('gempipe-report-esc-');
    try {
      writeFileSync(join(d, 'failures.jsonl'), JSON.stringify({ id: 'x:1', source: 'x', line: 1, prompt: '</script><script>alert(1)</script>', attempts: 1, error: { status: 'BLOCKED', code: 0, message: '<b>no</b>' } }) + '\n');
      const r = await reportCommand(d);
      const html = readFileSync(r.path!, 'utf8');
      expect(html).not.toContain('<script>alert(1)');
      expect(html).toContain('&#60;/script&#62;&#60;script&#62;alert(1)');
      expect(r.data.notes[0]).toMatch(/No time series/);
    } finally {
      c();
    }
  });

  it('prints a text report for terminals', async () => {
    const r = await reportCommand(fx.dir, { text: true });
    expect(r.path).toBeUndefined();
    expect(existsSync(join(fx.dir, 'report.html.tmp'))).toBe(false);
    const t = r.text!;
    expect(t).toMatch(/^gempipe report — .*: 3 run\(s\)/);
    expect(t).toContain(`  3. `);
    expect(t).toMatch(/completed \(exit 3\)/);
    expect(t).toMatch(/Throughput: records\/s +[▁▂▃▄▅▆▇█ ]+ +peak/);
    for (const [status, n] of Object.entries(fx.failuresByStatus)) expect(t).toContain(`  ${status} ${n.toLocaleString('en-US')}\n`);
    expect(t).toMatch(/where run 3's time went/);
    expect(t).not.toMatch(/where run 1's time went/); // killed: no summary
  });

  it('says what is wrong with the directory, naming the flag', async () => {
    await expect(reportCommand(join(dir, 'nowhere'))).rejects.toThrow(UsageError);
    await expect(reportCommand(join(dir, 'nowhere'))).rejects.toThrow(/No output directory at .*nowhere: give the run's `-o DIR`/);
    mkdirSync(join(dir, 'empty'));
    await expect(reportCommand(join(dir, 'empty'))).rejects.toThrow(/has no time series \(\.gempipe-series\.jsonl\) and no failures\.jsonl/);
    await expect(loadReportData(fx.dir, { maxPoints: 3 })).rejects.toThrow('Expected `--max-points` to be an integer >= 10, got `3`');
  });

  it('squeezes a series into a sparkline, gaps as spaces', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([1, null, 1], 3)).toBe('█ █');
    expect(sparkline([null])).toBe('');
  });
});

describe('a series written by format version 1', () => {
  it('still reads: its runs, points and summaries, its torn last line skipped', async () => {
    // test/fixtures/observe/series-v1: two runs (interrupted, then completed) as this version
    // wrote them, plus half a line — what the report of an old directory must still show.
    const d = await loadReportData(join(import.meta.dirname, '../fixtures/observe/series-v1'));
    expect(d.runs.map((r) => [r.outcome, r.exitCode, r.succeeded, r.failed, r.skipped, r.attempts, r.http429, r.tokensIn])).toEqual([
      ['interrupted', 130, 193, 7, 0, 289, 82, 9796],
      ['completed', 3, 199, 1, 200, 299, 82, 9499],
    ]);
    expect(d.charts.map((c) => c.points)).toEqual([70, 70, 70, 70, 70, 70, 70]);
    expect(d.notes).toEqual(['The series ends in a torn line (a process killed mid-write); it was skipped.']);
    expect(d.failures.total).toBe(8);
    expect(d.runs[1].argv).toContain('--cache');
  });
});
