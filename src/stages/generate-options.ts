// What the generate stage and its work are given: the call, the limiter, slots and order, the
// retry policy, structured output's checks, the stop signals, --rpd's cap, a whole-run fault's
// handler, parking for long 429 holds, and what answers for free (--dedupe, --cache).

import type { FatalRunError } from '../errors.js';
import type { GenerateFn } from '../gemini/client.js';
import type { RetryPolicy } from '../gemini/retry-policy.js';
import type { DailyCap, SharedDailyCap } from '../quota/daily-cap.js';
import type { Limiter } from '../quota/limiter.js';
import type { TokenEstimator } from '../quota/token-estimate.js';
import type { Dedupe } from '../reuse/dedupe.js';
import type { ResponseCache } from '../reuse/response-cache.js';
import type { RunStats } from '../stats.js';
import type { Parking } from './parallel.js';
import type { RunMeter } from '../observe/run-meter.js';

export interface GenerateStageOptions {
  generate: GenerateFn;
  limiter: Limiter;
  /** Whether the endpoint answers at all: asked when a lone timeout comes before any answer of the run. */
  reachable?: () => Promise<boolean>;
  /** Most prompts in flight (waiting on the limiter, the API or a backoff). */
  concurrency: number;
  /** Written into every success record. */
  model: string;
  retry: RetryPolicy;
  /** Emit in input order (a finished record waits for the ones before it, holding its slot). */
  ordered?: boolean;
  /** Structured output: the response must parse as JSON; it is kept as `json`. */
  expectJson?: boolean;
  /** Structured output: the parsed answer must fit the schema (schema.ts); undefined: it does. */
  checkJson?: (value: unknown) => string | undefined;
  /** Answers that are not JSON or break the schema are asked again this many times, then fail (INVALID_RESPONSE). @default 2 */
  schemaRetries?: number;
  /** Hard stop: in-flight requests are abandoned and not emitted (resume redoes them). */
  signal?: AbortSignal;
  stats?: RunStats;
  /** Input-token estimates for the limiter's token budget, calibrated by reported usage. */
  tokenEstimator?: TokenEstimator;
  /** --rpd: every attempt takes one; when it is spent the record is left undone (resume redoes it). */
  dailyCap?: DailyCap | SharedDailyCap;
  /** Called once when the daily cap is spent; the stage then halts (see onFatal). */
  onDailyCapReached?: () => void;
  /**
   * A whole-run fault. Given: the stage halts — no new attempt starts, requests already sent
   * finish and their records are emitted (an answer that was paid for is never thrown away),
   * undone records are dropped for a rerun — and the caller ends the input. Absent: the stage
   * is destroyed with the error.
   */
  onFatal?: (err: FatalRunError) => void;
  /**
   * Aborted: no new attempt is sent (a record waiting for the limiter or a backoff is dropped
   * for a rerun); requests already sent finish and are emitted. A writer that cannot write.
   */
  stopSending?: AbortSignal;
  /** --dedupe: identical requests sent once (dedupe/dedupe.ts). */
  dedupe?: Dedupe;
  /** --cache: answers kept across runs (cache/response-cache.ts). */
  cache?: ResponseCache;
  /**
   * The quota lets nothing through for this long (ms) while refusing: the run ends (exit 1,
   * resumable) naming the quota, instead of waiting on. @default 600000
   */
  maxQuotaWaitMs?: number;
  /** Frees a record's concurrency slot while it waits out a long RetryInfo (the parallel stage). */
  parking?: Parking;
  /** The run's meter (the series, --metrics): each attempt's HTTP code (0: no answer) and latency, an answer's usage; a call cut short by a hard stop is not told. */
  meter?: RunMeter;
}
