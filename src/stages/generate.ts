// createGenerateStage(): InputRecords in, success/failure records out — the parallel stage
// (parallel.ts: bounded in-flight, back-pressure, optional order) running createGenerateWork().
// The work for one record: every attempt takes a grant from the limiter, makes one call and
// gives the grant back with how it ended (the limiter learns the quota from that); a failed
// attempt is classified and retried with backoff; a per-record failure (blocked, empty answer,
// a 4xx, retries spent) becomes a failure record; a whole-run fault (bad key, location, no
// quota, per-day quota, an endpoint that answers nothing) halts the stage: nothing new is
// sent, answers already on the wire are still emitted. Abandoned work resolves null: resume redoes it.

import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import { FatalRunError } from '../errors.js';
import type { GenerateResult } from '../gemini/client.js';
import { RETRY_DEFAULTS, classifyError, decideRetry, fatalMessage, type ClassifiedError } from '../gemini/retry-policy.js';
import type { AttemptOutcome } from '../quota/limiter.js';
import { TokenEstimator } from '../quota/token-estimate.js';
import { failureOf, successOf, type FailureRecord, type InputRecord, type OutputRecord, type RecordError, type SuccessRecord } from '../records.js';
import { countFailure, createStats, type RunStats } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { createParallelStage, type Parking } from './parallel.js';
import type { Hold } from '../quota/controller.js';
import { reuseAnswers } from '../reuse/reuse.js';
import { unusable } from './answer-check.js';
import type { GenerateStageOptions } from './generate-options.js';

export type { GenerateStageOptions };

export function createGenerateStage(options: GenerateStageOptions): Duplex {
  const o = { ...options };
  const stats = o.stats ?? createStats();
  // Cheapest first: a duplicate of another record (--dedupe), then the cache, then the API.
  // A record waiting out a long RetryInfo gives its slot to the next record meanwhile.
  const parking: Parking = { park: () => stage.park(), unpark: (s) => stage.unpark(s) };
  const work = reuseAnswers(createGenerateWork({ ...o, stats, parking: o.parking ?? parking }), o);
  const stage = createParallelStage<InputRecord, OutputRecord>({
    work,
    concurrency: o.concurrency,
    ordered: o.ordered,
    signal: o.signal,
    timing: stats,
  });
  return stage;
}

