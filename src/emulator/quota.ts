// How the emulator enforces a quota, in the shapes real Gemini-compatible servers use (SPEC §7):
// a token bucket (`burstMs` of capacity), fixed windows aligned to the clock, or a sliding
// window. Each answers take(n, now) with 0 (admitted) or the ms until the capacity frees (what
// the 429's RetryInfo says). `timeScale` shrinks windows so a minute window runs in seconds in
// tests; the rate stays the real rate. quota429() builds the error body the real service sends.

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
}

/** An enforcer of `perMinute` units a minute in the given shape. */
export function createQuota(perMinute: number, shape: QuotaShape = {}): QuotaEnforcer {
  const perMs = perMinute / 60_000;
  const mode = shape.mode ?? 'bucket';
  if (mode === 'bucket') return new Bucket(Math.max(1, perMs * (shape.burstMs ?? 1000)), perMs);
  const windowMs = Math.max(1, (shape.windowMs ?? 60_000) / (shape.timeScale ?? 1));
  const limit = Math.max(1, Math.round(perMs * windowMs));
  return mode === 'fixed-window' ? new FixedWindow(limit, windowMs) : new SlidingWindow(limit, windowMs);
}

class Bucket implements QuotaEnforcer {
  #level: number;
  #last = -1;
  constructor(readonly capacity: number, readonly perMs: number) {
    this.#level = capacity;
  }
  take(n: number, now: number): number {
    if (this.#last >= 0) this.#level = Math.min(this.capacity, this.#level + (now - this.#last) * this.perMs);
    this.#last = now;
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
  constructor(readonly limit: number, readonly windowMs: number) {}
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
  constructor(readonly limit: number, readonly windowMs: number) {}
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

export interface GoogleError {
  code: number;
  status: string;
  message: string;
  details?: unknown[];
}

export type QuotaKind = 'minute' | 'tokens' | 'day';

const QUOTA_IDS: Record<QuotaKind, { id: string; metric: string; what: string }> = {
  minute: { id: 'GenerateRequestsPerMinutePerProjectPerModel', metric: 'generate_content_requests', what: 'requests per minute' },
  tokens: { id: 'GenerateContentInputTokensPerModelPerMinute', metric: 'generate_content_input_token_count', what: 'input tokens per minute' },
  day: { id: 'GenerateRequestsPerDayPerProjectPerModel', metric: 'generate_content_requests', what: 'requests per day' },
};

/**
 * A quota 429 as the real service sends it: the message with "limit: N, model: M" and
 * "Please retry in Xs.", QuotaFailure (quotaId, and quotaValue when `value` is given), Help and
 * RetryInfo (not for per-day quotas).
 */
export function quota429(kind: QuotaKind, retryMs: number, model: string, value?: number): GoogleError {
  const q = QUOTA_IDS[kind];
  const secs = (retryMs / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
  const limit = value !== undefined ? `, limit: ${value}` : '';
  return {
    code: 429, status: 'RESOURCE_EXHAUSTED',
    message: `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/${q.metric}${limit}, model: ${model}\n${kind === 'day' ? '' : `Please retry in ${secs}s.`}`,
    details: [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: `generativelanguage.googleapis.com/${q.metric}`, quotaId: q.id, quotaDimensions: { location: 'global', model }, ...(value !== undefined ? { quotaValue: String(value) } : {}) }] },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
      ...(kind === 'day' ? [] : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${secs}s` }]),
    ],
  };
}

/** The 429 of shared capacity on paid tiers: no details at all. */
export const BARE_429: GoogleError = { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' };
