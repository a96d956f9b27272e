// npm run bench: gempipe against baselines in the same run, each against its own emulator
// child process (so the emulator's CPU is not gempipe's). Prints a markdown table (scenario,
// gempipe, baseline, ratio, target, met?) and writes the same to bench-results.json.
// Scenarios: issue #5 (overhead, latency hiding, memory, CPU, rate accuracy) and issue #4
// (unknown quota, adaptive). Figures are medians where a scenario repeats; the machine is
// noisy, so read ratios, not bare times. `--quick` shrinks every scenario (a smoke run).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { embedBench } from './embed-bench.js';
import { quotaFamily } from './quota-family.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const MAIN = join(ROOT, 'dist/main.js');
const QUICK = process.argv.includes('--quick');
const work = mkdtempSync(join(tmpdir(), 'gempipe-bench-'));

interface Row { scenario: string; gempipe: string; baseline: string; ratio: string; target: string; met: boolean | null; note?: string }
const rows: Row[] = [];
const raw: Record<string, unknown> = {};

function log(s: string): void {
  process.stderr.write(`bench: ${s}\n`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

interface Emu { url: string; proc: ChildProcess; stats(): Promise<{ requests: number; ok: number; http429: number }>; stop(): Promise<void> }

async function startEmulator(args: string[]): Promise<Emu> {
  const proc = spawn(process.execPath, [MAIN, 'emulator', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) res(buf.slice(0, i).trim());
    });
    proc.on('exit', (c) => rej(new Error(`emulator exited ${c}`)));
  });
  return {
    url, proc,
    async stats() {
      const r = await fetch(`${url}/emulator/stats`);
      return (await r.json()) as { requests: number; ok: number; http429: number };
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

function procCpuMs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(parts[11]) + Number(parts[12])) * 1000) / 100; // utime + stime, 100 Hz ticks
  } catch {
    return undefined;
  }
}

function procRssMB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface ProcResult { code: number | null; wallMs: number; stdout: string; stderr: string; peakRssMB: number }

/** Runs a node script; samples its RSS every 100 ms; SIGINT after `stopAfterMs` if given. */
function runNode(args: string[], opts: { env?: NodeJS.ProcessEnv; stopAfterMs?: number; onSample?: (pid: number, t: number) => void } = {}): Promise<ProcResult> {
  const t0 = Date.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, GEMINI_API_KEY: 'bench-key', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  let peak = 0;
  const sampler = setInterval(() => {
    const r = procRssMB(child.pid!);
    if (r !== undefined) peak = Math.max(peak, r);
    opts.onSample?.(child.pid!, Date.now() - t0);
  }, 100);
  const stopper = opts.stopAfterMs ? setTimeout(() => child.kill('SIGINT'), opts.stopAfterMs) : undefined;
  return new Promise((res) => {
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (stopper) clearTimeout(stopper);
      res({ code, wallMs: Date.now() - t0, stdout, stderr, peakRssMB: peak });
    });
  });
}

function writeLines(path: string, from: number, n: number): void {
  const chunk: string[] = [];
  const ws: string[] = []; // joined once: 2M short lines are ~50 MB, fine for the bench process
  for (let i = from; i < from + n; i++) {
    chunk.push(`What is two times ${i}?`);
    if (chunk.length === 10_000) {
      ws.push(chunk.join('\n') + '\n');
      chunk.length = 0;
    }
  }
  if (chunk.length) ws.push(chunk.join('\n') + '\n');
  writeFileSync(path, ws.join(''));
}

function inputs(name: string, files: number, perFile: number): string {
  const dir = join(work, name);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < files; f++) writeLines(join(dir, `part-${String(f).padStart(3, '0')}.txt`), f * perFile, perFile);
  }
  return dir;
}

function gempipeArgs(out: string, extra: string[]): string[] {
  return [MAIN, '-o', out, '-q', '--summary-json', `${out}.summary.json`, ...extra];
}

function summaryOf(out: string): { wallMs: number; succeeded: number; attempts: number; http429: number; process: { cpuUserMs: number; cpuSystemMs: number; peakRssMB: number } } {
  return JSON.parse(readFileSync(`${out}.summary.json`, 'utf8'));
}

function countShardRecords(out: string): { total: number; unique: number } {
  const ids = new Set<string>();
  let total = 0;
  for (const f of readdirSync(out)) {
    if (!f.endsWith('.jsonl') || f.startsWith('.')) continue; // records, not the time series (.gempipe-series.jsonl)
    for (const l of readFileSync(join(out, f), 'utf8').split('\n')) {
      if (!l) continue;
      total++;
      ids.add((JSON.parse(l) as { id: string }).id);
    }
  }
  return { total, unique: ids.size };
}

/** The emulator's answer count over time, sampled (one stats request at a time) as a run goes. */
function sampleAnswers(emu: Emu): { series: Array<{ t: number; ok: number }>; onSample: (pid: number, t: number) => void } {
  const series: Array<{ t: number; ok: number }> = [];
  let busy = false;
  const onSample = (_pid: number, t: number) => {
    if (busy) return;
    busy = true;
    void emu.stats().then((s) => {
      busy = false;
      series.push({ t, ok: s.ok });
    }, () => (busy = false));
  };
  return { series, onSample };
}

let seq = 0;
const outDir = () => join(work, `out-${seq++}`);

