// createEmbedWork(): the work for one record of an embedding job, run by the parallel stage like
// the generate work. Each text takes its own grant from the limiter (the quota counts every text
// of a batchEmbedContents call as a request), then joins the open call; a call goes when it holds
// --texts-per-call texts or its first text has waited --call-wait ms, so a slow reader never holds
// vectors back long. A failed call is retried with backoff (a 429 is flow control, as online); a
// call that fails for good is split in two and each half asked again, down to single texts, so
// only the text at fault fails. A whole-run fault halts: nothing new goes, undone records are
// dropped for a rerun (null), answers on the wire are still written.

import { setMaxListeners } from 'node:events';
import { FatalRunError } from '../errors.js';
import type { EmbedFn, EmbedText } from '../gemini/embed-client.js';
import { classifyError, decideRetry, fatalMessage, RETRY_DEFAULTS, type ClassifiedError, type RetryPolicy } from '../gemini/retry-policy.js';
import type { DailyCap, SharedDailyCap } from '../quota/daily-cap.js';
import type { AttemptOutcome, Grant, Limiter } from '../quota/limiter.js';
import { TokenEstimator } from '../quota/token-estimate.js';
import { failureOf, type InputRecord, type OutputRecord, type RecordError } from '../records.js';
import type { Work } from '../reuse/reuse.js';
import { countFailure, type RunStats } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { embeddingSuccessOf, normalized } from './embed-record.js';

export interface EmbedWorkOptions {
  embed: EmbedFn;
  limiter: Limiter;
  model: string;
  normalize?: boolean;
  /** Texts in one call at most (the API takes 100). */
  textsPerCall: number;
  /** A call goes this long after its first text joined it, full or not. */
  callWaitMs: number;
  retry: RetryPolicy;
  stats: RunStats;
  /** Stops sending (a writer that cannot write): records not yet sent are dropped for a rerun. */
  stopSending?: AbortSignal;
  /** A whole-run fault: the work halts (see the header). Absent: it throws. */
  onFatal?: (err: FatalRunError) => void;
  /** --rpd: every text takes one. */
  dailyCap?: DailyCap | SharedDailyCap;
  onDailyCapReached?: () => void;
  /** Only 429s for this long ends the run (exit 1, resumable). @default 600000 */
  maxQuotaWaitMs?: number;
}

interface Item {
  rec: InputRecord;
  text: EmbedText;
  est: number;
  grant?: Grant;
  /** Calls this text was in (its record's `attempts`). */
  tries: number;
  done: (r: OutputRecord | null) => void;
}

