// What to do after a failed attempt, as pure functions: classifyError() reads an error thrown
// by the SDK (or fetch) into a fixed shape, decideRetry() turns that shape plus the attempt
// number into "retry after X ms (and pause everyone for Y)" or "stop". Defaults in one block.

export const RETRY_DEFAULTS = {
  maxAttempts: 6,
  /** First backoff ceiling; doubles per attempt (full jitter: a uniform draw below it). */
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  /** A RetryInfo delay longer than this is treated as "not within this run". */
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
  /** For fatal errors: a stable code (INVALID_API_KEY, MODEL_NOT_FOUND, DAILY_QUOTA). */
  fatalCode?: string;
  /** A quota violation's id, e.g. GenerateRequestsPerMinutePerProjectPerModel. */
  quotaId?: string;
  /**
   * What went wrong, in a word, for counting retries: the HTTP status ("503", "429"), or
   * "timeout", "malformed body", "connection" when there was no usable answer. Absent: `status`.
   */
  cause?: string;
}

export type RetryDecision = { retry: false } | { retry: true; delayMs: number; pauseAllMs?: number };

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
    let quotaId: string | undefined;
    for (const d of body?.details ?? []) {
      const type = String(d['@type'] ?? '');
      if (type.endsWith('google.rpc.RetryInfo')) retryDelayMs = parseDurationMs(d.retryDelay);
      if (type.endsWith('google.rpc.ErrorInfo') && typeof d.reason === 'string') reason = d.reason;
      if (type.endsWith('google.rpc.QuotaFailure') && Array.isArray(d.violations)) {
        for (const v of d.violations as Array<Record<string, unknown>>) {
          if (typeof v.quotaId === 'string') quotaId ??= v.quotaId;
          if (typeof v.quotaId === 'string' && /PerDay/i.test(v.quotaId)) quotaId = v.quotaId;
        }
      }
    }
    const base = { status, code, message, retryDelayMs, quotaId, cause: String(code) };
    if (reason === 'API_KEY_INVALID' || /API key not valid/i.test(message) || code === 401 || code === 403) {
      return { ...base, kind: 'fatal', fatalCode: 'INVALID_API_KEY' };
    }
    if (code === 404) return { ...base, kind: 'fatal', fatalCode: 'MODEL_NOT_FOUND' };
    if (code === 429) {
      const perDay = (quotaId !== undefined && /PerDay/i.test(quotaId)) || /per[ -]?day|daily/i.test(message);
      if (perDay) return { ...base, kind: 'fatal', fatalCode: 'DAILY_QUOTA' };
      return { ...base, kind: 'retryable' };
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
  if (c.retryDelayMs !== undefined && c.retryDelayMs >= 0) {
    const delay = Math.min(c.retryDelayMs, RETRY_DEFAULTS.maxHonouredRetryDelayMs);
    // The server's hint is a floor for everyone; a little jitter keeps callers from waking together.
    return { retry: true, delayMs: delay + Math.floor(random() * Math.min(1000, delay * 0.1 + 50)), pauseAllMs: delay };
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.floor(random() * ceiling) };
}