// 1. Overhead: latency 0, 20,000 prompts in 10 files, 64 in flight, shards of 1,000.
async function overhead(): Promise<void> {
  const per = QUICK ? 200 : 2000;
  const n = per * 10;
  const dir = inputs('overhead', 10, per);
  const emu = await startEmulator([]);
  const reps = QUICK ? 1 : 3;
  const g: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < reps; i++) {
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--shard-size', '1000', '--rpm', 'off', dir]));
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const c = countShardRecords(out);
    if (c.total !== n || c.unique !== n) throw new Error(`overhead: ${c.total} records, ${c.unique} unique, expected ${n}`);
    g.push((n / r.wallMs) * 1000);
    const files = readdirSync(dir).map((f) => join(dir, f));
    const ra = await runNode([join(HERE, 'baseline-sdk.js'), emu.url, '64', join(work, `baseline-${i}.jsonl`), ...files]);
    if (ra.code !== 0) throw new Error(`baseline (a) exited ${ra.code}: ${ra.stderr}`);
    a.push((n / ra.wallMs) * 1000);
    const rb = await runNode([join(HERE, 'baseline-raw.js'), emu.url, '64', String(n)]);
    if (rb.code !== 0) throw new Error(`baseline (b) exited ${rb.code}: ${rb.stderr}`);
    b.push((n / rb.wallMs) * 1000);
    log(`overhead rep ${i + 1}: gempipe ${fmt(g[i])}/s, SDK loop ${fmt(a[i])}/s, raw HTTP ${fmt(b[i])}/s`);
  }
  await emu.stop();
  const gm = median(g);
  const am = median(a);
  const bm = median(b);
  // Ratios are paired per repetition (the three programs run back to back), then the median.
  const ra = median(g.map((x, i) => x / a[i]));
  const rb = median(g.map((x, i) => x / b[i]));
  raw.overhead = { prompts: n, gempipe: g, baselineSdk: a, rawHttp: b, ratioSdk: ra, ratioRaw: rb };
  rows.push({ scenario: `1a. overhead: ${fmt(n)} prompts, latency 0, 64 in flight (records/s, process start to exit; medians of ${reps})`, gempipe: fmt(gm), baseline: `(a) SDK loop ${fmt(am)}`, ratio: `${ra.toFixed(2)}×`, target: '≥ 2.5×', met: ra >= 2.5 });
  rows.push({ scenario: '1b. overhead vs the ceiling', gempipe: fmt(gm), baseline: `(b) raw HTTP ${fmt(bm)}`, ratio: `${(rb * 100).toFixed(0)}%`, target: '≥ 60%', met: rb >= 0.6 });
}

// 2. Latency hiding: latency 200 ms, 5,000 prompts, 200 in flight: wall ≤ 1.10 × ideal.
async function latencyHiding(): Promise<void> {
  const n = QUICK ? 1000 : 5000;
  const dir = inputs('latency', 1, n);
  const emu = await startEmulator(['--latency-ms', '200']);
  const out = outDir();
  const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '200', '--rpm', 'off', dir]));
  await emu.stop();
  if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
  const s = summaryOf(out);
  const ideal = (n * 200) / 200;
  raw.latency = { prompts: n, wallMs: s.wallMs, processWallMs: r.wallMs, idealMs: ideal };
  rows.push({ scenario: `2. latency hiding: ${fmt(n)} prompts × 200 ms, 200 in flight (run wall time)`, gempipe: `${fmt(s.wallMs / 1000, 2)} s`, baseline: `ideal ${fmt(ideal / 1000, 2)} s`, ratio: `${(s.wallMs / ideal).toFixed(3)}×`, target: '≤ 1.10×', met: s.wallMs / ideal <= 1.1 });
}

// 3. Memory: 2,000,000 lines (and 200,000), latency 50 ms, 64 in flight, sampled for a window.
async function memory(): Promise<void> {
  const big = QUICK ? 200_000 : 2_000_000;
  const small = big / 10;
  const windowMs = QUICK ? 4000 : 12_000;
  const bigDir = inputs('mem-big', 1, big);
  const smallDir = inputs('mem-small', 1, small);
  const emu = await startEmulator(['--latency-ms', '50']);
  const run = async (dir: string) => {
    const r = await runNode(gempipeArgs(outDir(), ['--base-url', emu.url, '--concurrency', '64', '--rpm', 'off', dir]), { stopAfterMs: windowMs });
    if (r.code !== 130 && r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    return r.peakRssMB;
  };
  const gBig = await run(bigDir);
  const gSmall = await run(smallDir);
  const a = await runNode([join(HERE, 'baseline-sdk.js'), emu.url, '64', join(work, 'baseline-mem.jsonl'), join(bigDir, 'part-000.txt')], { stopAfterMs: windowMs });
  await emu.stop();
  raw.memory = { bigLines: big, smallLines: small, windowMs, gempipeBigMB: gBig, gempipeSmallMB: gSmall, baselineBigMB: a.peakRssMB };
  rows.push({ scenario: `3a. memory: ${fmt(big)} lines, latency 50 ms, 64 in flight (peak RSS over ${windowMs / 1000} s)`, gempipe: `${fmt(gBig)} MB`, baseline: `(a) SDK loop ${fmt(a.peakRssMB)} MB`, ratio: `${(gBig / a.peakRssMB).toFixed(2)}×`, target: '≤ 150 MB', met: gBig <= 150 });
  rows.push({ scenario: `3b. memory: ${fmt(big)} vs ${fmt(small)} lines`, gempipe: `${fmt(gBig)} MB`, baseline: `${fmt(gSmall)} MB with ${fmt(small)}`, ratio: `${(gBig / gSmall).toFixed(2)}×`, target: '1.00 ± 0.10', met: Math.abs(gBig / gSmall - 1) <= 0.1 });
}

// 4. CPU cost at ~500 records/s (latency 200 ms, 100 in flight).
async function cpuCost(): Promise<void> {
  const n = QUICK ? 2000 : 5000;
  const dir = inputs('cpu', 1, n);
  const emu = await startEmulator(['--latency-ms', '200']);
  const out = outDir();
  // Steady state: CPU and answers between 2 s in (start-up done) and the last answer.
  let first: { cpu: number; ok: number } | undefined;
  let last: { cpu: number; ok: number } | undefined;
  let busy = false;
  const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '100', '--rpm', 'off', dir]), {
    onSample: (pid, t) => {
      if (busy || t < 2000) return;
      busy = true;
      const cpu = procCpuMs(pid);
      void emu.stats().then((s) => {
        busy = false;
        if (cpu === undefined) return;
        if (!first) first = { cpu, ok: s.ok };
        else if (s.ok < n) last = { cpu, ok: s.ok };
      }, () => (busy = false));
    },
  });
  // Baseline (a) at the same rate, whole process (its start-up included, like gempipe's "whole").
  const ra = await runNode([join(HERE, 'baseline-sdk.js'), emu.url, '100', join(work, 'baseline-cpu.jsonl'), join(dir, 'part-000.txt')]);
  await emu.stop();
  if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
  if (ra.code !== 0) throw new Error(`baseline (a) exited ${ra.code}: ${ra.stderr}`);
  const base = JSON.parse(ra.stdout) as { records: number; cpuUs: number };
  const baseUs = base.cpuUs / base.records;
  const s = summaryOf(out);
  const whole = ((s.process.cpuUserMs + s.process.cpuSystemMs) * 1000) / s.succeeded;
  const steady = first && last && last.ok > first.ok ? ((last.cpu - first.cpu) * 1000) / (last.ok - first.ok) : NaN;
  raw.cpu = { prompts: n, wallMs: s.wallMs, recordsPerSec: (n / s.wallMs) * 1000, wholeProcessUsPerRecord: whole, steadyUsPerRecord: steady, baselineSdkWholeUsPerRecord: baseUs, first, last };
  rows.push({ scenario: `4. CPU per record at ${fmt((n / s.wallMs) * 1000)} records/s (latency 200 ms, 100 in flight), steady state`, gempipe: `${fmt(steady)} µs (whole process ${fmt(whole)} µs)`, baseline: `(a) SDK loop, whole process ${fmt(baseUs)} µs`, ratio: `${(whole / baseUs).toFixed(2)}× (whole)`, target: '≤ 100 µs', met: steady <= 100 });
}

