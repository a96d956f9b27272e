import { ApiError } from '@google/genai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyError, decideRetry, parseDurationMs, RETRY_DEFAULTS } from '../../src/gemini/retry-policy.js';
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
    expect(decideRetry(c503, 5, { ...policy, maxAttempts: 20 }, () => 0.999).retry && decideRetry(c503, 15, { ...policy, maxAttempts: 20 }, () => 0.999)).toEqual({ retry: true, delayMs: 59_940 });
  });

  it('stops after maxAttempts, counting the first try', () => {
    expect(decideRetry(c503, 5, policy, () => 0.5).retry).toBe(true);
    expect(decideRetry(c503, 6, policy, () => 0.5)).toEqual({ retry: false });
  });

  it('honours RetryInfo and asks to pause everyone for it', () => {
    const c = { ...c503, code: 429, retryDelayMs: 7000 };
    const d = decideRetry(c, 1, policy, () => 0);
    expect(d).toEqual({ retry: true, delayMs: 7000, pauseAllMs: 7000 });
  });

  it('never retries a permanent or fatal error', () => {
    expect(decideRetry({ ...c503, kind: 'permanent' }, 1, policy)).toEqual({ retry: false });
    expect(decideRetry({ ...c503, kind: 'fatal' }, 1, policy)).toEqual({ retry: false });
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
