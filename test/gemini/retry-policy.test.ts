import { ApiError } from '@google/genai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyError, classifyStatus, decideRetry, fatalMessage, parseDurationMs, RETRY_DEFAULTS } from '../../src/gemini/retry-policy.js';
import { sleep } from '../../src/util/sleep.js';

const apiError = (status: number, error: object) => new ApiError({ status, message: JSON.stringify({ error }) });
const policy = { ...RETRY_DEFAULTS, maxAttempts: 6 };

describe('classifyError', () => {
  it('reads RetryInfo out of a 429 body the way the SDK delivers it (JSON in message)', () => {
    const c = classifyError(apiError(429, {
      code: 429, status: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '13s' },
      ],
    }));
    expect(c).toMatchObject({ kind: 'retryable', status: 'RESOURCE_EXHAUSTED', code: 429, retryDelayMs: 13_000 });
  });

  it('treats a per-day quota 429 as a whole-run fault', () => {
    const c = classifyError(apiError(429, {
      code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota',
      details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }] }],
    }));
    expect(c).toMatchObject({ kind: 'fatal', fatalCode: 'DAILY_QUOTA' });
  });

  it('treats an invalid key, 401, 403 and 404 as whole-run faults', () => {
    expect(classifyError(apiError(400, { code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] })))
      .toMatchObject({ kind: 'fatal', fatalCode: 'INVALID_API_KEY' });
    expect(classifyError(apiError(401, { code: 401, message: 'x' })).kind).toBe('fatal');
    expect(classifyError(apiError(403, { code: 403, message: 'x' })).kind).toBe('fatal');
    expect(classifyError(apiError(404, { code: 404, status: 'NOT_FOUND', message: 'models/x is not found' }))).toMatchObject({ kind: 'fatal', fatalCode: 'MODEL_NOT_FOUND' });
  });

  it('reads the limit a 429 names: quotaValue for requests or input tokens, "limit: N" in the words', () => {
    const requests = classifyError(apiError(429, {
      code: 429, status: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota ...',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '10' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '26s' },
      ],
    }));
    expect(requests).toMatchObject({ kind: 'retryable', quota: 'requests', quotaValue: 10, retryDelayMs: 26_000 });
    const tokens = classifyError(apiError(429, {
      code: 429, status: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota ...',
      details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateContentInputTokensPerModelPerMinute-FreeTier', quotaValue: '250000' }] }],
    }));
    expect(tokens).toMatchObject({ kind: 'retryable', quota: 'tokens', quotaValue: 250_000 });
    const words = classifyError(apiError(429, { code: 429, status: 'RESOURCE_EXHAUSTED', message: '* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 15, model: gemini-2.5-flash\nPlease retry in 58.821668433s.' }));
    expect(words).toMatchObject({ quota: 'requests', quotaValue: 15 });
    // Shared capacity on paid tiers: no details at all. Not a quota: nothing to learn.
    const bare = classifyError(apiError(429, { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' }));
    expect(bare).toMatchObject({ kind: 'retryable', quota: undefined, quotaValue: undefined });
  });

  it('names the whole-run faults of the real service by what they say', () => {
    const fatal = (code: number, error: object) => classifyError(apiError(code, { code, ...error }));
    expect(fatal(400, { status: 'FAILED_PRECONDITION', message: 'User location is not supported for the API use.' })).toMatchObject({ kind: 'fatal', fatalCode: 'LOCATION_NOT_SUPPORTED' });
    expect(fatal(403, { status: 'PERMISSION_DENIED', message: 'Your API key was reported as leaked. Please use another API key.' })).toMatchObject({ kind: 'fatal', fatalCode: 'LEAKED_API_KEY' });
    expect(fatal(403, { status: 'PERMISSION_DENIED', message: 'Generative Language API has not been used in project 1 before or it is disabled.', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED' }] })).toMatchObject({ kind: 'fatal', fatalCode: 'API_NOT_ENABLED' });
    expect(fatal(400, { status: 'INVALID_ARGUMENT', message: 'API key expired. Please renew the API key.' })).toMatchObject({ kind: 'fatal', fatalCode: 'INVALID_API_KEY' });
    const none = fatal(429, {
      status: 'RESOURCE_EXHAUSTED', message: 'Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro',
      details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '0' }] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' }],
    });
    expect(none).toMatchObject({ kind: 'fatal', fatalCode: 'NO_QUOTA' });
    expect(fatalMessage(none)).toMatch(/no quota at all for this model \(limit 0\): enable billing .* or pick another --model; waiting will not help/);
    const day = fatal(429, { status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '20' }] }] });
    expect(fatalMessage(day, 'gemini-2.5-flash')).toMatch(/^the daily quota of 20 requests for gemini-2.5-flash is exhausted \(it resets at midnight Pacific time\)/);
  });

  it('retries 408, 429 and 5xx, but never another 4xx', () => {
    for (const code of [408, 429, 500, 502, 503, 504]) expect(classifyError(apiError(code, { code, message: 'x' })).kind).toBe('retryable');
    expect(classifyError(apiError(400, { code: 400, status: 'INVALID_ARGUMENT', message: 'bad request' }))).toMatchObject({ kind: 'permanent', status: 'INVALID_ARGUMENT' });
    expect(classifyError(apiError(413, { code: 413, message: 'too big' })).kind).toBe('permanent');
  });

  it('retries timeouts, connection errors and malformed bodies', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(classifyError(abort, true)).toMatchObject({ kind: 'retryable', status: 'DEADLINE_EXCEEDED' });
    const reset = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    expect(classifyError(reset)).toMatchObject({ kind: 'retryable', status: 'UNAVAILABLE' });
    expect(classifyError(new SyntaxError('Unexpected end of JSON input'))).toMatchObject({ kind: 'retryable' });
  });

  it('parses protobuf durations', () => {
    expect(parseDurationMs('13s')).toBe(13_000);
    expect(parseDurationMs('0.250s')).toBe(250);
    expect(parseDurationMs('soon')).toBeUndefined();
  });

  it('names the cause of each failure in a word, for counting retries', () => {
    expect(classifyError(apiError(503, { code: 503, message: 'overloaded' })).cause).toBe('503');
    expect(classifyError(new DOMException('late', 'TimeoutError')).cause).toBe('timeout');
    expect(classifyError(new SyntaxError('Unexpected token <')).cause).toBe('malformed body');
    expect(classifyError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).cause).toBe('connection');
  });
});

