// createGenerateStage(): InputRecords in, success/failure records out — the parallel stage
// (parallel.ts: bounded in-flight, back-pressure, optional order) running createGenerateWork().
// The work for one record: every attempt goes through the limiter, then one SDK call; a failed
// attempt is classified and retried with backoff (a 429's RetryInfo pauses the whole limiter);
// a per-record failure becomes a failure record; a whole-run fault (bad key, unknown model,
// daily quota) rejects, which destroys the stage and stops the run. Abandoned work (hard stop)
// resolves null and is not emitted: resume redoes it.

import type { Duplex } from 'node:stream';
import { setMaxListeners } from 'node:events';
import { FatalRunError } from '../errors.js';
import type { GenerateFn, GenerateResult } from '../gemini/client.js';
import type { Limiter } from '../gemini/limiter.js';
import { classifyError, decideRetry, type RetryPolicy } from '../gemini/retry-policy.js';
import { TokenEstimator } from '../gemini/token-estimate.js';
import type { DailyCap } from '../quota/daily-cap.js';
import type { FailureRecord, InputRecord, OutputRecord, SuccessRecord } from '../records.js';
import { createStats, type RunStats } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { createParallelStage } from './parallel.js';

export interface GenerateStageOptions {
  generate: GenerateFn;
  limiter: Limiter;
  /** Most prompts in flight (waiting on the limiter, the API or a backoff). */
  concurrency: number;
  /** Written into every success record. */
  model: string;
  retry: RetryPolicy;
  /** Emit in input order (a finished record waits for the ones before it, holding its slot). */
  ordered?: boolean;
  /** Structured output: the response must parse as JSON; it is kept as `json`. */
  expectJson?: boolean;
  /** Hard stop: in-flight requests are abandoned and not emitted (resume redoes them). */
  signal?: AbortSignal;
  stats?: RunStats;
  random?: () => number;
  /** Input-token estimates for the limiter's token budget, calibrated by reported usage. */
  tokenEstimator?: TokenEstimator;
  /** --rpd: every attempt takes one; when it is spent the record is left undone (resume redoes it). */
  dailyCap?: DailyCap;
  /** Called once when the daily cap is spent; the stage then halts (see onFatal). */
  onDailyCapReached?: () => void;
  /**
   * A whole-run fault (bad key, unknown model, per-day quota). Given: the stage halts — no
   * new attempt starts, requests already sent finish and their records are emitted (an answer
   * that was paid for is never thrown away), undone records are dropped for a rerun — and the
   * caller ends the input. Absent: the stage is destroyed with the error.
   */
  onFatal?: (err: FatalRunError) => void;
  /** Readable-side buffer, in records. @default 64 */
  highWaterMark?: number;
  now?: () => number;
}

const FATAL_MESSAGES: Record<string, string> = {
  INVALID_API_KEY: 'the API key was rejected; check GEMINI_API_KEY (or GOOGLE_API_KEY)',
  MODEL_NOT_FOUND: 'the model was not found; check --model',
  DAILY_QUOTA: 'the daily request quota is exhausted (it resets at midnight Pacific time); rerun later to resume',
};

export function createGenerateStage(options: GenerateStageOptions): Duplex {
  const o = { ...options };
  const stats = o.stats ?? createStats();
  return createParallelStage<InputRecord, OutputRecord>({
    work: createGenerateWork({ ...o, stats }),
    concurrency: o.concurrency,
    ordered: o.ordered,
    signal: o.signal,
    highWaterMark: o.highWaterMark,
    timing: stats,
    now: o.now,
  });
}