// 5. Rate accuracy: quota 50 req/s, --rpm 3000. 6. The same quota unknown (adaptive).
async function rate(known: boolean): Promise<void> {
  const n = QUICK ? 600 : 3000;
  const dir = inputs('rate', 1, n);
  const emu = await startEmulator(['--rpm', '3000']);
  const out = outDir();
  const { series, onSample } = sampleAnswers(emu);
  const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', ...(known ? ['--rpm', '3000'] : []), dir]), { onSample });
  const es = await emu.stats();
  await emu.stop();
  if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
  const s = summaryOf(out);
  const c = countShardRecords(out);
  const lost = n - c.unique;
  const dup = c.total - c.unique;
  const pct429 = (es.http429 / es.requests) * 100;
  if (known) {
    const achieved = (s.succeeded / s.wallMs) * 1000;
    raw.rateKnown = { prompts: n, wallMs: s.wallMs, achievedPerSec: achieved, http429: es.http429, requests: es.requests, lost, dup };
    rows.push({ scenario: '5. rate accuracy: quota 50 req/s, --rpm 3000, 3,000 prompts', gempipe: `${fmt(achieved, 1)} req/s, ${fmt(pct429, 2)}% 429`, baseline: 'quota 50 req/s', ratio: `${((achieved / 50) * 100).toFixed(1)}%`, target: '≥ 97%, < 0.5% 429', met: achieved / 50 >= 0.97 && pct429 < 0.5 && lost === 0 && dup === 0 });
  } else {
    // The second half of the run, by time, from the emulator's answer counter.
    const okSeries = series.filter((p) => p.ok > 0);
    const tStart = okSeries[0]?.t ?? 0;
    const tEnd = okSeries.find((p) => p.ok >= n)?.t ?? okSeries[okSeries.length - 1]?.t ?? 0;
    const tMid = (tStart + tEnd) / 2;
    const mid = okSeries.find((p) => p.t >= tMid) ?? okSeries[0];
    const secondHalf = ((n - mid.ok) / Math.max(1, tEnd - mid.t)) * 1000;
    raw.rateUnknown = { prompts: n, wallMs: s.wallMs, secondHalfPerSec: secondHalf, http429: es.http429, requests: es.requests, lost, dup };
    rows.push({ scenario: '6. unknown quota (adaptive, no --rpm): quota 50 req/s, 3,000 prompts, second half', gempipe: `${fmt(secondHalf, 1)} req/s, ${fmt(pct429, 2)}% 429`, baseline: 'quota 50 req/s', ratio: `${((secondHalf / 50) * 100).toFixed(1)}%`, target: '≥ 85%, < 3% 429, none lost', met: secondHalf / 50 >= 0.85 && pct429 < 3 && lost === 0 && dup === 0 });
  }
}

// 7. The quota family (issue 19): test/bench/quota-family.ts.

// 8. --post on worker threads vs the same step on the event loop (issue #11): a 5 ms CPU step per
// record, emulator latency 50 ms, 64 in flight.
async function postWorkers(): Promise<void> {
  const n = QUICK ? 500 : 2000;
  const dir = inputs('post', 1, n);
  const mod = join(work, 'cpu5.mjs');
  writeFileSync(mod, 'export default function (r) { const end = performance.now() + 5; let x = 0; while (performance.now() < end) x++; return { spun: x }; }\n');
  const emu = await startEmulator(['--latency-ms', '50']);
  const res: Record<string, { perSec: number; p99: number }> = {};
  for (const [name, workers] of [['inline', '0'], ['workers', '2']] as const) {
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--rpm', 'off', '--post', mod, '--post-workers', workers, dir]));
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const s = summaryOf(out) as ReturnType<typeof summaryOf> & { process: { eventLoopDelayP99Ms?: number } };
    res[name] = { perSec: (s.succeeded / s.wallMs) * 1000, p99: s.process.eventLoopDelayP99Ms ?? NaN };
    log(`post ${name}: ${fmt(res[name].perSec)}/s, event-loop delay p99 ${res[name].p99} ms`);
  }
  await emu.stop();
  const ratio = res.workers.perSec / res.inline.perSec;
  raw.post = { prompts: n, ...res };
  rows.push({ scenario: `8. --post, a 5 ms CPU step per record, ${fmt(n)} prompts, latency 50 ms, 64 in flight: --post-workers 2 vs on the event loop (records/s; event-loop delay p99)`, gempipe: `${fmt(res.workers.perSec)}/s, p99 ${res.workers.p99} ms`, baseline: `inline ${fmt(res.inline.perSec)}/s, p99 ${res.inline.p99} ms`, ratio: `${ratio.toFixed(2)}×`, target: '≥ 1.6×, p99 ≤ 20 ms', met: ratio >= 1.6 && res.workers.p99 <= 20 });
}

