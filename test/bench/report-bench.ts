// Issue 23's bench rows: the report of a 1M-record run (size; time to open in headless Chromium),
// the time series' size for a 7-day run, and what recording costs a record (A/B in one process:
// the same loop with and without the RunMeter's hooks and a recorder ticking every second).
// Run: npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/report-bench.js
// (--quick: 100k records, 1 day; --only report|week|recording: one section). It imports the built modules from dist/ (this file compiles
// apart from src/, like run.ts); it needs /usr/bin/chromium (or $GEMPIPE_CHROMIUM) for the open time.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.argv.includes('--quick');
/** --only report|week|recording: one section. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const run = (section: string) => ONLY === undefined || ONLY === section;
const load = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(ROOT, 'dist', p)).href)) as T;
const synthetic = await load<typeof import('../../dist/observe/synthetic-run.js')>('observe/synthetic-run.js');
const report = await load<typeof import('../../dist/observe/report.js')>('observe/report.js');
const timeseries = await load<typeof import('../../dist/observe/timeseries.js')>('observe/timeseries.js');
const meterMod = await load<typeof import('../../dist/observe/run-meter.js')>('observe/run-meter.js');
const snapshot = await load<typeof import('../../dist/observe/snapshot.js')>('observe/snapshot.js');
const statsMod = await load<typeof import('../../dist/stats.js')>('stats.js');

const work = mkdtempSync(join(tmpdir(), 'gempipe-report-bench-'));
const rows: Array<[string, string, string]> = [];
const log = (s: string) => process.stderr.write(`report-bench: ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;

function chromiumPath(): string | undefined {
  const p = process.env.GEMPIPE_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(p) ? p : undefined;
}

/** Opens a report `times` times in fresh pages of one browser: wall ms from goto to every chart drawn, and the page's own clock. */
async function openTimes(file: string, times = 3): Promise<{ wall: number[]; page: number[] } | undefined> {
  const exe = chromiumPath();
  if (!exe) return undefined;
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const wall: number[] = [];
  const page: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      const t0 = performance.now();
      await p.goto(pathToFileURL(file).href);
      await p.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60_000 });
      wall.push(performance.now() - t0);
      page.push(await p.evaluate(() => (window as unknown as { __reportReady: number }).__reportReady));
      if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
      await p.close();
    }
  } finally {
    await browser.close();
  }
  return { wall, page };
}

// 1. The report of a 1M-record run: two runs (interrupted at 40%, resumed), 3,000 rpm quota.
if (run('report')) {
  const records = QUICK ? 100_000 : 1_000_000;
  const dir = join(work, 'job-1m');
  let t = performance.now();
  const job = synthetic.writeSyntheticJob(dir, { records, runs: [{ until: 0.4, end: 'interrupted' }, { until: 1 }], burstEverySec: 900, stormEverySec: 1800 });
  log(`synthetic ${records.toLocaleString('en-US')}-record job written in ${((performance.now() - t) / 1000).toFixed(1)} s: ${job.samples.join(' + ')} sample lines, ${job.failures} failures`);
  const seriesBytes = statSync(job.seriesPath).size;
  const failuresBytes = statSync(join(dir, 'failures.jsonl')).size;
  const builds: number[] = [];
  let r!: Awaited<ReturnType<typeof report.reportCommand>>;
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    r = await report.reportCommand(dir);
    builds.push(performance.now() - t);
  }
  rows.push([`report of a ${records.toLocaleString('en-US')}-record run (2 runs, ${(job.summaries[1]!.wallMs / 3_600_000 + job.summaries[0]!.wallMs / 3_600_000).toFixed(1)} h, ${job.failures.toLocaleString('en-US')} failures): report.html size`, mb(r.bytes), '< 2 MB']);
  rows.push(['  its inputs: the series / failures.jsonl', `${kb(seriesBytes)} / ${kb(failuresBytes)}`, '']);
  rows.push(['  gempipe report build time (median of 3)', `${Math.round(median(builds))} ms`, '']);
  const open = await openTimes(r.path!);
  if (open) rows.push(['  open in headless Chromium until every chart is drawn (wall, median of 3 fresh pages; page clock)', `${Math.round(median(open.wall))} ms (${Math.round(median(open.page))} ms)`, '< 2 s']);
  else rows.push(['  open in headless Chromium', 'skipped: no chromium', '< 2 s']);
}

