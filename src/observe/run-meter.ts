// createRunMeter(): what RunStats does not count yet and the time series and --metrics need —
// answers by HTTP code, the latency histogram, thoughts and context-cached tokens, the tokens
// billed at the Batch API's price, and the batch jobs' states. Plain fields and O(1) hooks,
// like RunStats: the Gemini call (told by the generate work, stages/generate.ts), batch mode and the coordinator's
// answers call them on the hot path; the recorder and the metrics endpoint read them on their own
// clock. Nothing here allocates per call.

import { isFailure } from '../records.js';
import type { Work } from '../reuse/reuse.js';
import { createLatencyHistogram, type LatencyHistogram } from './latency-histogram.js';

export interface RunMeter {
  /** Attempts by HTTP status (index = the code, 100–599; index 0: no answer — a timeout, a dropped connection). */
  readonly codes: Float64Array;
  /** `codes` as a record of the non-zero ones: {"200": n, "503": m, "none": k} (per tick, not per attempt). */
  answers(): Record<string, number>;
  /** Latency of every answered attempt (any HTTP code), ms. */
  readonly latency: LatencyHistogram;
  /** Of the output tokens, a thinking model's thoughts. */
  thoughtsTokens: number;
  /** Of the input tokens, those read from a context cache (cachedContentTokenCount). */
  cachedTokens: number;
  /** Of the input/output tokens, those billed at the Batch API's price. */
  batchTokensIn: number;
  batchTokensOut: number;
  /** Batch Mode: jobs by journal state now (packed, uploaded, created, written, ended). */
  batchJobs: Record<string, number> | undefined;
  /**
   * One attempt ended. `code` is its HTTP status (0: no answer — a timeout or a dropped
   * connection, counted as "none" and kept out of the latency histogram). O(1), no allocation.
   */
  attempt(code: number, ms: number): void;
  /**
   * A paid answer's usage, beyond RunStats' tokensIn/tokensOut (which the caller still adds):
   * thoughts and cached tokens; `batch` for an answer from a batch job.
   */
  usage(u: { promptTokens?: number; responseTokens?: number; thoughtsTokens?: number; cachedTokens?: number }, batch?: boolean): void;
  /** Batch Mode: the jobs' states now (replaces the last call's counts). */
  setBatchJobs(counts: Readonly<Record<string, number>>): void;
}

export function createRunMeter(): RunMeter {
  // A typed array indexed by the code: an add, where a string-keyed record cost ~30 ns an attempt.
  const codes = new Float64Array(600);
  const m: RunMeter = {
    codes,
    answers() {
      const out: Record<string, number> = {};
      for (let c = 100; c < codes.length; c++) if (codes[c] !== 0) out[String(c)] = codes[c];
      if (codes[0] !== 0) out.none = codes[0];
      return out;
    },
    latency: createLatencyHistogram(),
    thoughtsTokens: 0,
    cachedTokens: 0,
    batchTokensIn: 0,
    batchTokensOut: 0,
    batchJobs: undefined,
    attempt(code, ms) {
      if (code >= 100 && code < 600) {
        codes[code]++;
        m.latency.observe(ms);
      } else codes[0]++;
    },
    usage(u, batch = false) {
      if (u.thoughtsTokens) m.thoughtsTokens += u.thoughtsTokens;
      if (u.cachedTokens) m.cachedTokens += u.cachedTokens;
      if (batch) {
        m.batchTokensIn += u.promptTokens ?? 0;
        m.batchTokensOut += u.responseTokens ?? 0;
      }
    },
    setBatchJobs(counts) {
      m.batchJobs = { ...counts };
    },
  };
  return m;
}

/**
 * A coordinator's work with each worker's answer told to `meter`: a success as one 200 of the
 * record's latency, and its usage. The workers' retries and failed attempts are not seen here
 * (each worker's own --metrics counts them); `stats.attempts` still sums the records' attempts.
 */
export function meterAnswers(work: Work, meter: RunMeter): Work {
  return async (rec, signal) => {
    const r = await work(rec, signal);
    if (r && !isFailure(r)) {
      meter.attempt(200, r.latencyMs);
      meter.usage(r.usage);
    }
    return r;
  };
}
