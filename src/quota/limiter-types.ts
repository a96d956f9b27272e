// The limiter's interface: what an attempt is granted, how it ended, the state progress lines
// show, the limits kept for the next run (limiter.ts builds it over the QuotaController).

import type { Hold, QuotaControllerOptions, RateSource } from './controller-types.js';
import type { RedisLink } from './bottleneck-redis.js';

export interface LearnedLimit {
  /** Per minute. */
  value: number;
  /** server: a 429's quotaValue; adaptive: the rate found without one. */
  source: 'server' | 'adaptive';
}

export interface LimiterOptions {
  /** Requests per minute (--rpm): a known limit. */
  rpm?: number;
  /** Input tokens per minute (--tpm). */
  tpm?: number;
  /** No --rpm: find the rate. False: only --concurrency bounds it (--rpm off). @default false */
  adaptive?: boolean | QuotaControllerOptions;
  /** What a previous run into the same output learned (used where no flag says otherwise). */
  learned?: { rpm?: LearnedLimit; tpm?: LearnedLimit };
  /** Told once per limit the server names (quotaValue). */
  onLearn?: (what: 'rpm' | 'tpm', perMinute: number) => void;
  /** Told once per thing worth saying about how the quota behaves, in words. */
  onNote?: (line: string) => void;
  /** One quota for many processes (--redis): a Bottleneck cluster and the quota bus. */
  shared?: { link: RedisLink; quotaId: string; onTrouble?: (err: Error) => void };
}

export interface Grant {
  /** When the attempt was let through (ms since epoch). */
  sentAt: number;
  /** Input tokens reserved for it. */
  tokens: number;
  /** It holds a place in the probe window. */
  slot?: boolean;
}

/** What a 429 says (from classifyError). */
export interface QuotaNewsOf429 {
  retryDelayMs?: number;
  /** requests or tokens per minute; undefined: a 429 without details. */
  quota?: 'requests' | 'tokens';
  /** The limit the server named (quotaValue), per minute. */
  perMinute?: number;
}

export type AttemptOutcome =
  | { kind: 'ok'; promptTokens?: number }
  | ({ kind: 'quota' } & QuotaNewsOf429)
  | { kind: 'failed' };

export interface LimiterState {
  /** Everyone waits (a window ran out) until about this time (ms since epoch), else 0. */
  pausedUntil: number;
  /** Callers waiting for the request rate / token budget / a probe-window slot right now. */
  waitingForRequests: number;
  waitingForTokens: number;
  waitingForWindow: number;
  /** The request rate in force (per minute), if any. */
  rpm?: number;
  tpm?: number;
  /** probe: no rate yet (a growing window); adaptive: found; limit: a known limit. */
  rateSource?: RateSource;
  window?: number;
  /** The rate is being found (probe or adaptive), not a known limit. */
  adaptive: boolean;
}

export interface Limiter {
  acquire(tokens: number, signal?: AbortSignal): Promise<Grant>;
  /** How the attempt ended; for a 429, how its request is to wait before it goes again. */
  release(grant: Grant, outcome: AttemptOutcome): Hold | undefined;
  state(): LimiterState;
  /** Limits worth keeping for the next run into the same output. */
  learned(): { rpm?: LearnedLimit; tpm?: LearnedLimit };
  /** Since when the quota has let nothing through while refusing (ms since epoch), else undefined. */
  starvedSince(): number | undefined;
  stop(): Promise<void>;
}