// 2. A 7-day run: how large the series grows.
if (run('week')) {
  const days = QUICK ? 1 : 7;
  const dir = join(work, 'job-week');
  const rps = 5;
  const t = performance.now();
  const job = synthetic.writeSyntheticJob(dir, { records: days * 86_400 * rps, quotaRpm: Math.ceil((rps * 60) / 0.98) + 1, concurrency: 8, runs: [{ until: 1 }] });
  const bytes = statSync(job.seriesPath).size;
  log(`${days}-day job written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  rows.push([`time series of a ${days}-day run (${rps} records/s, ${(days * 86_400 * rps).toLocaleString('en-US')} records)`, `${mb(bytes)}, ${job.samples[0].toLocaleString('en-US')} lines`, 'bounded']);
  const r = await report.reportCommand(dir);
  const open = await openTimes(r.path!, 1);
  rows.push([`  its report.html${open ? ' / open in Chromium' : ''}`, `${mb(r.bytes)}${open ? ` / ${Math.round(open.wall[0])} ms` : ''}`, '']);
}

// 3. What recording costs a record: the generate work's bookkeeping for a success, with and
// without the RunMeter's hooks and a recorder ticking every second (real timers), in turns —
// and the same loop twice without, to show what the machine's noise alone moves.
if (run('recording')) {
  const N = QUICK ? 2_000_000 : 10_000_000;
  const record = { id: 'inputs/a.txt:1', source: 'inputs/a.txt', line: 1, prompt: 'Classify the sentiment of this review: great value.', response: 'positive', model: 'gemini-2.5-flash', finishReason: 'STOP', usage: { promptTokens: 14, responseTokens: 1, totalTokens: 15 }, attempts: 1, latencyMs: 800 };
  type Stats = ReturnType<typeof statsMod.createStats>;
  type Meter = ReturnType<typeof meterMod.createRunMeter>;
  // What every success does to the counters (generate.ts), and the writer's JSON line.
  const bare = (stats: Stats, _m: Meter, i: number) => {
    stats.attempts++;
    stats.apiMs += 700 + (i & 1023);
    stats.tokensIn += 14;
    stats.tokensOut += 1;
    stats.succeeded++;
    return JSON.stringify(record).length;
  };
  const metered = (stats: Stats, m: Meter, i: number) => {
    stats.attempts++;
    stats.apiMs += 700 + (i & 1023);
    stats.tokensIn += 14;
    stats.tokensOut += 1;
    stats.succeeded++;
    m.attempt(200, 700 + (i & 1023));
    m.usage(record.usage);
    return JSON.stringify(record).length;
  };
  async function loop(step: typeof bare, withRecorder: boolean): Promise<number> {
    const dir = mkdtempSync(join(work, 'ab-'));
    const stats = statsMod.createStats();
    const meter = meterMod.createRunMeter();
    const rec = withRecorder ? timeseries.createSeriesRecorder({ dir, sample: snapshot.createSampler({ stats, meter }), model: 'gemini-2.5-flash', mode: 'online' }) : undefined;
    let sink = 0;
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      sink += step(stats, meter, i);
      if ((i & 4095) === 0) await tick(); // let the recorder's timer run
    }
    const cpu = process.cpuUsage(t0);
    rec?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (sink === 0) throw new Error('unreachable');
    return ((cpu.user + cpu.system) * 1000) / N; // ns a record
  }
  const a: number[] = [];
  const a2: number[] = [];
  const b: number[] = [];
  for (let k = 0; k < 5; k++) {
    a.push(await loop(bare, false));
    b.push(await loop(metered, true));
    a2.push(await loop(bare, false));
  }
  const extra = median(b) - median(a);
  rows.push([`recording, per record: the same loop (${(N / 1e6).toFixed(0)}M records: counters + JSON line) without / with the meter's hooks and a recorder ticking every second (CPU, medians of 5 in turns)`, `${median(a).toFixed(0)} / ${median(b).toFixed(0)} ns (+${extra.toFixed(0)} ns, ${((extra / median(a)) * 100).toFixed(1)}% of this loop)`, '']);
  rows.push(['  noise: the loop without, run again in the same turns (A/A)', `${median(a2).toFixed(0)} ns (${(((median(a2) - median(a)) / median(a)) * 100).toFixed(1)}%)`, '']);
  // The same extra against what a record costs the real pipeline at its ceiling (bench row 1a:
  // 10,288 records/s on one core, about 97 µs a record).
  rows.push(['  against a real run\'s cost per record (97 µs at its 10,288 records/s ceiling, bench row 1a)', `${((extra / 97_000) * 100).toFixed(3)}%`, '< 2%']);
  // The per-tick work: a sample and a line, timed alone (worst case: a line every tick).
  const dir = mkdtempSync(join(work, 'tick-'));
  const stats = statsMod.createStats();
  const meter = meterMod.createRunMeter();
  for (let i = 0; i < 1000; i++) meter.attempt(i % 50 === 0 ? 503 : 200, 300 + i * 3);
  let now = Date.now();
  const rec = timeseries.createSeriesRecorder({ dir, sample: snapshot.createSampler({ stats, meter }), model: 'm', mode: 'online', now: () => now, tickMs: 2 ** 31 - 1 });
  const M = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < M; i++) {
    now += 1000;
    stats.succeeded += 50;
    meter.attempt(200, 500 + (i % 700));
    rec.tick();
  }
  const perTick = ((performance.now() - t0) * 1000) / M;
  rec.stop();
  rows.push(['  one tick that writes a line (sample, JSON, write)', `${perTick.toFixed(1)} µs = ${(perTick / 1e4).toFixed(4)}% of a second`, '']);
}

rmSync(work, { recursive: true, force: true });
process.stdout.write('| scenario | figure | target |\n|---|---|---|\n');
for (const [s, f, t] of rows) process.stdout.write(`| ${s} | ${f} | ${t} |\n`);
