import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStats, summarize, type RunStats } from '../../src/stats.js';
import { createRunMeter, type RunMeter } from '../../src/observe/run-meter.js';
import { createSampler } from '../../src/observe/snapshot.js';
import { compactSeriesText, createSeriesRecorder, cleanArgv, type SeriesRecorderOptions } from '../../src/observe/timeseries.js';
import { downsample, lineEvery, mergeSamples, parseSeriesLine, SERIES_FILE, type SampleLine } from '../../src/observe/series-format.js';
import { readSeries } from '../../src/observe/series-reader.js';
import type { LimiterState } from '../../src/quota/limiter.js';
import { tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('gempipe-series-'));
});
afterEach(() => {
  vi.useRealTimers();
  cleanup();
});

const T0 = Date.parse('2026-11-02T09:00:00Z');

function lines(): string[] {
  const text = readFileSync(join(dir, SERIES_FILE), 'utf8');
  return text.split('\n').filter((l) => l !== '');
}

function samplesOf(ls: string[]): SampleLine[] {
  return ls.map((l) => parseSeriesLine(l)).filter((l): l is SampleLine => l !== undefined && 't' in l);
}

interface Run {
  stats: RunStats;
  meter: RunMeter;
  limiter: { st: Partial<LimiterState>; state(): LimiterState; learned(): { rpm?: { value: number; source: 'server' | 'adaptive' } } };
}

function run(now: () => number, extra: Partial<SeriesRecorderOptions> = {}) {
  const stats = createStats(now());
  const meter = createRunMeter();
  const limiter: Run['limiter'] = {
    st: {},
    state() {
      return { pausedUntil: 0, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, adaptive: false, ...this.st };
    },
    learned: () => ({}),
  };
  const rec = createSeriesRecorder({ dir, sample: createSampler({ stats, meter, limiter, now }), model: 'gemini-2.5-flash', mode: 'online', now, argv: ['gempipe', '-o', dir], ...extra });
  return { stats, meter, limiter, rec };
}

