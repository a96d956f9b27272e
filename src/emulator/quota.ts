// How the emulator enforces a quota, in the shapes real Gemini-compatible servers use (SPEC §7):
// a token bucket (`burstMs` of capacity, 50 ms of the rate and up), fixed windows aligned to the
// clock, or a sliding window. Each answers take(n, now) with 0 (admitted) or the ms until the
// capacity frees, and setLimit() changes the rate mid-run (a limit schedule: halve it, restore it).
// `timeScale` shrinks windows and schedules so a minute runs in seconds in tests; the rate stays
// the real rate. quota429() builds the error body the real service sends, its RetryInfo in the
// chosen style: by default whole seconds rounded up ("1s", "26s") with the exact wait, fractions
// and all, in the message ("Please retry in 25.3s.").

import type { GoogleError } from './google-errors.js';

export type { GoogleError } from './google-errors.js';

export type QuotaMode = 'bucket' | 'fixed-window' | 'sliding-window';

export interface QuotaShape {
  /** @default "bucket" */
  mode?: QuotaMode;
  /** Bucket: capacity as ms of the rate. @default 1000 */
  burstMs?: number;
  /** Windows: length in (unscaled) ms. @default 60000 */
  windowMs?: number;
  /** Divides windowMs: 60 with windowMs 60000 gives 1 s windows. @default 1 */
  timeScale?: number;
}

export interface QuotaEnforcer {
  /** Admits n units (requests or tokens): 0, or the ms until they could be admitted. */
  take(n: number, now: number): number;
  /** A new limit from `now` on (units a minute); what was admitted so far still counts. */
  setLimit(perMinute: number, now: number): void;
}

/** A limit that changes over time: from `atMs` (since the emulator started, before the time scale) on, `perMinute`. */
export interface LimitStep {
  atMs: number;
  perMinute: number;
}

/** The limit in force `elapsedMs` after the start (scaled), or undefined before the first step. */
export function limitAt(schedule: readonly LimitStep[], elapsedMs: number, timeScale = 1): number | undefined {
  let value: number | undefined;
  for (const s of schedule) if (s.atMs / timeScale <= elapsedMs) value = s.perMinute;
  return value;
}

/** An enforcer of `perMinute` units a minute in the given shape. */
export function createQuota(perMinute: number, shape: QuotaShape = {}): QuotaEnforcer {
  const perMs = perMinute / 60_000;
  const mode = shape.mode ?? 'bucket';
  if (mode === 'bucket') return new Bucket(Math.max(1, perMs * (shape.burstMs ?? 1000)), perMs, shape.burstMs ?? 1000);
  const windowMs = Math.max(1, (shape.windowMs ?? 60_000) / (shape.timeScale ?? 1));
  const limit = Math.max(1, Math.round(perMs * windowMs));
  return mode === 'fixed-window' ? new FixedWindow(limit, windowMs) : new SlidingWindow(limit, windowMs);
}

/** Units a window of `windowMs` admits at `perMinute` (at least one). */
function windowLimit(perMinute: number, windowMs: number): number {
  return Math.max(1, Math.round((perMinute / 60_000) * windowMs));
}

class Bucket implements QuotaEnforcer {
  #level: number;
  #last = -1;
  capacity: number;
  constructor(capacity: number, public perMs: number, readonly burstMs: number) {
    this.capacity = capacity;
    this.#level = capacity;
  }
  #refill(now: number): void {
    if (this.#last >= 0) this.#level = Math.min(this.capacity, this.#level + Math.max(0, now - this.#last) * this.perMs);
    this.#last = now;
  }
  setLimit(perMinute: number, now: number): void {
    this.#refill(now);
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, this.perMs * this.burstMs);
    this.#level = Math.min(this.#level, this.capacity);
  }
  take(n: number, now: number): number {
    this.#refill(now);
    if (this.#level >= n) {
      this.#level -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((Math.min(n, this.capacity) - this.#level) / this.perMs));
  }
}

class FixedWindow implements QuotaEnforcer {
  #window = -1;
  #used = 0;
  constructor(public limit: number, readonly windowMs: number) {}
  setLimit(perMinute: number): void {
    this.limit = windowLimit(perMinute, this.windowMs);
  }
  take(n: number, now: number): number {
    const w = Math.floor(now / this.windowMs);
    if (w !== this.#window) {
      this.#window = w;
      this.#used = 0;
    }
    if (this.#used + n <= this.limit || (this.#used === 0 && n > this.limit)) {
      this.#used += n;
      return 0;
    }
    return Math.max(1, Math.ceil((w + 1) * this.windowMs - now));
  }
}

