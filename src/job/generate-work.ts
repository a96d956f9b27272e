// The generate work as every mode that asks record by record assembles it — a run, batch mode's
// online fallback, a worker — from the request spec, the retry settings and a backend: one
// assembly (the schema compiled once, in the spec), --rpd's daily cap where requests are
// really sent (shared through Redis when the quota is), and the Gemini call told to the run's
// meter (answers by HTTP code, latency) when the series or --metrics read one.

import type { Options } from '../cli/options.js';
import { RETRY_DEFAULTS } from '../gemini/retry-policy.js';
import { DailyCap, SharedDailyCap, describeReset } from '../quota/daily-cap.js';
import { fixedTokensOf, TokenEstimator } from '../quota/token-estimate.js';
import type { RequestSpec } from '../request/spec.js';
import { reuseAnswers, type Work } from '../reuse/reuse.js';
import { createGenerateWork, type GenerateStageOptions } from '../stages/generate.js';
import type { RunStats } from '../stats.js';
import type { Parking } from '../stages/parallel.js';
import type { Backend } from './backend.js';
import type { Job } from './job.js';

/** How to ask besides the request: attempts, backoff, answers that break the schema, slots. */
export type WorkSettings = Pick<Options, 'maxAttempts' | 'retryBaseDelayMs' | 'schemaRetries' | 'concurrency'> & Partial<Pick<Options, 'maxQuotaWaitMs'>>;

export function generateWorkOf(
  spec: RequestSpec,
  s: WorkSettings,
  backend: Pick<Backend, 'generate' | 'limiter' | 'reachable'> & Partial<Pick<Backend, 'bodies' | 'fixedTokens'>>,
  stats: RunStats,
  extras: Pick<GenerateStageOptions, 'signal' | 'dailyCap' | 'onDailyCapReached' | 'onFatal' | 'stopSending' | 'parking' | 'meter'>,
): Work {
  const work = createGenerateWork({
    ...extras,
    generate: backend.generate, limiter: backend.limiter, reachable: backend.reachable, concurrency: s.concurrency, model: spec.shape.model, stats,
    retry: { ...RETRY_DEFAULTS, maxAttempts: s.maxAttempts, baseDelayMs: s.retryBaseDelayMs },
    expectJson: spec.expectJson, checkJson: spec.checkJson, schemaRetries: s.schemaRetries, maxQuotaWaitMs: s.maxQuotaWaitMs,
    tokenEstimator: new TokenEstimator(fixedTokensOf(spec.shape.system) + (backend.fixedTokens ?? 0)),
  });
  // A record asking more than its prompt has its body built before it is asked (request/builder.ts).
  return backend.bodies ? backend.bodies.wrap(work, stats) : work;
}

/**
 * A run's generate work on `backend` (online, or batch mode's fallback): --rpd counted where its
 * requests go (its cap saved when the runner is done), a whole-run fault or the spent cap halting
 * the job, and what costs nothing (--dedupe, --cache) answered first.
 */
export function jobWorkOf(job: Job, backend: Backend, parking?: Parking): Work {
  const o = job.options;
  const dailyCap = dailyCapFor(o.rpd, o.model, backend, job.toStdout ? undefined : o.out);
  job.defer(() => dailyCap?.stop());
  const work = generateWorkOf(job.spec, o, backend, job.stats, {
    // A stop (Ctrl-C, SIGTERM, a whole-run fault) sends nothing new: records read ahead into the
    // stages' buffers are left for a rerun, only requests already on the wire are drained.
    signal: job.stop.abandon, stopSending: AbortSignal.any([job.stopSending, job.stop.reading]), dailyCap, parking, meter: job.meter,
    onDailyCapReached: () => job.halt(`reached --rpd ${o.rpd}: ${dailyCap!.used} requests to ${o.model} today (Pacific time); ${describeReset()}; rerun then to resume`),
    onFatal: (err) => job.halt(err.message),
  });
  return reuseAnswers(work, job);
}

/**
 * --rpd for the requests this backend sends: counted in Redis when the quota is shared (every
 * process), else in the output directory (`dir`; none: this run only).
 */
export function dailyCapFor(rpd: number | undefined, model: string, backend: Pick<Backend, 'shared'>, dir?: string): DailyCap | SharedDailyCap | undefined {
  if (!rpd) return undefined;
  return backend.shared ? new SharedDailyCap(rpd, backend.shared.link.client, backend.shared.quotaId, model) : new DailyCap(rpd, model, dir);
}
