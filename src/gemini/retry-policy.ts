// What to do after a failed attempt, as pure functions: classifyError() reads an error thrown
// by the SDK (or fetch) into a fixed shape — including what a 429 says about the quota and
// which whole-run faults a body names (by its words, not only its status) — and decideRetry()
// turns that shape plus the attempt number into "retry after X ms" or "stop". A quota 429's
// pause of everyone is the limiter's business (quota/limiter.ts). Defaults in one block.

export const RETRY_DEFAULTS = {
  maxAttempts: 6,
  /** First backoff ceiling; doubles per attempt (full jitter: a uniform draw below it). */
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  /** A RetryInfo delay is honoured up to this long (a longer one is clamped to it). */
  maxHonouredRetryDelayMs: 15 * 60_000,
} as const;

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * - retryable: 408, 429, 5xx, timeouts, connection errors, malformed bodies.
 * - permanent: any other 4xx — this record fails, the run goes on.
 * - fatal: the whole run is pointless (bad key, unknown model, per-day quota).
 */
export type ErrorKind = 'retryable' | 'permanent' | 'fatal';

export interface ClassifiedError {
  kind: ErrorKind;
  /** gRPC-style status: UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ... */
  status: string;
  /** HTTP status, or 0 when there was no response. */
  code: number;
  message: string;
  /** From google.rpc.RetryInfo, when the server said how long to wait. */
  retryDelayMs?: number;
  /** For fatal errors: a stable code (FATAL_MESSAGES' keys). */
  fatalCode?: string;
  /** A quota violation's id, e.g. GenerateRequestsPerMinutePerProjectPerModel. */
  quotaId?: string;
  /** A 429's quota: requests or input tokens per minute; undefined when it has no details. */
  quota?: 'requests' | 'tokens';
  /** The limit the 429 names (QuotaFailure quotaValue, or "limit: N" in the message), per its period. */
  quotaValue?: number;
  /**
   * What went wrong, in a word, for counting retries: the HTTP status ("503", "429"), or
   * "timeout", "malformed body", "connection" when there was no usable answer. Absent: `status`.
   */
  cause?: string;
}

export type RetryDecision = { retry: false } | { retry: true; delayMs: number };

/** What a whole-run fault means and how to fix it, by ClassifiedError.fatalCode. */
export const FATAL_MESSAGES: Record<string, string> = {
  INVALID_API_KEY: 'the API key was rejected; check GEMINI_API_KEY (or GOOGLE_API_KEY)',
  LEAKED_API_KEY: 'the API key was reported as leaked and is blocked; create a new key and set GEMINI_API_KEY',
  LOCATION_NOT_SUPPORTED: 'the Gemini API is not available where this request comes from (user location not supported); run from a supported region, or use Vertex AI',
  API_NOT_ENABLED: 'the Generative Language API is not enabled, or billing is not set up, for the key\'s project; enable it (and billing) in the Cloud console, then rerun',
  PERMISSION_DENIED: 'the API refuses this key (permission denied); check the key and its project',
  FAILED_PRECONDITION: 'the API refuses every request for this project (failed precondition)',
  MODEL_NOT_FOUND: 'the model was not found; check --model',
  NO_QUOTA: 'the project has no quota at all for this model (limit 0): enable billing for the project, or pick another --model; waiting will not help',
  DAILY_QUOTA: 'the daily request quota is exhausted (it resets at midnight Pacific time); rerun then to resume',
};

/** The one message a whole-run fault ends the run with. */
export function fatalMessage(c: ClassifiedError, model?: string): string {
  let what = FATAL_MESSAGES[c.fatalCode ?? ''] ?? 'the API refuses every request';
  if (c.fatalCode === 'DAILY_QUOTA' && c.quotaValue !== undefined) {
    what = `the daily quota of ${c.quotaValue.toLocaleString('en-US')} requests${model ? ` for ${model}` : ''} is exhausted (it resets at midnight Pacific time); rerun then to resume`;
  }
  return `${what} (HTTP ${c.code} ${c.status}: ${c.message})`;
}

const STATUS_BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  408: 'DEADLINE_EXCEEDED', 409: 'ABORTED', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED',
  500: 'INTERNAL', 501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Parses a google.protobuf.Duration JSON string ("13s", "0.250s") into ms. */
export function parseDurationMs(d: unknown): number | undefined {
  if (typeof d !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(d.trim());
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; details?: Array<Record<string, unknown>> };
}