describe('the time series recorder', () => {
  it('writes no sample line while held (the writer cannot write: the space left is the records\'), then one line for the whole interval', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: T0 });
    let held = false;
    const { stats, meter, rec } = run(Date.now, { hold: () => held });
    const step = (n: number) => {
      for (let s = 0; s < n; s++) {
        stats.succeeded += 10;
        meter.attempt(200, 100);
        vi.advanceTimersByTime(1000);
      }
    };
    step(3);
    const before = samplesOf(lines()).length;
    expect(before).toBe(3);
    held = true;
    step(5);
    expect(samplesOf(lines()).length).toBe(before);
    held = false;
    step(1);
    const samples = samplesOf(lines());
    expect(samples.length).toBe(before + 1);
    const last = samples.at(-1)!;
    expect(last.t).toBe(9000);
    expect(last.ok).toBe(90);
    // Its latencies are the six seconds since the line before, not only the last one.
    expect((last.lat ?? []).slice(1).reduce((a, b) => a + b, 0)).toBe(6);
    rec.stop();
  });

  it('writes a header, then a line every second for ten minutes, then every five seconds; counters cumulative, latencies per line', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: T0 });
    const { stats, meter, rec } = run(Date.now);
    for (let s = 1; s <= 12 * 60; s++) {
      stats.succeeded += 10;
      stats.attempts += 11;
      stats.inFlight = 7;
      for (let k = 0; k < 10; k++) meter.attempt(200, 800);
      meter.attempt(503, 50);
      vi.advanceTimersByTime(1000);
    }
    rec.stop();
    const ls = lines();
    const head = parseSeriesLine(ls[0]);
    expect(head && 'seg' in head && head.seg.model).toBe('gemini-2.5-flash');
    expect(head && 'seg' in head && head.seg.start).toBe(T0);
    const samples = samplesOf(ls);
    const gaps = samples.slice(1).map((s, i) => [samples[i].t, s.t - samples[i].t]);
    expect(new Set(gaps.filter(([t]) => t < 599_000).map(([, g]) => g))).toEqual(new Set([1000]));
    expect(new Set(gaps.filter(([t]) => t >= 604_000 && t < 715_000).map(([, g]) => g))).toEqual(new Set([5000]));
    // Counters are cumulative: the line at t = 60 s says 600 records, 660 requests.
    const at60 = samples.find((s) => s.t === 60_000)!;
    expect(at60).toMatchObject({ ok: 600, req: 660, codes: { 200: 600, 503: 60 }, inflight: 7, inflightMax: 7 });
    // Latencies are the line's own: 10 answers of 800 ms and one of 50 ms a second.
    const latCount = (s: SampleLine) => (s.lat ?? []).slice(1).reduce((a, b) => a + b, 0);
    expect(latCount(at60)).toBe(11);
    const at5min = samples.find((s) => s.t === 609_000)!;
    expect(latCount(at5min)).toBe(55); // five seconds' worth
    // Every answered attempt is in exactly one line.
    expect(samples.reduce((a, s) => a + latCount(s), 0)).toBe(11 * 720);
    const end = parseSeriesLine(ls.at(-1)!);
    expect(end && 'end' in end && end.end.at).toBe(T0 + 720_000);
  });

  it('stays bounded: a 7-day run writes about 5,200 lines and under 2 MB', () => {
    let t = T0;
    const { stats, meter, limiter, rec } = run(() => t, { tickMs: 2 ** 31 - 1 });
    limiter.st = { rpm: 2940 };
    const week = 7 * 86_400;
    for (let s = 1; s <= week; s++) {
      t += 1000;
      stats.succeeded += 49;
      stats.failed += s % 100 === 0 ? 1 : 0;
      stats.attempts += 50;
      stats.retries += 1;
      stats.http429 += s % 10 === 0 ? 1 : 0;
      stats.tokensIn += 49 * 45;
      stats.tokensOut += 49 * 180;
      stats.inFlight = 40 + (s % 7);
      meter.codes[200] += 49;
      meter.codes[503] += 1;
      // A spread of latencies: about ten buckets a line.
      for (let k = 0; k < 10; k++) meter.latency.observe(400 + k * 150);
      rec.tick();
    }
    rec.stop(summarize(stats, 'completed', 0, t));
    const ls = lines();
    const expected = 600 + (3600 - 600) / 5 + (6 * 3600 - 3600) / 15 + (86_400 - 6 * 3600) / 60 + (week - 86_400) / 300;
    expect(Math.abs(ls.length - expected)).toBeLessThan(10);
    const bytes = statSync(join(dir, SERIES_FILE)).size;
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    const last = samplesOf(ls).at(-1)!;
    expect(last.ok).toBe(49 * week);
  });

  it('gives each run of a resumed job its own segment, the summary as its closing line', async () => {
    let t = T0;
    const first = run(() => t, { tickMs: 2 ** 31 - 1 });
    for (let s = 0; s < 30; s++) {
      t += 1000;
      first.stats.succeeded += 5;
      first.rec.tick();
    }
    const s1 = summarize(first.stats, 'interrupted', 130, t);
    first.rec.stop(s1);
    t += 3_600_000;
    const second = run(() => t, { tickMs: 2 ** 31 - 1, model: 'gemini-2.5-pro' });
    second.stats.skipped = 150;
    for (let s = 0; s < 20; s++) {
      t += 1000;
      second.stats.succeeded += 3;
      second.rec.tick();
    }
    second.rec.stop(summarize(second.stats, 'completed', 0, t));
    const series = await readSeries(dir);
    expect(series.segments.map((s) => [s.header.model, s.samples.length, s.end?.summary?.outcome, s.samples.at(-1)?.ok])).toEqual([
      ['gemini-2.5-flash', 31, 'interrupted', 150],
      ['gemini-2.5-pro', 21, 'completed', 60],
    ]);
    expect(series.segments[1].header.start).toBe(T0 + 30_000 + 3_600_000);
    expect(series.segments[0].end!.summary!.succeeded).toBe(s1.succeeded);
    expect(series.segments[1].samples[0].skip).toBe(150);
    expect(series.skippedLines).toBe(0);
  });

  it('skips a torn last line on read, and cuts it off before the next run\'s header', async () => {
    let t = T0;
    const first = run(() => t, { tickMs: 2 ** 31 - 1 });
    for (let s = 0; s < 5; s++) {
      t += 1000;
      first.stats.succeeded++;
      first.rec.tick();
    }
    // Killed mid-write: no end line, half a line.
    const size = statSync(join(dir, SERIES_FILE)).size;
    first.rec.stop();
    writeFileSync(join(dir, SERIES_FILE), readFileSync(join(dir, SERIES_FILE)).subarray(0, size));
    appendFileSync(join(dir, SERIES_FILE), '{"t":6000,"ok":');
    const torn = await readSeries(dir);
    expect(torn.tornTail).toBe(true);
    expect(torn.segments[0].samples.map((s) => s.ok)).toEqual([1, 2, 3, 4, 5]);
    expect(torn.segments[0].end).toBeUndefined();

    const warnings: string[] = [];
    const second = run(() => t, { tickMs: 2 ** 31 - 1, onWarn: (l) => warnings.push(l) });
    second.rec.stop();
    expect(warnings.join('\n')).toMatch(/cut a torn last line \(15 bytes\)/);
    const text = readFileSync(join(dir, SERIES_FILE), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const l of text.slice(0, -1).split('\n')) expect(parseSeriesLine(l)).toBeDefined();
    const again = await readSeries(dir);
    expect(again.tornTail).toBe(false);
    expect(again.segments.map((s) => s.samples.length)).toEqual([5, 1]);
  });

  it('drops its lines on a full disk, says so once, and never throws into the run', { skip: !existsSync('/dev/full') }, () => {
    symlinkSync('/dev/full', join(dir, SERIES_FILE));
    let t = T0;
    const warnings: string[] = [];
    const { stats, rec } = run(() => t, { tickMs: 2 ** 31 - 1, onWarn: (l) => warnings.push(l) });
    for (let s = 0; s < 5; s++) {
      t += 1000;
      stats.succeeded++;
      rec.tick();
    }
    rec.stop(summarize(stats, 'completed', 0, t));
    expect(rec.written).toBe(0);
    expect(rec.dropped).toBe(8); // header, 5 lines, the last line, the end line
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot write the time series .*ENOSPC.*the run goes on/);
  });

  it('goes on without a series when its file cannot be opened, saying so once', () => {
    mkdirSync(join(dir, SERIES_FILE)); // EISDIR, as a read-only directory would refuse it
    let t = T0;
    const warnings: string[] = [];
    const { stats, rec } = run(() => t, { tickMs: 2 ** 31 - 1, onWarn: (l) => warnings.push(l) });
    t += 1000;
    stats.succeeded++;
    rec.tick();
    rec.stop(summarize(stats, 'completed', 0, t));
    expect([rec.written, rec.dropped]).toEqual([0, 0]);
    expect(warnings).toEqual([`gempipe: cannot keep the time series ${join(dir, SERIES_FILE)} (EISDIR); the run goes on without it`]);
  });

  it('counts RetryInfo pauses and the share of each interval spent paused', () => {
    let t = T0;
    const { limiter, rec } = run(() => t, { tickMs: 2 ** 31 - 1 });
    const step = () => {
      t += 1000;
      rec.tick();
    };
    step(); // t = 1 s
    limiter.st = { pausedUntil: t + 3000 }; // a 3 s pause seen at 1 s
    step();
    step();
    step(); // t = 4 s: over
    limiter.st = { pausedUntil: t + 2000 };
    step();
    step();
    rec.stop();
    const s = samplesOf(lines());
    expect(s.map((x) => x.paused ?? 0)).toEqual([0, 1, 1, 0, 1, 0, 0]);
    expect(s.at(-1)).toMatchObject({ pauses: 2, pausedMs: 5000 });
  });

  it('merges its older segments down when the file passes maxBytes at a start, keeping each run\'s last counts and summary', async () => {
    let t = T0;
    for (let r = 0; r < 3; r++) {
      const x = run(() => t, { tickMs: 2 ** 31 - 1 });
      for (let s = 0; s < 2000; s++) {
        t += 1000;
        x.stats.succeeded += 2;
        x.meter.attempt(200, 500 + (s % 50) * 20);
        x.rec.tick();
      }
      x.rec.stop(summarize(x.stats, 'completed', 0, t));
    }
    const before = await readSeries(dir);
    const big = statSync(join(dir, SERIES_FILE)).size;
    const last = run(() => t, { tickMs: 2 ** 31 - 1, maxBytes: Math.floor(big / 2) });
    last.rec.stop();
    expect(statSync(join(dir, SERIES_FILE)).size).toBeLessThanOrEqual(Math.floor(big / 4) + 2000);
    const after = await readSeries(dir);
    expect(after.segments).toHaveLength(4);
    for (let r = 0; r < 3; r++) {
      expect(after.segments[r].samples.length).toBeLessThan(before.segments[r].samples.length);
      expect(after.segments[r].samples.at(-1)!.ok).toBe(before.segments[r].samples.at(-1)!.ok);
      expect(after.segments[r].end!.summary!.succeeded).toBe(4000);
      // No latency is lost by merging.
      const lat = (ss: SampleLine[]) => ss.flatMap((s) => (s.lat ?? []).slice(1)).reduce((a, b) => a + b, 0);
      expect(lat(after.segments[r].samples)).toBe(lat(before.segments[r].samples));
    }
  });

  it('keeps credentials out of the command line it records', () => {
    expect(cleanArgv(['--redis', 'redis://user:secret@host:6379', '--base-url', 'https://x.test/v1?key=AIzaSECRET&alt=json'])).toEqual(['--redis', 'redis://host:6379', '--base-url', 'https://x.test/v1?key=***&alt=json']);
  });
});