/** The work for one record; resolves to the record to emit, or null when a stop abandoned it. */
export function createGenerateWork(o: GenerateStageOptions & { stats: RunStats }) {
  const { stats, limiter, generate, retry } = o;
  const estimator = o.tokenEstimator ?? new TokenEstimator();
  // Waits (limiter, backoff) end on a halt or on the stage's own abort; requests in flight
  // end only on the latter. AbortSignal.any links the stage's signal in once it is known.
  const halt = new AbortController();
  let wait: AbortSignal = halt.signal;
  let lastAnswerAt = 0; // when the endpoint last answered anything at all (HTTP status or body)
  let timeoutsSinceAnswer = 0; // records whose attempts all timed out since that answer

  function haltRun(err: FatalRunError): null {
    if (!halt.signal.aborted) {
      halt.abort(err);
      if (!o.onFatal) throw err;
      o.onFatal(err);
    }
    return null;
  }

  function toFailure(rec: InputRecord, attempts: number, error: RecordError, extra?: Record<string, unknown>): FailureRecord {
    countFailure(stats, error.status);
    return failureOf(rec, attempts, error, extra);
  }

  function toSuccess(rec: InputRecord, attempts: number, res: Extract<GenerateResult, { kind: 'ok' }>, latencyMs: number, json: unknown): SuccessRecord {
    stats.succeeded++;
    if (res.finishReason === 'MAX_TOKENS') stats.truncated++;
    return successOf(rec, { response: res.text, model: o.model, finishReason: res.finishReason, usage: res.usage, json: o.expectJson ? json : undefined }, attempts, latencyMs);
  }

  function retried(cause: string): void {
    stats.retries++;
    stats.retriesByCause[cause] = (stats.retriesByCause[cause] ?? 0) + 1;
  }

  /** One attempt: limiter -> call -> the grant back with how it ended. Null: abandoned. */
  async function sendOnce(rec: InputRecord, signal: AbortSignal): Promise<{ res: GenerateResult; latencyMs: number } | { err: ClassifiedError; sentAt: number; hold?: Hold } | null> {
    const est = estimator.estimate(rec.prompt);
    const asked = Date.now();
    let grant;
    try {
      grant = await limiter.acquire(est, wait);
    } catch (err) {
      if (wait.aborted) return null;
      throw err;
    }
    if (o.dailyCap && !(await o.dailyCap.take())) {
      limiter.release(grant, { kind: 'failed' });
      if (!wait.aborted) {
        halt.abort(new Error('daily cap'));
        o.onDailyCapReached?.();
      }
      return null;
    }
    stats.limiterMs += grant.sentAt - asked;
    stats.attempts++;
    let outcome: AttemptOutcome = { kind: 'failed' };
    let hold: Hold | undefined;
    let released = false;
    try {
      const res = await generate(rec.prompt, signal, rec);
      const latencyMs = Date.now() - grant.sentAt;
      o.meter?.attempt(200, latencyMs); // told here, not by wrapping the call: no extra await a request
      o.meter?.usage(res.usage);
      lastAnswerAt = Date.now();
      timeoutsSinceAnswer = 0;
      stats.apiMs += latencyMs;
      stats.tokensIn += res.usage.promptTokens;
      stats.tokensOut += res.usage.responseTokens;
      stats.tokensCached += res.usage.cachedTokens ?? 0;
      outcome = { kind: 'ok', promptTokens: res.usage.promptTokens > 0 ? res.usage.promptTokens : undefined };
      // Attachments and whole requests count tokens the prompt's characters do not tell.
      if (res.usage.promptTokens > 0 && !rec.media && !rec.request) estimator.observe(rec.prompt, res.usage.promptTokens);
      return { res, latencyMs };
    } catch (err) {
      stats.apiMs += Date.now() - grant.sentAt;
      if (signal.aborted) return null;
      const c = classifyError(err, (err as Error)?.name === 'AbortError');
      o.meter?.attempt(c.code, Date.now() - grant.sentAt);
      if (c.code > 0) {
        lastAnswerAt = Date.now();
        timeoutsSinceAnswer = 0;
      }
      if (c.code === 429) {
        stats.http429++;
        if (c.kind !== 'fatal') outcome = { kind: 'quota', quota: c.quota, perMinute: c.quotaValue, retryDelayMs: c.retryDelayMs };
        hold = limiter.release(grant, outcome);
        released = true;
      }
      return { err: c, sentAt: grant.sentAt, hold };
    } finally {
      if (!released) limiter.release(grant, outcome);
    }
  }

  /** Waits `ms` (a 429's hold), giving the record's slot away meanwhile when that is long. */
  async function waitOut(ms: number): Promise<boolean> {
    const parked = ms >= 50 && o.parking?.park() === true;
    const t = Date.now();
    try {
      await sleep(ms, wait);
      return true;
    } catch {
      return false;
    } finally {
      stats.backoffMs += Date.now() - t;
      if (parked) await o.parking!.unpark(wait);
    }
  }

  async function attempts(rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> {
    let firstSentAt: number | undefined; // this record's first attempt
    let firstUnansweredAt: number | undefined; // when this record's first attempt with no HTTP answer was sent
    let badAnswers = 0; // answers that were not JSON or broke the schema
    let tries = 0; // requests sent for this record (the record's `attempts`)
    let bare429s = 0;
    for (let attempt = 1; ; attempt++) {
      if (wait.aborted) return null;
      const r = await sendOnce(rec, signal);
      if (r === null) return null;
      tries++;
      if ('res' in r) {
        const { res, latencyMs } = r;
        if (res.kind === 'blocked') return toFailure(rec, tries, { status: 'BLOCKED', code: 0, message: `${res.reason}: ${res.message}` });
        const u = unusable(res, o.expectJson === true, o.checkJson);
        if ('error' in u && u.error) {
          // A retry for an answer is paid for: it has its own, small allowance; the failure keeps the last answer.
          if (!u.retry || ++badAnswers > (o.schemaRetries ?? 2)) return toFailure(rec, tries, u.error, res.text !== '' ? { response: res.text } : undefined);
          retried(u.error.message.startsWith('the response is not valid JSON') ? 'invalid JSON' : 'schema mismatch');
          continue;
        }
        return toSuccess(rec, tries, res, latencyMs, u.json);
      }
      const c = r.err;
      firstSentAt ??= r.sentAt;
      if (c.kind === 'fatal') return haltRun(new FatalRunError(c.fatalCode ?? 'FATAL', fatalMessage(c, o.model)));
      if (c.code === 429) {
        // Flow control, not a failure: a 429 never uses up --max-attempts and never fails a
        // record. The request waits what the limiter says (its own RetryInfo, or a backoff for
        // a bare one) and goes again — unless the quota has let nothing through for too long.
        attempt--;
        retried(c.cause ?? '429');
        const starved = limiter.starvedSince();
        const most = o.maxQuotaWaitMs ?? 600_000;
        if (starved !== undefined && Date.now() - starved >= most) {
          return haltRun(new FatalRunError('QUOTA_STARVED', `the quota of ${o.model} let no request through for ${Math.round((Date.now() - starved) / 1000)} s (last: HTTP 429 ${c.message.slice(0, 200)}); nothing was marked failed — rerun to resume, or raise --max-quota-wait`));
        }
        const hold = r.hold;
        const ms = hold && 'ms' in hold
          ? Math.min(hold.ms, RETRY_DEFAULTS.maxHonouredRetryDelayMs)
          : Math.floor(Math.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** bare429s++));
        if (!(await waitOut(ms))) return null;
        continue;
      }
      if (c.code === 0 && c.cause !== 'timeout') firstUnansweredAt ??= r.sentAt;
      const d = decideRetry(c, attempt, retry);
      if (!d.retry) {
        // The last attempt got no HTTP answer at all. If the endpoint answers nobody else either,
        // it is down, not this prompt: end the run (resumable) instead of writing a failure that
        // a rerun would have to be told to retry. Others' answers may still be on their way, so
        // wait a little for one before deciding. A timeout is a request that was taken and kept
        // unanswered: the prompt's own (a failure record) while the endpoint answered before in
        // this run (or, before any answer, answers a models.get now: a rerun of that prompt alone)
        // and no other record has timed out since — a lone hanging prompt, even the last.
        const timedOut = c.cause === 'timeout';
        if (timedOut) timeoutsSinceAnswer++;
        const lone = timedOut && timeoutsSinceAnswer <= 1 && (lastAnswerAt > 0 || (await o.reachable?.()) === true);
        const since = timedOut ? firstSentAt! : r.sentAt;
        if (c.code === 0 && !lone && lastAnswerAt < since) {
          const deadline = Date.now() + Math.min(10_000, Math.max(200, 2 * retry.baseDelayMs));
          while (lastAnswerAt < since && Date.now() < deadline) {
            try {
              await sleep(Math.min(50, deadline - Date.now()), wait);
            } catch {
              return null;
            }
          }
          if (lastAnswerAt < since) {
            return haltRun(new FatalRunError('UNREACHABLE', `the API cannot be reached: no answer at all for ${Math.round((Date.now() - Math.max(lastAnswerAt, firstUnansweredAt ?? firstSentAt)) / 1000)} s (last: ${c.message}); check --base-url and the network, then rerun to resume`));
          }
        }
        return toFailure(rec, tries, { status: c.status, code: c.code, message: c.message });
      }
      retried(c.cause ?? c.status);
      const t = Date.now();
      try {
        await sleep(d.delayMs, wait);
      } catch {
        return null;
      }
      stats.backoffMs += Date.now() - t;
    }
  }

  let linked = false;
  return async (rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> => {
    if (rec.invalid) return toFailure(rec, 0, { status: 'INVALID_INPUT', code: 0, message: rec.invalid.message });
    if (!linked) {
      // The parallel stage hands every item the same signal: link it once.
      linked = true;
      wait = AbortSignal.any([halt.signal, signal, ...(o.stopSending ? [o.stopSending] : [])]);
      setMaxListeners(0, wait); // one listener per waiting record: bounded by --concurrency
    }
    stats.inFlight++;
    try {
      return await attempts(rec, signal);
    } finally {
      stats.inFlight--;
    }
  };
}
