// writeSyntheticJob(): a realistic job written into an output directory in virtual time, for
// the report's tests, its benchmark and demos (like the emulator, it makes the tool showable
// offline). It drives the real recorder with the real RunStats and RunMeter, second by second:
// the limiter probes, finds the quota at a 429 that names it, pauses on RetryInfo bursts; 503s
// are retried and some records run out of attempts; a few are blocked, cut at MAX_TOKENS or
// invalid; --dedupe and --cache answer some. Each run but the last can end interrupted (a
// summary, exit 130) or killed (no end line, a torn last line); the next run resumes.
// failures.jsonl gets a failure record per failed record. Deterministic for a seed.

import { seededRandom } from '../util/seeded-random.js';
import { appendFileSync, mkdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURES_FILE } from '../output-layout.js';
import { createStats, countFailure, summarize, type Summary } from '../stats.js';
import { pricesFor } from './cost.js';
import { createRunMeter } from './run-meter.js';
import { createSampler } from './snapshot.js';
import { SERIES_FILE } from './series-format.js';
import { createSeriesRecorder } from './timeseries.js';
import type { LimiterState, LearnedLimit } from '../quota/limiter.js';

export interface SyntheticRunSpec {
  /** The share of the job's records done when this run ends (the last run: 1). */
  until: number;
  /** How it ends. @default 'completed' for the last run, 'interrupted' otherwise */
  end?: 'completed' | 'interrupted' | 'killed';
  /** Seconds between this run's end and the next one's start. @default 600 */
  pauseAfterSec?: number;
}

export interface SyntheticJobOptions {
  records: number;
  runs?: SyntheticRunSpec[];
  /** The server's request quota, per minute (named in its 429s). @default 3000 */
  quotaRpm?: number;
  /** @default 64 */
  concurrency?: number;
  /** Median latency of an answer, ms. @default 800 */
  latencyMs?: number;
  /** Share of attempts answered 503. @default 0.01 */
  error503?: number;
  /** Share of records blocked / invalid / cut at MAX_TOKENS. @default 0.002 / 0.0005 / 0.0005 */
  blocked?: number;
  invalid?: number;
  maxTokens?: number;
  /** Share of records answered by --dedupe / --cache (the cache only after the first run). @default 0.01 / 0.02 */
  dedupe?: number;
  cache?: number;
  /** @default 6 */
  maxAttempts?: number;
  /** Seconds between two capacity bursts of 429s that pause the limiter. @default 900 */
  burstEverySec?: number;
  /** Seconds between two storms of 503s (half the attempts), where records run out of attempts. @default 1200 */
  stormEverySec?: number;
  /** How long a storm lasts. @default 40 */
  stormSec?: number;
  model?: string;
  /** Virtual start, ms since epoch. @default 2026-11-02T09:00:00Z */
  start?: number;
  seed?: number;
}

export interface SyntheticJobResult {
  /** One per run: undefined for a killed run. */
  summaries: Array<Summary | undefined>;
  /** Sample lines written per run. */
  samples: number[];
  failures: number;
  seriesPath: string;
}