// 9. --dedupe (issue #13): 100,000 records with 10% distinct prompts, emulator latency 20 ms,
// 64 in flight, with and without --dedupe: requests sent and records/s.
function repeatedInputs(name: string, n: number, distinct: number): string {
  const dir = join(work, name);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`Label this support ticket: case ${(i * 7919) % distinct} cannot log in`);
    writeFileSync(join(dir, 'tickets.txt'), lines.join('\n') + '\n');
  }
  return dir;
}

async function dedupeBench(): Promise<void> {
  const n = QUICK ? 10_000 : 100_000;
  const distinct = n / 10;
  const dir = repeatedInputs('dedupe', n, distinct);
  const res: Record<string, { perSec: number; requests: number; records: number }> = {};
  for (const [name, extra] of [['plain', []], ['dedupe', ['--dedupe']]] as const) {
    const emu = await startEmulator(['--latency-ms', '20']);
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--rpm', 'off', ...extra, dir]));
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const st = await emu.stats();
    await emu.stop();
    const s = summaryOf(out);
    const c = countShardRecords(out);
    if (c.total !== n || c.unique !== n) throw new Error(`${name}: ${c.total} records, ${c.unique} unique, expected ${n}`);
    res[name] = { perSec: (s.succeeded / s.wallMs) * 1000, requests: st.requests, records: c.total };
    log(`dedupe ${name}: ${fmt(res[name].perSec)} records/s, ${fmt(st.requests)} requests`);
  }
  const ratio = res.dedupe.perSec / res.plain.perSec;
  raw.dedupe = { records: n, distinct, ...res };
  rows.push({ scenario: `9. --dedupe: ${fmt(n)} records, ${fmt(distinct)} distinct prompts, latency 20 ms, 64 in flight (records/s; requests sent)`, gempipe: `${fmt(res.dedupe.perSec)}/s, ${fmt(res.dedupe.requests)} requests`, baseline: `without: ${fmt(res.plain.perSec)}/s, ${fmt(res.plain.requests)} requests`, ratio: `${ratio.toFixed(2)}×`, target: '≥ 5×, requests = distinct', met: ratio >= 5 && res.dedupe.requests === distinct });
}

// 10. --cache hits (issue #13): a job of 20,000 distinct prompts run twice with one cache, the
// second into a new directory: records/s of the all-hits run, requests, bytes on disk per entry.
async function cacheBench(): Promise<void> {
  const n = QUICK ? 2000 : 20_000;
  const dir = inputs('cache', 1, n);
  const cache = join(work, 'bench.lmdb');
  const emu = await startEmulator(['--latency-ms', '20']);
  const runs: Array<{ perSec: number; requests: number }> = [];
  for (let i = 0; i < 2; i++) {
    const before = (await emu.stats()).requests;
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--rpm', 'off', '--temperature', '0', '--cache', cache, dir]));
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const s = summaryOf(out);
    runs.push({ perSec: (s.succeeded / s.wallMs) * 1000, requests: (await emu.stats()).requests - before });
    log(`cache run ${i + 1}: ${fmt(runs[i].perSec)} records/s, ${fmt(runs[i].requests)} requests`);
  }
  await emu.stop();
  const bytes = statSync(cache).size;
  raw.cache = { records: n, runs, bytes, bytesPerEntry: bytes / n };
  rows.push({ scenario: `10. --cache: ${fmt(n)} prompts, second run into a new directory (all hits; latency 20 ms, 64 in flight)`, gempipe: `${fmt(runs[1].perSec)}/s, ${fmt(runs[1].requests)} requests, ${fmt(bytes / n)} bytes/entry on disk`, baseline: `first run ${fmt(runs[0].perSec)}/s, ${fmt(runs[0].requests)} requests`, ratio: `${(runs[1].perSec / runs[0].perSec).toFixed(2)}×`, target: '0 requests', met: runs[1].requests === 0 });
}

