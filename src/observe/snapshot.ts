// createSampler(): one reading of a run — RunStats' counters, the RunMeter's, and the limiter's
// gauges (rate in force, the quota the server named, the pause) — as a Snapshot. The time-series
// recorder and the --metrics endpoint both read the run only through it, so there is one set of
// books. A sample costs a few field copies and limiter.state(): call it per tick or per scrape,
// never per record. RunStats' maps and the latency counts are live views, not copies.

import type { Limiter } from '../quota/limiter.js';
import type { RunStats } from '../stats.js';
import type { RunMeter } from './run-meter.js';

export interface Snapshot {
  /** When it was taken (ms since epoch). */
  at: number;
  // Records (cumulative, this run).
  succeeded: number;
  failed: number;
  skipped: number;
  /** Of succeeded: copies of an identical request's answer (--dedupe). */
  deduped: number;
  /** Of succeeded: answered from the --cache. */
  cached: number;
  truncated: number;
  failedByStatus: Readonly<Record<string, number>>;
  // Requests (cumulative).
  attempts: number;
  retries: number;
  http429: number;
  retriesByCause: Readonly<Record<string, number>>;
  /** Attempts by HTTP code ("none": no answer). Empty without a RunMeter. */
  answers: Readonly<Record<string, number>>;
  // Tokens (cumulative).
  tokensIn: number;
  tokensOut: number;
  tokensThoughts: number;
  tokensCached: number;
  batchTokensIn: number;
  batchTokensOut: number;
  // Gauges.
  inFlight: number;
  /** The request rate in force, per minute (a known limit or the one being found). */
  rpm?: number;
  /** The token rate in force, per minute. */
  tpm?: number;
  /** The request quota the server named (a 429's quotaValue), per minute. */
  quotaRpm?: number;
  quotaTpm?: number;
  /** A RetryInfo pause is in force until then (ms since epoch); 0: none. */
  pausedUntil: number;
  batchJobs?: Readonly<Record<string, number>>;
  /** Cumulative latency histogram (live view). Undefined without a RunMeter. */
  latency?: { readonly counts: Float64Array; readonly count: number; readonly sumMs: number };
}

type LimiterView = Pick<Limiter, 'state' | 'learned'>;

export interface SamplerSource {
  stats: RunStats;
  meter?: RunMeter;
  /**
   * The run's limiter, or a getter of it (a runner makes its limiter after the series has
   * started); absent: a coordinator, a dry run, batch mode.
   */
  limiter?: LimiterView | (() => LimiterView | undefined);
  /** @default Date.now */
  now?: () => number;
}

const EMPTY: Readonly<Record<string, number>> = Object.freeze({});

export function createSampler(src: SamplerSource): () => Snapshot {
  const { stats: s, meter: m } = src;
  const now = src.now ?? Date.now;
  const limiterOf = typeof src.limiter === 'function' ? src.limiter : () => src.limiter as LimiterView | undefined;
  return () => {
    const limiter = limiterOf();
    const st = limiter?.state();
    const learned = limiter?.learned();
    return {
      at: now(),
      succeeded: s.succeeded, failed: s.failed, skipped: s.skipped, deduped: s.deduped, cached: s.cached, truncated: s.truncated,
      failedByStatus: s.failedByStatus,
      attempts: s.attempts, retries: s.retries, http429: s.http429, retriesByCause: s.retriesByCause,
      answers: m ? m.answers() : EMPTY,
      tokensIn: s.tokensIn, tokensOut: s.tokensOut,
      tokensThoughts: m?.thoughtsTokens ?? 0, tokensCached: m?.cachedTokens ?? 0,
      batchTokensIn: m?.batchTokensIn ?? 0, batchTokensOut: m?.batchTokensOut ?? 0,
      inFlight: s.inFlight,
      rpm: st?.rpm, tpm: st?.tpm,
      quotaRpm: learned?.rpm?.source === 'server' ? learned.rpm.value : undefined,
      quotaTpm: learned?.tpm?.source === 'server' ? learned.tpm.value : undefined,
      pausedUntil: st?.pausedUntil ?? 0,
      batchJobs: m?.batchJobs,
      latency: m?.latency,
    };
  };
}
