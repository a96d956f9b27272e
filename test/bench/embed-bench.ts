// `npm run bench -- --only=embed` (issue 25): gempipe embed against its emulator child process,
// with the baselines in the same invocation — (a) one embedContent call per text in a promise
// pool (llm embed-multi's one-call-per-text shape), (b) the SDK's own batch call (100 texts a
// models.embedContent) in a plain loop; each honours RetryInfo on a 429 and appends its vectors to
// a JSONL file, as a careful user's loop would (gempipe writes its JSONL records).
// Then bytes per vector on disk in each format, RSS over a window on 1M vs 100k texts, and
// 100,000 texts to vectors exactly once through SIGKILLs.

import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';

export interface BenchContext {
  rows: Array<{ scenario: string; gempipe: string; baseline: string; ratio: string; target: string; met: boolean | null }>;
  work: string;
  main: string;
  quick: boolean;
  log: (s: string) => void;
  startEmulator(args: string[]): Promise<{ url: string; stats(): Promise<{ requests: number; ok: number; http429: number }>; stop(): Promise<void> }>;
  runNode(args: string[], o?: { env?: NodeJS.ProcessEnv; stopAfterMs?: number }): Promise<{ code: number | null; wallMs: number; stderr: string; peakRssMB: number }>;
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const texts = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `passage ${from + i}: a few words about subject ${(from + i) % 97} for the index`);

function writeTexts(path: string, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i += 100_000) parts.push(texts(Math.min(100_000, n - i), i).join('\n') + '\n');
  writeFileSync(path, parts.join(''));
  return path;
}

/** Waits a 429's RetryInfo (or 1 s) — what the baselines do. */
async function after429(e: unknown): Promise<boolean> {
  const err = e as { status?: number; message?: string };
  if (err.status !== 429) return false;
  const m = /"retryDelay":\s*"([\d.]+)s"/.exec(err.message ?? '');
  await new Promise((r) => setTimeout(r, m ? Number(m[1]) * 1000 : 1000));
  return true;
}

/** What a user's loop does with the vectors: a JSONL line each, appended to one file. */
function save(path: string, ids: number[], vectors: number[][]): void {
  appendFileSync(path, ids.map((id, i) => JSON.stringify({ id, embedding: vectors[i] }) + '\n').join(''));
}

async function oneCallPerText(url: string, all: string[], concurrency: number, outFile: string): Promise<number> {
  const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl: url } });
  const t0 = Date.now();
  let next = 0;
  const vectors: number[][] = new Array(all.length);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < all.length) {
      const i = next++;
      for (;;) {
        try {
          vectors[i] = (await ai.models.embedContent({ model: 'gemini-embedding-001', contents: all[i], config: { outputDimensionality: 768 } })).embeddings![0].values!;
          save(outFile, [i], [vectors[i]]);
          break;
        } catch (e) {
          if (!(await after429(e))) throw e;
        }
      }
    }
  }));
  return (all.length / (Date.now() - t0)) * 1000;
}

async function sdkBatchLoop(url: string, all: string[], outFile: string): Promise<number> {
  const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl: url } });
  const t0 = Date.now();
  for (let i = 0; i < all.length; i += 100) {
    for (;;) {
      try {
        const r = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: all.slice(i, i + 100), config: { outputDimensionality: 768 } });
        save(outFile, r.embeddings!.map((_, k) => i + k), r.embeddings!.map((e) => e.values!));
        break;
      } catch (e) {
        if (!(await after429(e))) throw e;
      }
    }
  }
  return (all.length / (Date.now() - t0)) * 1000;
}

async function gempipeRate(c: BenchContext, url: string, input: string, extra: string[]): Promise<{ perSec: number; code: number | null }> {
  const out = join(c.work, `embed-${Date.now()}`);
  const r = await c.runNode([c.main, 'embed', '-o', out, '-q', '--dimensions', '768', '--summary-json', `${out}.json`, ...extra, input], { env: { GEMINI_BASE_URL: url } });
  const s = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as { wallMs: number; succeeded: number };
  return { perSec: (s.succeeded / s.wallMs) * 1000, code: r.code };
}

async function rates(c: BenchContext): Promise<void> {
  const n = c.quick ? 1500 : 6000;
  const input = writeTexts(join(c.work, 'embed-rate.txt'), n);
  const all = texts(n);
  // A quota of 200 texts/s (a bucket of 1 s), 50 ms a call: what each way of asking gets from it.
  for (const [label, args, gArgs] of [
    ['a quota of 200 texts/s (--rpm 12000 given), 50 ms a call', ['--rpm', '12000', '--latency-ms', '50'], ['--rpm', '12000']],
    ['no quota, 50 ms a call', ['--latency-ms', '50'], ['--rpm', 'off']],
  ] as Array<[string, string[], string[]]>) {
    const emu = await c.startEmulator(args);
    const g = await gempipeRate(c, emu.url, input, [...gArgs, '--concurrency', '16']);
    const a = await oneCallPerText(emu.url, all, 16, join(c.work, `embed-a-${Date.now()}.jsonl`));
    const b = await sdkBatchLoop(emu.url, all, join(c.work, `embed-b-${Date.now()}.jsonl`));
    await emu.stop();
    c.rows.push({
      scenario: `E1. embed ${fmt(n)} texts, ${label}: gempipe embed (16 calls in flight, up to 100 texts each) vs (a) one call per text, 16 in flight, vs (b) the SDK's batch call in a loop (vectors/s)`,
      gempipe: `${fmt(g.perSec)}/s`, baseline: `(a) ${fmt(a)}/s; (b) ${fmt(b)}/s`, ratio: `${(g.perSec / a).toFixed(2)}× (a), ${(g.perSec / b).toFixed(2)}× (b)`,
      target: label.startsWith('a quota') ? '≥ 90% of the quota' : '> (a) and (b)', met: label.startsWith('a quota') ? g.perSec >= 180 && g.code === 0 : g.perSec > a && g.perSec > b && g.code === 0,
    });
  }
}