function parseBody(message: string): GoogleErrorBody['error'] | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(message.slice(start)) as GoogleErrorBody;
    return body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

function errnoCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Reads any error from one attempt. `timedOut` says our per-attempt timer fired (an
 * AbortError then means DEADLINE_EXCEEDED, not a user abort — the caller checks that first).
 */
export function classifyError(err: unknown, timedOut = false): ClassifiedError {
  const e = err as { name?: string; status?: unknown; message?: unknown };
  const rawMessage = typeof e?.message === 'string' ? e.message : String(err);

  if (typeof e?.status === 'number' && e.status >= 400) {
    const code = e.status;
    const body = parseBody(rawMessage);
    const status = (typeof body?.status === 'string' && body.status) || STATUS_BY_HTTP[code] || (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
    const message = typeof body?.message === 'string' ? body.message : rawMessage.slice(0, 500);
    let retryDelayMs: number | undefined;
    let reason: string | undefined;
    let violation: { quotaId?: string; quotaValue?: number } | undefined;
    for (const d of body?.details ?? []) {
      const type = String(d['@type'] ?? '');
      if (type.endsWith('google.rpc.RetryInfo')) retryDelayMs = parseDurationMs(d.retryDelay);
      if (type.endsWith('google.rpc.ErrorInfo') && typeof d.reason === 'string') reason = d.reason;
      if (type.endsWith('google.rpc.QuotaFailure') && Array.isArray(d.violations)) {
        for (const v of d.violations as Array<Record<string, unknown>>) {
          const quotaId = typeof v.quotaId === 'string' ? v.quotaId : undefined;
          const value = v.quotaValue !== undefined && /^\d+$/.test(String(v.quotaValue)) ? Number(v.quotaValue) : undefined;
          // A per-day violation outranks a per-minute one: it decides whether to go on at all.
          if (!violation || (quotaId && /PerDay/i.test(quotaId))) violation = { quotaId, quotaValue: value };
        }
      }
    }
    // "Quota exceeded for metric: ..., limit: 20, model: ..." names the limit in words too.
    const limitInText = /\blimit:\s*(\d+)\b/.exec(message);
    const quotaValue = violation?.quotaValue ?? (limitInText ? Number(limitInText[1]) : undefined);
    const quotaId = violation?.quotaId;
    const base = { status, code, message, retryDelayMs, quotaId, cause: String(code) };
    const fatal = (fatalCode: string): ClassifiedError => ({ ...base, kind: 'fatal', fatalCode });
    if (/reported as leaked/i.test(message)) return fatal('LEAKED_API_KEY');
    if (reason === 'API_KEY_INVALID' || /API key (not valid|expired)/i.test(message) || code === 401) return fatal('INVALID_API_KEY');
    if (/location is not supported/i.test(message)) return fatal('LOCATION_NOT_SUPPORTED');
    if (reason === 'SERVICE_DISABLED' || /has not been used in project|is disabled|billing/i.test(message) && code !== 429) return fatal('API_NOT_ENABLED');
    // A file or cache a request names that the service no longer has (expired, deleted), or a
    // file still PROCESSING: that request's, not the key's — retried once the caller has made it
    // again (media/uploads.ts, context/context-cache.ts), never a whole-run fault.
    if (code === 403 && /access the File \S+ or it may not exist/i.test(message)) return { ...base, kind: 'retryable', cause: 'file gone' };
    if (code === 403 && /CachedContent not found/i.test(message)) return { ...base, kind: 'retryable', cause: 'cache gone' };
    if (code === 400 && /is not in an ACTIVE state/i.test(message)) return { ...base, kind: 'retryable', cause: 'file processing' };
    if (code === 403) return fatal('PERMISSION_DENIED');
    if (code === 404) return fatal('MODEL_NOT_FOUND');
    if (code === 400 && status === 'FAILED_PRECONDITION') return fatal('FAILED_PRECONDITION');
    if (code === 429) {
      if (quotaValue === 0) return { ...base, quotaValue, kind: 'fatal', fatalCode: 'NO_QUOTA' };
      const perDay = (quotaId !== undefined && /PerDay/i.test(quotaId)) || /per[ -]?day|daily/i.test(message);
      if (perDay) return { ...base, quotaValue, kind: 'fatal', fatalCode: 'DAILY_QUOTA' };
      const quota = !violation && limitInText === null ? undefined : /Token/i.test(quotaId ?? '') || /token/i.test(message.slice(0, 400)) ? 'tokens' as const : 'requests' as const;
      return { ...base, quota, quotaValue: quota ? quotaValue : undefined, kind: 'retryable' };
    }
    if (code === 408 || code >= 500) return { ...base, kind: 'retryable' };
    return { ...base, kind: 'permanent' };
  }

  if (timedOut || e?.name === 'TimeoutError') {
    return { kind: 'retryable', status: 'DEADLINE_EXCEEDED', code: 0, message: 'the attempt timed out (--timeout)', cause: 'timeout' };
  }
  if (e?.name === 'SyntaxError') {
    return { kind: 'retryable', status: 'UNAVAILABLE', code: 0, message: `malformed response body: ${rawMessage.slice(0, 200)}`, cause: 'malformed body' };
  }
  const errno = errnoCode(err);
  if (errno || e?.name === 'TypeError' || /fetch failed|socket|ECONN|EPIPE|terminated|other side closed/i.test(rawMessage)) {
    return { kind: 'retryable', status: 'UNAVAILABLE', code: 0, message: `connection error: ${errno ?? rawMessage.slice(0, 200)}`, cause: 'connection' };
  }
  return { kind: 'permanent', status: 'INTERNAL', code: 0, message: rawMessage.slice(0, 500) };
}

/** attempt: the number of the attempt that just failed (1 = the first try). */
export function decideRetry(
  c: ClassifiedError,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (c.kind !== 'retryable' || attempt >= policy.maxAttempts) return { retry: false };
  if (c.code === 429 && c.quota !== undefined) {
    // A quota 429: the limiter pauses everyone for its RetryInfo and lets this attempt through
    // again at its pace; sleeping here as well would only add the delay twice.
    return { retry: true, delayMs: 0 };
  }
  if (c.retryDelayMs !== undefined && c.retryDelayMs >= 0) {
    return { retry: true, delayMs: Math.min(c.retryDelayMs, RETRY_DEFAULTS.maxHonouredRetryDelayMs) + Math.floor(random() * 50) };
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.floor(random() * ceiling) };
}

/** google.rpc.Code: the canonical codes a Batch API per-request error (a google.rpc.Status) carries. */
export const CANONICAL_STATUS: Readonly<Record<number, string>> = {
  0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

/** The HTTP code Google's APIs answer for each canonical status (google/rpc/code.proto). */
const HTTP_BY_STATUS: Readonly<Record<string, number>> = {
  OK: 200, CANCELLED: 499, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404, ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403, RESOURCE_EXHAUSTED: 429, FAILED_PRECONDITION: 400, ABORTED: 409, OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501, INTERNAL: 500, UNAVAILABLE: 503, DATA_LOSS: 500, UNAUTHENTICATED: 401,
};

export interface ClassifiedStatus {
  kind: 'retryable' | 'permanent';
  /** The canonical name: UNAVAILABLE, INVALID_ARGUMENT, ... */
  status: string;
  /** The HTTP code: as given, or the one Google answers for the canonical status (0: unknown). */
  code: number;
  message: string;
}

/**
 * A status that came without an exception — a Batch API per-request error (google.rpc.Status: a
 * canonical code 0–16, maybe no name), or an HTTP-shaped one ({code: 503, status}) — classified
 * by the rule classifyError() applies to an HTTP answer: 408, 429 and 5xx are retryable, any
 * other code is permanent. A canonical code is read as the HTTP code Google maps it to, so a
 * request that fails with INTERNAL (13) in a batch is retried like a 500 online.
 */
export function classifyStatus(s: { code?: number | string; status?: string; message?: string }): ClassifiedStatus {
  const n = typeof s.code === 'string' && /^\d+$/.test(s.code) ? Number(s.code) : s.code;
  const named = typeof s.status === 'string' && s.status !== '' ? s.status.toUpperCase() : undefined;
  let status: string;
  let code: number;
  if (typeof n === 'number' && n >= 100) {
    code = n;
    status = named ?? STATUS_BY_HTTP[n] ?? (n >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  } else {
    status = (typeof n === 'number' ? CANONICAL_STATUS[n] : undefined) ?? named ?? 'UNKNOWN';
    code = HTTP_BY_STATUS[status] ?? 0;
  }
  const retryable = code === 408 || code === 429 || code >= 500;
  return { kind: retryable ? 'retryable' : 'permanent', status, code, message: s.message ?? status };
}