/** The work for one record; resolves to the record to emit, or null when a hard stop abandoned it. */
export function createGenerateWork(o: GenerateStageOptions & { stats: RunStats }) {
  const { stats, limiter, generate, retry } = o;
  const now = o.now ?? Date.now;
  const estimator = o.tokenEstimator ?? new TokenEstimator();
  // Waits (limiter, backoff) end on a halt or on the stage's own abort; requests in flight
  // end only on the latter.
  const halt = new AbortController();
  setMaxListeners(0, halt.signal); // one per waiting record: bounded by --concurrency
  let linked = false;
  const haltRun = () => halt.abort(new Error('the run is halting'));

  function fail(rec: InputRecord, attempts: number, error: FailureRecord['error']): FailureRecord {
    stats.failed++;
    stats.failedByStatus[error.status] = (stats.failedByStatus[error.status] ?? 0) + 1;
    const out: FailureRecord = { id: rec.id, source: rec.source, line: rec.line, prompt: rec.prompt, attempts, error };
    if (rec.kept) for (const k in rec.kept) if (!(k in out)) out[k] = rec.kept[k];
    return out;
  }

  function retried(cause: string): void {
    stats.retries++;
    stats.retriesByCause[cause] = (stats.retriesByCause[cause] ?? 0) + 1;
  }

  async function attempts(rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> {
    const wait = halt.signal;
    for (let attempt = 1; ; attempt++) {
      if (wait.aborted) return null;
      const est = estimator.estimate(rec.prompt);
      let t = now();
      try {
        await limiter.acquire(est, wait);
      } catch (err) {
        if (wait.aborted) return null;
        throw err;
      }
      if (o.dailyCap && !o.dailyCap.take()) {
        if (!wait.aborted) {
          haltRun();
          o.onDailyCapReached?.();
        }
        return null;
      }
      const t1 = now();
      stats.limiterMs += t1 - t;
      stats.attempts++;
      let res: GenerateResult;
      try {
        res = await generate(rec.prompt, signal);
      } catch (err) {
        stats.apiMs += now() - t1;
        if (signal.aborted) return null;
        const c = classifyError(err, (err as Error)?.name === 'AbortError');
        if (c.code === 429) {
          stats.http429++;
          if (c.kind !== 'fatal') limiter.feedback('429', t1);
        }
        if (c.kind === 'fatal') {
          const what = FATAL_MESSAGES[c.fatalCode ?? ''] ?? 'the API refuses every request';
          const fatal = new FatalRunError(c.fatalCode ?? 'FATAL', `${what} (HTTP ${c.code} ${c.status}: ${c.message})`);
          if (!o.onFatal) throw fatal;
          if (!wait.aborted) {
            haltRun();
            o.onFatal(fatal);
          }
          return null;
        }
        const d = decideRetry(c, attempt, retry, o.random);
        if (!d.retry) return fail(rec, attempt, { status: c.status, code: c.code, message: c.message });
        if (d.pauseAllMs) limiter.pauseFor(d.pauseAllMs);
        retried(c.cause ?? c.status);
        t = now();
        try {
          await sleep(d.delayMs, wait);
        } catch {
          return null;
        }
        stats.backoffMs += now() - t;
        continue;
      }
      const latencyMs = now() - t1;
      stats.apiMs += latencyMs;
      limiter.feedback('ok');
      stats.tokensIn += res.usage.promptTokens;
      stats.tokensOut += res.usage.responseTokens;
      if (res.usage.promptTokens > 0) {
        limiter.settle(est, res.usage.promptTokens);
        estimator.observe(rec.prompt, res.usage.promptTokens);
      }
      if (res.kind === 'blocked') {
        return fail(rec, attempt, { status: 'BLOCKED', code: 0, message: `${res.reason}: ${res.message}` });
      }
      let json: unknown;
      if (o.expectJson) {
        try {
          json = JSON.parse(res.text);
        } catch (e) {
          const c = { kind: 'retryable' as const, status: 'INVALID_RESPONSE', code: 0, message: `the response is not valid JSON: ${(e as Error).message}`, cause: 'invalid JSON' };
          const d = decideRetry(c, attempt, retry, o.random);
          if (!d.retry) return fail(rec, attempt, { status: c.status, code: 0, message: c.message });
          retried(c.cause);
          continue;
        }
      }
      stats.succeeded++;
      const out: SuccessRecord = {
        id: rec.id, source: rec.source, line: rec.line, prompt: rec.prompt, response: res.text,
        model: o.model, finishReason: res.finishReason, usage: res.usage, attempts: attempt, latencyMs,
      };
      if (rec.kept) for (const k in rec.kept) if (!(k in out)) out[k] = rec.kept[k];
      if (o.expectJson) out.json = json;
      return out;
    }
  }

  return async (rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> => {
    if (rec.invalid) return fail(rec, 0, { status: 'INVALID_INPUT', code: 0, message: rec.invalid.message });
    if (!linked) {
      // The parallel stage hands every item the same signal: link it once.
      linked = true;
      if (signal.aborted) haltRun();
      else signal.addEventListener('abort', haltRun, { once: true });
    }
    stats.inFlight++;
    try {
      return await attempts(rec, signal);
    } finally {
      stats.inFlight--;
    }
  };
}