class SlidingWindow implements QuotaEnforcer {
  // Admitted units as [time, n] in arrival order; `#sum` is their total inside the window.
  #times: number[] = [];
  #ns: number[] = [];
  #head = 0;
  #sum = 0;
  constructor(public limit: number, readonly windowMs: number) {}
  setLimit(perMinute: number): void {
    this.limit = windowLimit(perMinute, this.windowMs);
  }
  take(n: number, now: number): number {
    while (this.#head < this.#times.length && this.#times[this.#head] <= now - this.windowMs) {
      this.#sum -= this.#ns[this.#head++];
    }
    if (this.#head > 4096) {
      this.#times = this.#times.slice(this.#head);
      this.#ns = this.#ns.slice(this.#head);
      this.#head = 0;
    }
    if (this.#sum + n <= this.limit || (this.#sum === 0 && n > this.limit)) {
      this.#times.push(now);
      this.#ns.push(n);
      this.#sum += n;
      return 0;
    }
    // Capacity frees as the oldest entries leave the window: when enough of them have.
    let free = this.limit - this.#sum;
    for (let i = this.#head; i < this.#times.length; i++) {
      free += this.#ns[i];
      if (free >= Math.min(n, this.limit)) return Math.max(1, Math.ceil(this.#times[i] + this.windowMs - now));
    }
    return Math.ceil(this.windowMs);
  }
}

export type QuotaKind = 'minute' | 'tokens' | 'day';

const QUOTA_IDS: Record<QuotaKind, { id: string; metric: string; what: string }> = {
  minute: { id: 'GenerateRequestsPerMinutePerProjectPerModel', metric: 'generate_content_requests', what: 'requests per minute' },
  tokens: { id: 'GenerateContentInputTokensPerModelPerMinute', metric: 'generate_content_input_token_count', what: 'input tokens per minute' },
  day: { id: 'GenerateRequestsPerDayPerProjectPerModel', metric: 'generate_content_requests', what: 'requests per day' },
};

/**
 * How a quota 429 writes its RetryInfo.retryDelay. `whole`: whole seconds rounded up, as Google
 * sends it ("1s" for a 20 ms wait, "26s" for 25.3 s); `floor`: whole seconds rounded down (the
 * pairs in captured bodies, "Please retry in 24.046947039s." with "24s", read that way; "0s" for a
 * wait under a second); `exact`: the wait in seconds with milliseconds ("0.02s", the emulator's
 * old style); `{fixed: N}`: always N seconds, whatever the wait (an overstated delay); `none`: no
 * RetryInfo at all (nor "Please retry in" in the message).
 */
export type RetryInfoStyle = 'whole' | 'floor' | 'exact' | 'none' | { fixed: number };

const secondsText = (ms: number) => (ms / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';

/** retryDelay for a wait of `retryMs` in a style (undefined: no RetryInfo). */
export function retryDelayOf(retryMs: number, style: RetryInfoStyle): string | undefined {
  if (style === 'none') return undefined;
  if (typeof style === 'object') return `${style.fixed}s`;
  if (style === 'exact') return `${secondsText(retryMs)}s`;
  if (style === 'floor') return `${Math.floor(retryMs / 1000)}s`;
  return `${Math.max(1, Math.ceil(retryMs / 1000))}s`;
}

/**
 * A quota 429 as the real service sends it: the message with "limit: N, model: M" and
 * "Please retry in Xs." (the exact wait), QuotaFailure (quotaId, and quotaValue when `value` is
 * given), Help and RetryInfo in `style` (not for per-day quotas).
 */
export function quota429(kind: QuotaKind, retryMs: number, model: string, value?: number, style: RetryInfoStyle = 'whole'): GoogleError {
  const q = QUOTA_IDS[kind];
  const delay = kind === 'day' ? undefined : retryDelayOf(retryMs, style);
  const said = typeof style === 'object' ? String(style.fixed) : secondsText(retryMs);
  const limit = value !== undefined ? `, limit: ${value}` : '';
  return {
    code: 429, status: 'RESOURCE_EXHAUSTED',
    message: `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/${q.metric}${limit}, model: ${model}\n${delay === undefined ? '' : `Please retry in ${said}s.`}`,
    details: [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: `generativelanguage.googleapis.com/${q.metric}`, quotaId: q.id, quotaDimensions: { location: 'global', model }, ...(value !== undefined ? { quotaValue: String(value) } : {}) }] },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
      ...(delay === undefined ? [] : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay }]),
    ],
  };
}

/** The 429 of shared capacity on paid tiers: no details at all. */
export const BARE_429: GoogleError = { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' };

/** The 429 the Batch API answers a create with when its own limits are reached: the quota text, a Help link, nothing more. */
export const BATCH_CREATE_429: GoogleError = {
  code: 429, status: 'RESOURCE_EXHAUSTED',
  message: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. ',
  details: [{ '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] }],
};