export function writeSyntheticJob(dir: string, options: SyntheticJobOptions): SyntheticJobResult {
  const o = {
    quotaRpm: 3000, concurrency: 64, latencyMs: 800, error503: 0.01, blocked: 0.002, invalid: 0.0005, maxTokens: 0.0005,
    dedupe: 0.01, cache: 0.02, maxAttempts: 6, burstEverySec: 900, stormEverySec: 1200, stormSec: 40, model: 'gemini-2.5-flash', start: Date.parse('2026-11-02T09:00:00Z'), seed: 1,
    runs: [{ until: 1 }] as SyntheticRunSpec[], ...options,
  };
  mkdirSync(dir, { recursive: true });
  const rnd = seededRandom(o.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const latency = () => o.latencyMs * Math.exp(0.45 * gauss());
  const price = pricesFor(o.model);
  const result: SyntheticJobResult = { summaries: [], samples: [], failures: 0, seriesPath: join(dir, SERIES_FILE) };
  let done = 0; // records finished over the job
  let vt = o.start;
  const now = () => vt;
  let learned: LearnedLimit | undefined;
  let nextRecord = 0;
  let pending: Array<{ id: number; attempts: number }> = [];

  o.runs.forEach((spec, runIndex) => {
    const last = runIndex === o.runs.length - 1;
    const end = spec.end ?? (last ? 'completed' : 'interrupted');
    const target = last ? o.records : Math.min(o.records, Math.floor(o.records * spec.until));
    const stats = createStats(vt);
    stats.skipped = done;
    const meter = createRunMeter();
    // The limiter's gauges, as the real one moves them: a probe, a ramp, the named limit.
    let rpm: number | undefined = learned ? Math.round(learned.value * 0.98) : undefined; // undefined: probing
    let pausedUntil = 0;
    const limiter = {
      state: (): LimiterState => ({ pausedUntil: pausedUntil > vt ? pausedUntil : 0, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, rpm, adaptive: !learned }),
      learned: () => (learned ? { rpm: learned } : {}),
    };
    const rec = createSeriesRecorder({
      dir, sample: createSampler({ stats, meter, limiter, now }), model: o.model, mode: 'online', now, tickMs: 2 ** 31 - 1,
      argv: ['gempipe', '-o', dir, '--model', o.model, '--concurrency', String(o.concurrency), '--dedupe', ...(runIndex > 0 ? ['--cache', 'cache.lmdb'] : []), 'inputs/'],
      settings: { concurrency: o.concurrency, rpm: 'auto', maxAttempts: o.maxAttempts, dedupe: true },
      price,
    });
    const retries: Array<{ id: number; attempts: number }> = pending;
    let failuresText = '';
    const fail = (id: number, attempts: number, status: string, code: number, message: string) => {
      countFailure(stats, status);
      done++;
      const source = `inputs/part-${String(id % 8).padStart(2, '0')}.jsonl`;
      failuresText += JSON.stringify({ id: `${source}:${Math.floor(id / 8) + 1}`, source, line: Math.floor(id / 8) + 1, prompt: `Classify the sentiment of review #${id}: "…"`, attempts, error: { status, code, message } }) + '\n';
      result.failures++;
    };
    const succeed = () => {
      stats.succeeded++;
      done++;
    };
    let carry = 0;
    let sec = 0;
    let nextBurst = o.burstEverySec;
    let quota429s = 0;
    // The last run finishes its retries; an earlier one stops at its share (retries are redone).
    const finished = () => (last ? done >= target && retries.length === 0 : done >= target);
    while (!finished()) {
      vt += 1000;
      sec++;
      // The limiter: a growing probe window (no rate) until the server names its quota in a
      // 429, then 98% of it. Capacity bursts of 429s every burstEverySec pause everyone (RetryInfo).
      const burst = sec >= nextBurst && sec < nextBurst + 3;
      if (sec === nextBurst + 3) nextBurst += o.burstEverySec;
      const storm = sec % o.stormEverySec >= o.stormEverySec - o.stormSec;
      const paused = pausedUntil > vt;
      const byConcurrency = (o.concurrency * 1000) / o.latencyMs;
      const perSec = paused ? 0 : Math.min(byConcurrency, rpm !== undefined ? rpm / 60 : byConcurrency * Math.min(1, sec / 30));
      carry += perSec;
      let n = Math.floor(carry);
      carry -= n;
      stats.inFlight = Math.round(Math.min(o.concurrency, perSec * (o.latencyMs / 1000)));
      const overQuota = perSec * 60 > o.quotaRpm ? 1 - o.quotaRpm / (perSec * 60) : 0;
      const e503 = storm ? 0.5 : o.error503;
      for (; n > 0; n--) {
        let item = retries.shift();
        if (!item) {
          if (nextRecord >= target) break;
          const id = nextRecord++;
          // Records that need no request.
          const u = rnd();
          if (u < o.invalid) {
            fail(id, 0, 'INVALID_INPUT', 0, `line ${Math.floor(id / 8) + 1}: not valid JSON: Unexpected token } in JSON at position 41`);
            n++;
            continue;
          }
          if (u < o.invalid + o.dedupe) {
            stats.deduped++;
            succeed();
            n++;
            continue;
          }
          if (runIndex > 0 && u < o.invalid + o.dedupe + o.cache) {
            stats.cached++;
            succeed();
            n++;
            continue;
          }
          item = { id, attempts: 0 };
        }
        item.attempts++;
        stats.attempts++;
        const r = rnd();
        if (burst || r < overQuota) {
          const lat = 40 + rnd() * 30;
          meter.attempt(429, lat);
          stats.http429++;
          stats.apiMs += lat;
          stats.retries++;
          stats.retriesByCause['429'] = (stats.retriesByCause['429'] ?? 0) + 1;
          item.attempts--; // a quota 429 never uses up an attempt
          retries.push(item);
          if (!learned && !burst && ++quota429s >= 5) {
            learned = { value: o.quotaRpm, source: 'server' };
            rpm = Math.round(o.quotaRpm * 0.98);
          }
          if (burst && pausedUntil <= vt) pausedUntil = vt + 2000;
          continue;
        }
        const lat = latency();
        stats.apiMs += lat;
        if (r < overQuota + e503) {
          meter.attempt(503, lat);
          if (item.attempts >= o.maxAttempts) fail(item.id, item.attempts, 'UNAVAILABLE', 503, 'The model is overloaded. Please try again later.');
          else {
            stats.retries++;
            stats.retriesByCause['503'] = (stats.retriesByCause['503'] ?? 0) + 1;
            stats.backoffMs += 500 * 2 ** item.attempts * rnd();
            retries.push(item);
          }
          continue;
        }
        meter.attempt(200, lat);
        const pin = 30 + Math.floor(rnd() * 40);
        const out = 80 + Math.floor(rnd() * 120);
        const thoughts = Math.floor(out * 0.25);
        stats.tokensIn += pin;
        stats.tokensOut += out;
        meter.usage({ promptTokens: pin, responseTokens: out, thoughtsTokens: thoughts });
        const b = rnd();
        if (b < o.blocked) fail(item.id, item.attempts, 'BLOCKED', 0, 'SAFETY: the prompt was blocked (promptFeedback.blockReason)');
        else if (b < o.blocked + o.maxTokens) fail(item.id, item.attempts, 'MAX_TOKENS', 0, `the answer hit the output-token limit before any text (thoughts used ${thoughts} tokens): give a larger --max-output-tokens or a smaller --thinking-budget`);
        else succeed();
      }
      stats.limiterMs += paused ? o.concurrency * 1000 : rpm !== undefined ? o.concurrency * 200 : 0;
      stats.written = stats.succeeded + stats.failed;
      stats.writeMs += 2;
      rec.tick();
    }
    stats.inFlight = 0;
    if (failuresText) appendFileSync(join(dir, FAILURES_FILE), failuresText);
    // Records in retry when a run stops are not done: the next run does them afresh.
    pending = retries.map((r) => ({ id: r.id, attempts: 0 }));
    const lines = rec.written;
    if (end === 'killed') {
      // The process died: no last sample, no end line, and a line torn mid-write. (stop() then
      // a cut back is how to let go of the file and its timer without a kill.)
      const size = statSync(result.seriesPath).size;
      rec.stop();
      truncateSync(result.seriesPath, size);
      appendFileSync(result.seriesPath, `{"t":${vt - stats.startedAt},"ok":`);
      result.summaries.push(undefined);
      result.samples.push(lines - 1);
    } else {
      const exitCode = end === 'interrupted' ? 130 : stats.failed > 0 ? 3 : 0;
      const summary = summarize(stats, end, exitCode, vt);
      rec.stop(summary);
      result.summaries.push(summary);
      result.samples.push(lines); // the header out, the last sample line in
    }
    vt += (spec.pauseAfterSec ?? 600) * 1000;
  });
  return result;
}