export function createEmbedWork(o: EmbedWorkOptions): Work {
  const { limiter, stats, retry } = o;
  const estimator = new TokenEstimator();
  const halt = new AbortController();
  let wait: AbortSignal = halt.signal;
  let callSignal: AbortSignal | undefined;
  let lastAnswerAt = 0;
  let open: Item[] = [];
  let timer: NodeJS.Timeout | undefined;

  function haltRun(err: FatalRunError): void {
    if (halt.signal.aborted) return;
    halt.abort(err);
    if (!o.onFatal) throw err;
    o.onFatal(err);
  }

  const fail = (it: Item, e: RecordError) => {
    countFailure(stats, e.status);
    it.done(failureOf(it.rec, it.tries, e));
  };

  /** A grant for one text; false: the run is stopping (the text is left for a rerun). */
  async function acquire(it: Item): Promise<boolean> {
    const asked = Date.now();
    try {
      it.grant = await limiter.acquire(it.est, wait);
    } catch (err) {
      if (wait.aborted) return false;
      throw err;
    }
    if (o.dailyCap && !(await o.dailyCap.take())) {
      limiter.release(it.grant, { kind: 'failed' });
      it.grant = undefined;
      if (!wait.aborted) {
        halt.abort(new Error('daily cap'));
        o.onDailyCapReached?.();
      }
      return false;
    }
    stats.limiterMs += it.grant.sentAt - asked;
    return true;
  }

  function release(items: readonly Item[], outcome: (it: Item) => AttemptOutcome) {
    let hold;
    for (const it of items) {
      if (!it.grant) continue;
      const h = limiter.release(it.grant, outcome(it));
      hold ??= h;
      it.grant = undefined;
    }
    return hold;
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    const call = open;
    open = [];
    if (call.length === 0) return;
    void send(call, 1).catch((e) => {
      call.forEach((it) => it.done(null)); // left for a rerun
      haltRun(e instanceof FatalRunError ? e : new FatalRunError('FATAL', (e as Error).message));
    });
  }

  function join(it: Item): void {
    open.push(it);
    if (open.length >= o.textsPerCall) flush();
    else if (open.length === 1) timer = setTimeout(flush, o.callWaitMs);
  }

  /** One call for `items` (all holding grants), retried, split, or given up; settles every item. */
  async function send(items: Item[], attempt: number): Promise<void> {
    let bare429s = 0;
    for (;;) {
      if (wait.aborted) {
        release(items, () => ({ kind: 'failed' }));
        return items.forEach((it) => it.done(null));
      }
      const sentAt = Math.max(...items.map((it) => it.grant!.sentAt));
      for (const it of items) it.tries++;
      stats.attempts += items.length;
      let error: ClassifiedError;
      try {
        const res = await o.embed(items.map((it) => it.text), callSignal);
        const latencyMs = Date.now() - sentAt;
        lastAnswerAt = Date.now();
        stats.apiMs += latencyMs;
        if (res.vectors.length !== items.length) throw Object.assign(new Error(`the API returned ${res.vectors.length} vector(s) for ${items.length} text(s)`), { name: 'MalformedAnswer' });
        const total = items.reduce((n, it) => n + it.est, 0);
        // gemini-embedding-001 reports no token count: each text's is the estimate (~4 characters a token).
        const tokensOf = (it: Item) => (res.promptTokens ? Math.max(1, Math.round((res.promptTokens * it.est) / total)) : it.est);
        release(items, (it) => ({ kind: 'ok', promptTokens: res.promptTokens ? tokensOf(it) : undefined }));
        items.forEach((it, i) => {
          const v = res.vectors[i];
          if (v.length === 0) return fail(it, { status: 'EMPTY_RESPONSE', code: 0, message: 'the API returned an empty vector for this text' });
          if (res.promptTokens) estimator.observe(it.text.text, tokensOf(it));
          const tokens = tokensOf(it);
          stats.tokensIn += tokens;
          stats.succeeded++;
          it.done(embeddingSuccessOf(it.rec, { embedding: o.normalize ? normalized(v) : v, model: o.model, usage: { promptTokens: tokens, responseTokens: 0, totalTokens: tokens } }, it.tries, latencyMs));
        });
        return;
      } catch (err) {
        if (callSignal?.aborted) {
          release(items, () => ({ kind: 'failed' }));
          return items.forEach((it) => it.done(null));
        }
        error = classifyError(err, (err as Error)?.name === 'AbortError');
      }
      if (error.code > 0) lastAnswerAt = Date.now();
      const hold = release(items, () => (error.code === 429 && error.kind !== 'fatal'
        ? { kind: 'quota', quota: error.quota, perMinute: error.quotaValue, retryDelayMs: error.retryDelayMs }
        : { kind: 'failed' }));
      if (error.code === 429) stats.http429++;
      if (error.kind === 'fatal') {
        haltRun(new FatalRunError(error.fatalCode ?? 'FATAL', fatalMessage(error, o.model)));
        return items.forEach((it) => it.done(null));
      }
      const retried = (cause: string) => {
        stats.retries++;
        stats.retriesByCause[cause] = (stats.retriesByCause[cause] ?? 0) + 1;
      };
      let delayMs: number | undefined;
      if (error.code === 429) {
        // Flow control: never uses up --max-attempts, never fails a text — unless the quota let nothing through for too long.
        const starved = limiter.starvedSince();
        if (starved !== undefined && Date.now() - starved >= (o.maxQuotaWaitMs ?? 600_000)) {
          haltRun(new FatalRunError('QUOTA_STARVED', `the quota of ${o.model} let no request through for ${Math.round((Date.now() - starved) / 1000)} s (last: HTTP 429 ${error.message.slice(0, 200)}); nothing was marked failed — rerun to resume, or raise --max-quota-wait`));
          return items.forEach((it) => it.done(null));
        }
        retried(error.cause ?? '429');
        delayMs = hold && 'ms' in hold ? Math.min(hold.ms, RETRY_DEFAULTS.maxHonouredRetryDelayMs) : Math.floor(Math.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** bare429s++));
      } else {
        const d = decideRetry(error, attempt, retry);
        if (d.retry) {
          retried(error.cause ?? error.status);
          delayMs = d.delayMs;
          attempt++;
        }
      }
      if (delayMs === undefined) {
        if (error.code === 0 && lastAnswerAt < sentAt && error.cause !== 'timeout') {
          // No HTTP answer at all, and nobody else answered since: the endpoint is down, not these texts.
          haltRun(new FatalRunError('UNREACHABLE', `the API cannot be reached: no answer at all for ${Math.round((Date.now() - sentAt) / 1000)} s (last: ${error.message}); check --base-url and the network, then rerun to resume`));
          return items.forEach((it) => it.done(null));
        }
        if (items.length === 1) return fail(items[0], { status: error.status, code: error.code, message: error.message });
        // Given up on as a whole: each half is asked again (new grants: new requests), down to the text at fault.
        const half = Math.ceil(items.length / 2);
        await Promise.all([items.slice(0, half), items.slice(half)].map(async (part) => {
          const got = await Promise.all(part.map(acquire));
          if (got.every(Boolean)) return send(part, retry.maxAttempts);
          release(part, () => ({ kind: 'failed' }));
          part.forEach((it) => it.done(null));
        }));
        return;
      }
      const t = Date.now();
      try {
        await sleep(delayMs, wait);
      } catch {
        return items.forEach((it) => it.done(null));
      } finally {
        stats.backoffMs += Date.now() - t;
      }
      const got = await Promise.all(items.map(acquire));
      if (!got.every(Boolean)) {
        release(items, () => ({ kind: 'failed' }));
        return items.forEach((it) => it.done(null));
      }
    }
  }

  let linked = false;
  return async (rec, signal) => {
    if (rec.invalid) {
      countFailure(stats, 'INVALID_INPUT');
      return failureOf(rec, 0, { status: 'INVALID_INPUT', code: 0, message: rec.invalid.message });
    }
    if (!linked) {
      // The parallel stage hands every item the same signal: link it once.
      linked = true;
      callSignal = signal;
      wait = AbortSignal.any([halt.signal, signal, ...(o.stopSending ? [o.stopSending] : [])]);
      setMaxListeners(0, wait);
      wait.addEventListener('abort', () => flush(), { once: true });
    }
    if (wait.aborted) return null;
    stats.inFlight++;
    try {
      return await new Promise<OutputRecord | null>((resolve) => {
        const it: Item = { rec, text: rec.title !== undefined ? { text: rec.prompt, title: rec.title } : { text: rec.prompt }, est: estimator.estimate(rec.prompt), tries: 0, done: resolve };
        void acquire(it).then((ok) => (ok ? join(it) : resolve(null)), () => resolve(null));
      });
    } finally {
      stats.inFlight--;
    }
  };
}