// 11-13. Many machines (issue #14), against a real redis-server started here.
async function startRedisServer(): Promise<{ url: string; port: number; calls(): number; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((res, rej) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) res();
    });
    proc.on('exit', (c) => rej(new Error(`redis-server exited ${c}`)));
  });
  const cli = (...a: string[]) => spawnSync('redis-cli', ['-p', String(port), ...a], { encoding: 'utf8' }).stdout;
  return {
    url: `redis://127.0.0.1:${port}`, port,
    calls() {
      // Round trips from the clients: script calls (EVALSHA/EVAL, what Bottleneck sends) and
      // PUBLISH (an upper bound: Bottleneck's scripts also publish from inside). INFO
      // commandstats also counts the commands a script runs inside Redis; those are not trips.
      let n = 0;
      for (const m of cli('info', 'commandstats').matchAll(/cmdstat_(evalsha|eval|publish):calls=(\d+)/g)) n += Number(m[2]);
      return n;
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

async function manyMachines(): Promise<void> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log('many: skipped, no redis-server');
    return;
  }
  const n = QUICK ? 600 : 3000;
  const dir = inputs('many', 3, n / 3);
  // 11. The same quota (100 req/s, a bucket) for one process and for a coordinator + 3 workers.
  const res: Record<string, { perSec: number; pct429: number; records: number }> = {};
  for (const mode of ['one process', 'coordinator + 3 workers'] as const) {
    const emu = await startEmulator(['--rpm', '6000', '--latency-ms', '20']);
    const redis = await startRedisServer();
    const out = outDir();
    let r: ProcResult;
    const env = { GEMINI_BASE_URL: emu.url };
    if (mode === 'one process') {
      r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--redis', redis.url, '--rpm', '6000', '--concurrency', '64', dir]));
    } else {
      const workers = [0, 1, 2].map(() => spawn(process.execPath, [MAIN, 'worker', '--redis', redis.url, '--queue', 'bench', '--concurrency', '24'], { env: { ...process.env, GEMINI_API_KEY: 'bench-key', ...env }, stdio: 'ignore' }));
      r = await runNode([MAIN, 'coordinator', '-o', out, '-q', '--summary-json', `${out}.summary.json`, '--redis', redis.url, '--queue', 'bench', '--rpm', '6000', dir], { env });
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((res) => w.once('exit', res))));
    }
    if (r.code !== 0) throw new Error(`${mode} exited ${r.code}: ${r.stderr}`);
    const st = await emu.stats();
    await emu.stop();
    await redis.stop();
    const s = summaryOf(out);
    const c = countShardRecords(out);
    if (c.total !== n || c.unique !== n) throw new Error(`${mode}: ${c.total} records, ${c.unique} unique`);
    res[mode] = { perSec: (s.succeeded / s.wallMs) * 1000, pct429: (st.http429 / st.requests) * 100, records: c.total };
    log(`many ${mode}: ${fmt(res[mode].perSec, 1)} records/s, ${fmt(res[mode].pct429, 2)}% 429`);
  }
  const one = res['one process'];
  const many = res['coordinator + 3 workers'];
  rows.push({ scenario: `11. one quota (100 req/s), ${fmt(n)} prompts, latency 20 ms: coordinator + 3 workers (--rpm 6000 shared through --redis) vs one process (records/s over the run)`, gempipe: `${fmt(many.perSec, 1)}/s, ${fmt(many.pct429, 2)}% 429`, baseline: `one process ${fmt(one.perSec, 1)}/s, ${fmt(one.pct429, 2)}% 429`, ratio: `${((many.perSec / 100) * 100).toFixed(1)}% of quota`, target: 'within 2% of the quota, none lost', met: Math.abs(many.perSec / 100 - 1) <= 0.02 });
  raw.many = res;

  // 12. Redis round trips per request: 3 processes sharing --rpm 30000 (500 req/s), no latency.
  {
    const emu = await startEmulator([]);
    const redis = await startRedisServer();
    const before = redis.calls();
    const per = QUICK ? 500 : 2000;
    const d = inputs('rt', 3, per);
    const files = readdirSync(d).map((f) => join(d, f));
    const runs = files.map((f) => runNode(gempipeArgs(outDir(), ['--base-url', emu.url, '--redis', redis.url, '--rpm', '30000', '--concurrency', '32', f])));
    const rs = await Promise.all(runs);
    if (rs.some((x) => x.code !== 0)) throw new Error('round-trip run failed');
    const st = await emu.stats();
    const calls = redis.calls() - before;
    await emu.stop();
    await redis.stop();
    const perReq = calls / st.requests;
    raw.roundTrips = { calls, requests: st.requests, perRequest: perReq };
    log(`round trips: ${calls} Redis commands for ${st.requests} requests`);
    rows.push({ scenario: `12. Redis round trips per request (script calls + publishes): 3 processes sharing --rpm 30000 (500 req/s), ${fmt(st.requests)} requests`, gempipe: `${fmt(perReq, 2)} per request`, baseline: `${fmt(calls)} round trips`, ratio: '', target: '≤ 1', met: perReq <= 1 });
  }

  // 13. Coordinator throughput: no latency, no quota, 3 workers.
  {
    const emu = await startEmulator([]);
    const redis = await startRedisServer();
    const out = outDir();
    const env = { GEMINI_BASE_URL: emu.url };
    const workers = [0, 1, 2].map(() => spawn(process.execPath, [MAIN, 'worker', '--redis', redis.url, '--queue', 'tp', '--concurrency', '32'], { env: { ...process.env, GEMINI_API_KEY: 'bench-key', ...env }, stdio: 'ignore' }));
    const r = await runNode([MAIN, 'coordinator', '-o', out, '-q', '--summary-json', `${out}.summary.json`, '--redis', redis.url, '--queue', 'tp', '--rpm', 'off', '--max-queued', '512', dir], { env });
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((res) => w.once('exit', res))));
    await emu.stop();
    await redis.stop();
    if (r.code !== 0) throw new Error(`coordinator exited ${r.code}: ${r.stderr}`);
    const s = summaryOf(out);
    const perSec = (s.succeeded / s.wallMs) * 1000;
    raw.coordinator = { records: s.succeeded, perSec };
    log(`coordinator throughput: ${fmt(perSec)} records/s`);
    rows.push({ scenario: `13. coordinator throughput: ${fmt(n)} prompts, 3 workers, no latency, no quota (records/s)`, gempipe: `${fmt(perSec)}/s`, baseline: '', ratio: '', target: '', met: null });
  }
}

// 14-15. Never pay twice in every mode (issue #22): --mode batch with --dedupe and --cache (a
// rerun into a new directory submits no job), and a coordinator with --dedupe (requests = distinct).
function requestsInJobs(out: string): { jobs: number; requests: number } {
  const jobsDir = join(out, '.gempipe-batches');
  if (!existsSync(jobsDir)) return { jobs: 0, requests: 0 };
  const files = readdirSync(jobsDir).filter((f) => f.endsWith('.requests.jsonl'));
  return { jobs: files.length, requests: files.reduce((a, f) => a + readFileSync(join(jobsDir, f), 'utf8').split('\n').filter(Boolean).length, 0) };
}