describe('decideRetry', () => {
  const c503 = classifyError(apiError(503, { code: 503, message: 'overloaded' }));

  it('backs off exponentially with full jitter, within the ceiling', () => {
    expect(decideRetry(c503, 1, policy, () => 0.999)).toEqual({ retry: true, delayMs: 999 });
    expect(decideRetry(c503, 3, policy, () => 0.5)).toEqual({ retry: true, delayMs: 2000 });
    expect(decideRetry(c503, 5, policy, () => 0)).toEqual({ retry: true, delayMs: 0 });
    expect(decideRetry(c503, 15, { ...policy, maxAttempts: 20 }, () => 0.999)).toEqual({ retry: true, delayMs: 59_940 });
  });

  it('stops after maxAttempts, counting the first try', () => {
    expect(decideRetry(c503, 5, policy, () => 0.5).retry).toBe(true);
    expect(decideRetry(c503, 6, policy, () => 0.5)).toEqual({ retry: false });
  });

  it('a quota 429 is retried at once: the limiter pauses everyone for its RetryInfo, the attempt waits there', () => {
    const c = { ...c503, code: 429, retryDelayMs: 7000, quota: 'requests' as const };
    expect(decideRetry(c, 1, policy, () => 0)).toEqual({ retry: true, delayMs: 0 });
  });

  it('any other error with RetryInfo waits that long itself (no global pause)', () => {
    expect(decideRetry({ ...c503, retryDelayMs: 7000 }, 1, policy, () => 0)).toEqual({ retry: true, delayMs: 7000 });
    expect(decideRetry({ ...c503, retryDelayMs: 60 * 60_000 }, 1, policy, () => 0)).toEqual({ retry: true, delayMs: 15 * 60_000 });
  });

  it('never retries a permanent or fatal error', () => {
    expect(decideRetry({ ...c503, kind: 'permanent' }, 1, policy)).toEqual({ retry: false });
    expect(decideRetry({ ...c503, kind: 'fatal' }, 1, policy)).toEqual({ retry: false });
  });
});