function dirBytes(dir: string, keep: (name: string) => boolean): number {
  return readdirSync(dir).filter(keep).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function bytesPerVector(c: BenchContext): Promise<void> {
  const n = c.quick ? 500 : 2000;
  const input = writeTexts(join(c.work, 'embed-bytes.txt'), n);
  const emu = await c.startEmulator([]);
  const cells: string[] = [];
  for (const f of ['jsonl', 'f32', 'npy', 'parquet']) {
    const out = join(c.work, `embed-bytes-${f}`);
    await c.runNode([c.main, 'embed', '-o', out, '-q', '--rpm', 'off', '--dimensions', '768', '--vectors', f, '--shard-size', '1000', input], { env: { GEMINI_BASE_URL: emu.url } });
    const vectors = dirBytes(out, (x) => /^vectors-/.test(x));
    const index = dirBytes(out, (x) => x.endsWith('.jsonl'));
    cells.push(f === 'jsonl' ? `jsonl ${fmt((vectors + index) / n)}` : `${f} ${fmt(vectors / n)} + index ${fmt(index / n)}`);
  }
  await emu.stop();
  c.rows.push({ scenario: `E2. bytes per vector on disk, 768 dimensions, ${fmt(n)} texts (--vectors: vectors + JSONL index; the raw float32 floor is 3,072)`, gempipe: cells.join('; '), baseline: '', ratio: '', target: '', met: null });
}

async function memory(c: BenchContext): Promise<void> {
  const windowMs = c.quick ? 6000 : 15_000;
  const big = join(c.work, 'embed-1m.txt');
  const small = join(c.work, 'embed-100k.txt');
  writeTexts(big, 1_000_000);
  writeTexts(small, 100_000);
  const emu = await c.startEmulator(['--latency-ms', '20']);
  const rss: number[] = [];
  for (const input of [big, small]) {
    const r = await c.runNode([c.main, 'embed', '-o', join(c.work, `embed-mem-${rss.length}`), '-q', '--rpm', 'off', '--dimensions', '768', '--vectors', 'f32', input], { env: { GEMINI_BASE_URL: emu.url }, stopAfterMs: windowMs });
    rss.push(r.peakRssMB);
  }
  const done = (await emu.stats()).ok;
  await emu.stop();
  c.rows.push({ scenario: `E3. embed memory: 1,000,000 vs 100,000 texts, 768 dimensions, --vectors f32, 20 ms a call (peak RSS over ${windowMs / 1000} s; ${fmt(done)} calls answered in all)`, gempipe: `${fmt(rss[0])} MB`, baseline: `${fmt(rss[1])} MB with 100,000`, ratio: `${(rss[0] / rss[1]).toFixed(2)}×`, target: '1.00 ± 0.10', met: Math.abs(rss[0] / rss[1] - 1) <= 0.1 });
}

async function exactlyOnce(c: BenchContext): Promise<void> {
  const n = c.quick ? 20_000 : 100_000;
  const input = writeTexts(join(c.work, 'embed-once.txt'), n);
  const out = join(c.work, 'embed-once');
  const emu = await c.startEmulator(['--latency-ms', '10']);
  const args = [c.main, 'embed', '-o', out, '-q', '--rpm', 'off', '--dimensions', '16', '--vectors', 'npy', '--shard-size', '5000', '--fsync', 'none', input];
  let kills = 0;
  const t0 = Date.now();
  for (let k = 0; k < 50; k++) {
    const child = spawn(process.execPath, args, { env: { ...process.env, GEMINI_API_KEY: 'bench-key', GEMINI_BASE_URL: emu.url }, stdio: 'ignore' });
    const killer = k < 5 ? setTimeout(() => child.kill('SIGKILL'), 1500 + k * 700) : undefined;
    const code = await new Promise<number | string | null>((res) => child.on('exit', (cd, sig) => res(sig ?? cd)));
    clearTimeout(killer);
    if (code === 'SIGKILL') kills++;
    else break;
  }
  const wallMs = Date.now() - t0;
  const texted = (await emu.stats()) as unknown as { admitted: number };
  await emu.stop();
  const ids = new Set<string>();
  let lines = 0;
  let rows = 0;
  for (const f of readdirSync(out)) {
    if (f.endsWith('.jsonl')) for (const l of readFileSync(join(out, f), 'utf8').split('\n')) if (l) ids.add((JSON.parse(l) as { id: string }).id), lines++;
    if (f.endsWith('.npy')) rows += (statSync(join(out, f)).size - 128) / 64;
  }
  c.rows.push({
    scenario: `E4. ${fmt(n)} texts to vectors through ${kills} SIGKILLs and resumes (--vectors npy, 16 dimensions, 10 ms a call)`,
    gempipe: `${fmt(lines)} index lines, ${fmt(ids.size)} ids, ${fmt(rows)} rows; ${fmt(texted.admitted)} texts sent in ${fmt(wallMs / 1000, 1)} s`, baseline: `${fmt(n)} texts`, ratio: '',
    target: 'each text once, a row each', met: lines === n && ids.size === n && rows === n && kills >= 3,
  });
}

export async function embedBench(c: BenchContext): Promise<void> {
  for (const [name, fn] of [['rates', rates], ['bytes', bytesPerVector], ['memory', memory], ['exactly once', exactlyOnce]] as const) {
    c.log(`embed: ${name}...`);
    await fn(c);
  }
}