async function batchParity(): Promise<void> {
  const n = QUICK ? 2000 : 10_000;
  const distinct = n / 10;
  const dir = repeatedInputs('batchparity', n, distinct);
  const cache = join(work, 'batch.lmdb');
  const emu = await startEmulator(['--batch-time-scale', '6000']);
  const runs: Array<{ perSec: number; jobs: number; requests: number; online: number }> = [];
  for (let i = 0; i < 2; i++) {
    const before = (await emu.stats()).requests;
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--mode', 'batch', '--batch-poll', '20', '--dedupe', '--temperature', '0', '--cache', cache, dir]));
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const c = countShardRecords(out);
    if (c.total !== n || c.unique !== n) throw new Error(`batch run ${i + 1}: ${c.total} records, ${c.unique} unique, expected ${n}`);
    const s = summaryOf(out);
    runs.push({ perSec: (s.succeeded / s.wallMs) * 1000, ...requestsInJobs(out), online: (await emu.stats()).requests - before });
    log(`batch run ${i + 1}: ${fmt(runs[i].perSec)} records/s, ${runs[i].jobs} job(s), ${fmt(runs[i].requests)} requests in jobs, ${runs[i].online} online`);
  }
  await emu.stop();
  raw.batchParity = { records: n, distinct, runs };
  rows.push({ scenario: `14. --mode batch --dedupe --cache: ${fmt(n)} records, ${fmt(distinct)} distinct prompts; then a rerun into a new directory (batch jobs 6000× faster)`, gempipe: `first ${runs[0].jobs} job(s), ${fmt(runs[0].requests)} requests; rerun ${runs[1].jobs} jobs, ${runs[1].requests + runs[1].online} requests, ${fmt(runs[1].perSec)}/s`, baseline: `${fmt(n)} records`, ratio: '', target: 'requests = distinct; the rerun submits no job', met: runs[0].requests === distinct && runs[1].jobs === 0 && runs[1].online === 0 });
}

async function coordinatorDedupe(): Promise<void> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log('coordinator dedupe: skipped, no redis-server');
    return;
  }
  const n = QUICK ? 600 : 3000;
  const distinct = n / 10;
  const dir = repeatedInputs('coorddedupe', n, distinct);
  const emu = await startEmulator(['--latency-ms', '20']);
  const redis = await startRedisServer();
  const out = outDir();
  const env = { GEMINI_BASE_URL: emu.url };
  const workers = [0, 1, 2].map(() => spawn(process.execPath, [MAIN, 'worker', '--redis', redis.url, '--queue', 'dd', '--concurrency', '16'], { env: { ...process.env, GEMINI_API_KEY: 'bench-key', ...env }, stdio: 'ignore' }));
  const r = await runNode([MAIN, 'coordinator', '-o', out, '-q', '--summary-json', `${out}.summary.json`, '--redis', redis.url, '--queue', 'dd', '--rpm', 'off', '--dedupe', dir], { env });
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((res) => w.once('exit', res))));
  const st = await emu.stats();
  await emu.stop();
  await redis.stop();
  if (r.code !== 0) throw new Error(`coordinator exited ${r.code}: ${r.stderr}`);
  const c = countShardRecords(out);
  if (c.total !== n || c.unique !== n) throw new Error(`coordinator --dedupe: ${c.total} records, ${c.unique} unique`);
  const s = summaryOf(out);
  const perSec = (s.succeeded / s.wallMs) * 1000;
  raw.coordinatorDedupe = { records: n, distinct, requests: st.requests, perSec };
  log(`coordinator --dedupe: ${fmt(st.requests)} requests for ${fmt(n)} records, ${fmt(perSec)} records/s`);
  rows.push({ scenario: `15. coordinator --dedupe, 3 workers: ${fmt(n)} records, ${fmt(distinct)} distinct prompts, latency 20 ms (requests sent)`, gempipe: `${fmt(st.requests)} requests, ${fmt(perSec)}/s`, baseline: `${fmt(distinct)} distinct`, ratio: '', target: 'requests = distinct', met: st.requests === distinct });
}

// 16. The report of a 1M-record run (issue 23): how large report.html is and how long headless
// Chromium takes to open it until every chart is drawn. (a) a quota-bound job of hours, written
// in virtual time by the real recorder (synthetic-run.ts: 2 runs, 429s, 503 storms, failures —
// the series such a job keeps); (b) a real run of 1M prompts against the emulator child.
async function openInChromium(file: string, times: number): Promise<number[] | undefined> {
  const exe = process.env.GEMPIPE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(exe)) return undefined;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const walls: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const t = performance.now();
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60_000 });
      walls.push(performance.now() - t);
      if (errors.length) throw new Error(`report page errors: ${errors.join('; ')}`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return walls;
}

async function reportBench(): Promise<void> {
  const records = QUICK ? 100_000 : 1_000_000;
  const load = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(ROOT, 'dist', p)).href)) as T;
  const synthetic = await load<typeof import('../../dist/observe/synthetic-run.js')>('observe/synthetic-run.js');
  const report = await load<typeof import('../../dist/observe/report.js')>('observe/report.js');
  const res: Record<string, unknown> = {};
  // (a) Hours of a quota-bound job.
  const dir = join(work, 'report-synthetic');
  const job = synthetic.writeSyntheticJob(dir, { records, runs: [{ until: 0.4, end: 'interrupted' }, { until: 1 }], burstEverySec: 900, stormEverySec: 1800 });
  const hours = (job.summaries[0]!.wallMs + job.summaries[1]!.wallMs) / 3_600_000;
  const a = await report.reportCommand(dir);
  const aOpen = await openInChromium(a.path!, 3);
  res.synthetic = { records, hours, sampleLines: job.samples, seriesBytes: statSync(join(dir, '.gempipe-series.jsonl')).size, failures: job.failures, reportBytes: a.bytes, openMs: aOpen };
  log(`report (a): ${fmt(records)} records over ${hours.toFixed(1)} h, ${job.samples.join(' + ')} sample lines: ${fmt(a.bytes / 1024)} KB, opened in ${aOpen?.map((x) => fmt(x)).join(', ')} ms`);
  rows.push({ scenario: `16a. the report of a ${fmt(records)}-record job: 2 runs, ${hours.toFixed(1)} h quota-bound (virtual time: the real recorder), ${fmt(job.failures)} failures; report.html size, open in headless Chromium until every chart is drawn (median of 3 fresh pages)`, gempipe: aOpen ? `${(a.bytes / 1048576).toFixed(2)} MB, ${fmt(median(aOpen))} ms` : `${(a.bytes / 1048576).toFixed(2)} MB, no chromium`, baseline: '', ratio: '', target: '< 2 MB, < 2 s', met: aOpen ? a.bytes < 2 * 1048576 && median(aOpen) < 2000 : null });
  // (b) A real run of as many prompts, latency 0, 64 in flight, with --report.
  const inDir = inputs('report-real', 10, records / 10);
  const emu = await startEmulator([]);
  const out = outDir();
  const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--rpm', 'off', '--shard-size', '100000', '--report', inDir]));
  await emu.stop();
  if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
  const s = summaryOf(out);
  const page = join(out, 'report.html');
  const bOpen = await openInChromium(page, 3);
  const bBytes = statSync(page).size;
  res.real = { records, wallMs: s.wallMs, reportBytes: bBytes, openMs: bOpen };
  log(`report (b): a real run of ${fmt(s.succeeded)} records in ${fmt(s.wallMs / 1000, 1)} s: ${fmt(bBytes / 1024)} KB, opened in ${bOpen?.map((x) => fmt(x)).join(', ')} ms`);
  rows.push({ scenario: `16b. the report of a real run: ${fmt(records)} prompts against the emulator, latency 0, 64 in flight, --report (${fmt(s.wallMs / 1000)} s); size, open in headless Chromium (median of 3)`, gempipe: bOpen ? `${(bBytes / 1048576).toFixed(2)} MB, ${fmt(median(bOpen))} ms` : `${(bBytes / 1048576).toFixed(2)} MB, no chromium`, baseline: '', ratio: '', target: '< 2 MB, < 2 s', met: bOpen ? bBytes < 2 * 1048576 && median(bOpen) < 2000 : null });
  raw.report = res;
}