describe('merging samples', () => {
  it('takes cumulative counts and rates from the last, sums latency buckets, averages in-flight by interval length', () => {
    const a: SampleLine = { t: 1000, ok: 5, inflight: 10, inflightMax: 12, rpm: 100, lat: [10, 2, 1], paused: 1 };
    const b: SampleLine = { t: 4000, ok: 9, inflight: 2, inflightMax: 3, rpm: 200, lat: [11, 4, 0, 1] };
    expect(mergeSamples([a, b], 0)).toEqual({ t: 4000, ok: 9, rpm: 200, inflight: 4, inflightMax: 12, paused: 0.25, lat: [10, 2, 5, 0, 1] });
    expect(downsample([a, b, { t: 5000, ok: 10 }], 2).map((s) => s.t)).toEqual([4000, 5000]);
  });

  it('spaces lines by age: 1 s, 5 s, 15 s, 60 s, 5 min', () => {
    expect([0, 599_999, 600_000, 3_600_000, 6 * 3_600_000, 86_400_000, 30 * 86_400_000].map((a) => lineEvery(a))).toEqual([1000, 1000, 5000, 15_000, 60_000, 300_000, 300_000]);
  });

  it('compacts a text to its budget, keeping the oldest runs\' headers and summaries when even 16 points a run do not fit', () => {
    const seg = (i: number) => [JSON.stringify({ seg: { v: 1, run: `r${i}`, start: i, model: 'm', mode: 'online', argv: [], settings: {} } }), ...Array.from({ length: 100 }, (_, k) => JSON.stringify({ t: (k + 1) * 1000, ok: k + 1 })), JSON.stringify({ end: { at: i + 100_000 } })].join('\n') + '\n';
    const text = Array.from({ length: 50 }, (_, i) => seg(i)).join('');
    const out = compactSeriesText(text, 20_000);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(20_000);
    const parsed = out.trim().split('\n').map((l) => parseSeriesLine(l)!);
    expect(parsed.filter((l) => 'seg' in l)).toHaveLength(50);
    expect(parsed.filter((l) => 'end' in l)).toHaveLength(50);
  });
});