describe('classifyStatus (a status without an exception: Batch API per-request errors)', () => {
  it('reads google.rpc.Status canonical codes as the HTTP code Google maps them to, and classifies them as online', () => {
    expect(classifyStatus({ code: 13, message: 'An internal error has occurred. Please retry' })).toEqual({ kind: 'retryable', status: 'INTERNAL', code: 500, message: 'An internal error has occurred. Please retry' });
    expect(classifyStatus({ code: 14 })).toMatchObject({ kind: 'retryable', status: 'UNAVAILABLE', code: 503 });
    expect(classifyStatus({ code: 8 })).toMatchObject({ kind: 'retryable', status: 'RESOURCE_EXHAUSTED', code: 429 });
    expect(classifyStatus({ code: 4 })).toMatchObject({ kind: 'retryable', status: 'DEADLINE_EXCEEDED', code: 504 });
    expect(classifyStatus({ code: 3 })).toMatchObject({ kind: 'permanent', status: 'INVALID_ARGUMENT', code: 400 });
    expect(classifyStatus({ code: 9 })).toMatchObject({ kind: 'permanent', status: 'FAILED_PRECONDITION', code: 400 });
    expect(classifyStatus({ code: 7 })).toMatchObject({ kind: 'permanent', status: 'PERMISSION_DENIED', code: 403 });
  });

  it('understands HTTP-shaped errors and names alone, as classifyError does for an HTTP answer', () => {
    for (const code of [408, 429, 500, 502, 503, 504]) expect(classifyStatus({ code }).kind, String(code)).toBe('retryable');
    for (const code of [400, 401, 403, 404, 409]) expect(classifyStatus({ code }).kind, String(code)).toBe('permanent');
    expect(classifyStatus({ code: 503, status: 'UNAVAILABLE', message: 'm' })).toEqual({ kind: 'retryable', status: 'UNAVAILABLE', code: 503, message: 'm' });
    expect(classifyStatus({ code: '14' })).toMatchObject({ kind: 'retryable', status: 'UNAVAILABLE' });
    expect(classifyStatus({ status: 'unavailable' })).toMatchObject({ kind: 'retryable', status: 'UNAVAILABLE', code: 503 });
    expect(classifyStatus({ status: 'INVALID_ARGUMENT' })).toMatchObject({ kind: 'permanent', code: 400 });
    // The same verdict as classifyError for the same HTTP answer.
    for (const code of [400, 403, 408, 429, 500, 501, 503]) {
      const online = classifyError(apiError(code, { code, message: 'x' })).kind;
      expect(online === 'retryable' ? 'retryable' : 'permanent', String(code)).toBe(classifyStatus({ code }).kind);
    }
  });
});

describe('sleep (backoff) with fake timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits exactly the decided delay, and an abort cancels it at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const d = decideRetry(classifyError(apiError(503, { code: 503, message: 'x' })), 2, policy, () => 0.5);
    expect(d).toEqual({ retry: true, delayMs: 1000 });
    let done = false;
    const p = sleep(1000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);

    const ctl = new AbortController();
    const q = sleep(60_000, ctl.signal);
    ctl.abort(new Error('stop'));
    await expect(q).rejects.toThrow('stop');
  });
});