// 17. What recording the time series costs (issue 23): the real pipeline, 20,000 prompts, latency
// 0, 64 in flight (row 1a's run), with the series and its meter (the default) and without them
// (GEMPIPE_SERIES=off: no recorder, no meter, the Gemini call not wrapped), alternated in one
// invocation against one emulator; records/s from process start to exit, and CPU a record.
async function recordingBench(): Promise<void> {
  const per = QUICK ? 200 : 2000;
  const n = per * 10;
  const dir = inputs('overhead', 10, per);
  const emu = await startEmulator([]);
  const reps = QUICK ? 1 : 5;
  const on: Array<{ perSec: number; cpuUs: number }> = [];
  const off: Array<{ perSec: number; cpuUs: number }> = [];
  for (let i = 0; i < reps; i++) {
    // Alternate which goes first, so a drift of the machine does not favour one side.
    const order: Array<[string, typeof on]> = i % 2 === 0 ? [['on', on], ['off', off]] : [['off', off], ['on', on]];
    for (const [name, into] of order) {
      const out = outDir();
      const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '64', '--shard-size', '1000', '--rpm', 'off', dir]), { env: name === 'off' ? { GEMPIPE_SERIES: 'off' } : {} });
      if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
      const c = countShardRecords(out);
      if (c.total !== n || c.unique !== n) throw new Error(`recording: ${c.total} records, ${c.unique} unique, expected ${n}`);
      if (existsSync(join(out, '.gempipe-series.jsonl')) !== (name === 'on')) throw new Error(`recording ${name}: the series is ${name === 'on' ? 'missing' : 'there'}`);
      const s = summaryOf(out);
      into.push({ perSec: (n / r.wallMs) * 1000, cpuUs: ((s.process.cpuUserMs + s.process.cpuSystemMs) * 1000) / n });
    }
    log(`recording rep ${i + 1}: with the series ${fmt(on[i].perSec)}/s (${fmt(on[i].cpuUs, 1)} µs CPU a record), without ${fmt(off[i].perSec)}/s (${fmt(off[i].cpuUs, 1)} µs)`);
  }
  await emu.stop();
  const onM = median(on.map((x) => x.perSec));
  const offM = median(off.map((x) => x.perSec));
  const cost = 1 - onM / offM;
  const cpuOn = median(on.map((x) => x.cpuUs));
  const cpuOff = median(off.map((x) => x.cpuUs));
  raw.recording = { prompts: n, on, off, cost, cpuOn, cpuOff };
  rows.push({ scenario: `17. recording the time series: ${fmt(n)} prompts, latency 0, 64 in flight, with it vs without (GEMPIPE_SERIES=off), alternated (records/s, process start to exit; CPU a record; medians of ${reps})`, gempipe: `${fmt(onM)}/s, ${fmt(cpuOn, 1)} µs CPU`, baseline: `without ${fmt(offM)}/s, ${fmt(cpuOff, 1)} µs CPU`, ratio: `${(cost * 100).toFixed(1)}% slower`, target: '< 2%', met: cost < 0.02 });
}

// 18. Attachments (issue #24): 2,000 records each naming its own 1 MiB image (generated: a PNG
// signature, random bytes, then zeros — written sparse, hashed and sent in full), sent inline
// (--inline-max auto = 12 MiB at 16 in flight), latency 20 ms: throughput and peak RSS, against
// the same 2,000 prompts without --attach; peak RSS again with 200 images (flat: bytes are read
// per record, never held for the job); and 2,000 records naming 200 images over --inline-max 64k
// (the Files API: each image uploaded once).
async function attachBench(): Promise<void> {
  const n = QUICK ? 200 : 2000;
  const MiB = 1024 * 1024;
  const dir = join(work, 'attach');
  mkdirSync(join(dir, 'img'), { recursive: true });
  const { openSync, writeSync, ftruncateSync, closeSync } = await import('node:fs');
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < n; i++) {
    const fd = openSync(join(dir, 'img', `${i}.png`), 'w');
    writeSync(fd, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(4096)]));
    ftruncateSync(fd, MiB);
    closeSync(fd);
  }
  const jsonl = (name: string, records: number, images: number) => {
    const p = join(dir, name);
    writeFileSync(p, Array.from({ length: records }, (_, r) => JSON.stringify({ prompt: `Describe photo ${r}`, image: `img/${r % images}.png` })).join('\n') + '\n');
    return p;
  };
  const run = async (input: string, extra: string[]) => {
    const emu = await startEmulator(['--latency-ms', '20']);
    const out = outDir();
    const r = await runNode(gempipeArgs(out, ['--base-url', emu.url, '--concurrency', '16', '--rpm', 'off', '--input-format', 'jsonl', ...extra, input]));
    const emuCpuMs = procCpuMs(emu.proc.pid!) ?? 0; // the emulator decodes and hashes every inline image: its CPU, beside gempipe's
    await emu.stop();
    if (r.code !== 0) throw new Error(`gempipe exited ${r.code}: ${r.stderr}`);
    const c = countShardRecords(out);
    if (c.total !== c.unique) throw new Error(`${c.total} records, ${c.unique} unique`);
    const s = summaryOf(out);
    const uploads = existsSync(join(out, '.gempipe-uploads.jsonl')) ? readFileSync(join(out, '.gempipe-uploads.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"state":"active"')).length : 0;
    const cpuMsPerRecord = (s.process.cpuUserMs + s.process.cpuSystemMs) / c.total;
    return { records: c.total, perSec: (s.succeeded / s.wallMs) * 1000, peakRssMB: r.peakRssMB, summaryRssMB: s.process.peakRssMB, uploads, wallMs: s.wallMs, cpuMsPerRecord, emuCpuMsPerRecord: emuCpuMs / c.total };
  };
  const big = jsonl('big.jsonl', n, n);
  const inline = await run(big, ['--attach', 'image']);
  log(`attach inline: ${fmt(inline.perSec)} records/s (${fmt(inline.perSec, 1)} MiB/s), peak RSS ${fmt(inline.peakRssMB)} MB`);
  const text = await run(big, []);
  log(`attach text only: ${fmt(text.perSec)} records/s, peak RSS ${fmt(text.peakRssMB)} MB`);
  const small = await run(jsonl('small.jsonl', n / 10, n / 10), ['--attach', 'image']);
  log(`attach inline, ${n / 10} images: peak RSS ${fmt(small.peakRssMB)} MB`);
  const shared = await run(jsonl('shared.jsonl', n, n / 10), ['--attach', 'image', '--inline-max', '64k']);
  log(`attach via the Files API: ${fmt(shared.perSec)} records/s, ${shared.uploads} uploads, peak RSS ${fmt(shared.peakRssMB)} MB`);
  raw.attach = { records: n, imageBytes: MiB, inline, text, small, shared };
  rows.push({ scenario: `18a. --attach: ${fmt(n)} records, each its own 1 MiB image inline (--inline-max auto: 12 MiB at 16 in flight), latency 20 ms (records/s; MiB/s; CPU a record, whole process; peak RSS)`, gempipe: `${fmt(inline.perSec)}/s, ${fmt(inline.perSec, 1)} MiB/s, ${fmt(inline.cpuMsPerRecord, 1)} ms CPU (the emulator's: ${fmt(inline.emuCpuMsPerRecord, 1)} ms), ${fmt(inline.peakRssMB)} MB`, baseline: `text only: ${fmt(text.perSec)}/s, ${fmt(text.cpuMsPerRecord, 1)} ms CPU, ${fmt(text.peakRssMB)} MB`, ratio: `${(inline.peakRssMB / text.peakRssMB).toFixed(2)}× RSS`, target: '≤ text + 16 × 4/3 MiB + 64 MB', met: inline.peakRssMB <= text.peakRssMB + (16 * 4) / 3 + 64 });
  rows.push({ scenario: `18b. --attach memory: ${fmt(n)} vs ${fmt(n / 10)} images of 1 MiB (peak RSS)`, gempipe: `${fmt(inline.peakRssMB)} MB`, baseline: `${fmt(small.peakRssMB)} MB with ${fmt(n / 10)}`, ratio: `${(inline.peakRssMB / small.peakRssMB).toFixed(2)}×`, target: '1.00 ± 0.15', met: Math.abs(inline.peakRssMB / small.peakRssMB - 1) <= 0.15 });
  rows.push({ scenario: `18c. --attach through the Files API: ${fmt(n)} records naming ${fmt(n / 10)} images of 1 MiB (--inline-max 64k), latency 20 ms (records/s; uploads)`, gempipe: `${fmt(shared.perSec)}/s, ${fmt(shared.uploads)} uploads, ${fmt(shared.peakRssMB)} MB`, baseline: `${fmt(n / 10)} distinct images`, ratio: '', target: 'uploads = distinct', met: shared.uploads === n / 10 });
}

const t0 = Date.now();
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
try {
  const all: Array<[string, () => Promise<void>]> = [
    ['overhead', overhead], ['latency', latencyHiding], ['memory', memory], ['cpu', cpuCost],
    ['rate', () => rate(true)], ['adaptive', () => rate(false)], ['quota', () => quotaFamily({
      quick: QUICK, startEmulator, startRedisServer, hasRedis: spawnSync('redis-server', ['--version']).status === 0,
      runNode, gempipeArgs, inputs, outDir, countShardRecords, rows, raw, log,
    })], ['post', postWorkers],
    ['dedupe', dedupeBench], ['cache', cacheBench], ['many', manyMachines],
    ['batchparity', batchParity], ['coorddedupe', coordinatorDedupe], ['report', reportBench], ['recording', recordingBench], ['attach', attachBench],
    ['embed', () => embedBench({ rows, work, main: MAIN, quick: QUICK, log, startEmulator, runNode })],
  ];
  for (const [name, fn] of all) {
    if (only && !only.includes(name)) continue;
    log(`${name}...`);
    await fn();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
const table = [
  '| scenario | gempipe | baseline | ratio | target | met? |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.scenario} | ${r.gempipe} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} |`),
].join('\n');
process.stdout.write(`\n${table}\n\nmachine: ${machine}; bench took ${fmt((Date.now() - t0) / 1000)} s${QUICK ? ' (--quick)' : ''}\n`);
// Only a full run replaces bench-results.json (the latest full `npm run bench`).
if (!QUICK && !only) writeFileSync(join(ROOT, 'bench-results.json'), JSON.stringify({ machine, rows, raw }, null, 2) + '\n');
