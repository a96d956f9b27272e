// createGenerateWork() with a fake `generate` and a fake limiter: the retry loop and its backoff (on a fake clock), failures,
// empty answers, halting on a whole-run fault — no server; a fake clock where the backoff is the subject.
import { ApiError } from '@google/genai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FatalRunError } from '../../src/errors.js';
import type { GenerateFn, GenerateResult } from '../../src/gemini/client.js';
import type { AttemptOutcome, Grant, Limiter } from '../../src/quota/limiter.js';
import type { FailureRecord, InputRecord, SuccessRecord } from '../../src/records.js';
import { createGenerateWork } from '../../src/stages/generate.js';
import { createStats } from '../../src/stats.js';

const rec = (line: number, prompt = `p${line}`): InputRecord => ({ id: `f:${line}`, source: 'f', line, prompt });
const ok = (text: string, finishReason = 'STOP'): GenerateResult => ({ kind: 'ok', text, finishReason, usage: { promptTokens: 3, responseTokens: 2, totalTokens: 5 } });
const apiError = (status: number, error: object) => new ApiError({ status, message: JSON.stringify({ error }) });

/** A limiter that lets everything through at once and records what it was told. */
function fakeLimiter() {
  const told: AttemptOutcome[] = [];
  const starved: { since?: number } = {};
  const limiter: Limiter = {
    acquire: async (tokens) => ({ sentAt: Date.now(), tokens }) as Grant,
    release: (_g, outcome) => void told.push(outcome),
    state: () => ({ pausedUntil: 0, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, adaptive: false }),
    learned: () => ({}),
    starvedSince: () => starved.since,
    stop: async () => {},
  };
  return { limiter, told, starved };
}

function work(generate: GenerateFn, extra: { maxAttempts?: number; expectJson?: boolean; onFatal?: (e: FatalRunError) => void; checkJson?: (v: unknown) => string | undefined; schemaRetries?: number; maxQuotaWaitMs?: number; reachable?: () => Promise<boolean> } = {}) {
  const { limiter, told, starved } = fakeLimiter();
  const stats = createStats();
  const run = createGenerateWork({
    generate, limiter, concurrency: 4, model: 'm', stats, expectJson: extra.expectJson, checkJson: extra.checkJson, schemaRetries: extra.schemaRetries,
    retry: { maxAttempts: extra.maxAttempts ?? 3, baseDelayMs: 0, maxDelayMs: 0 }, onFatal: extra.onFatal, maxQuotaWaitMs: extra.maxQuotaWaitMs, reachable: extra.reachable,
  });
  const signal = new AbortController().signal;
  return { go: (r: InputRecord) => run(r, signal), told, stats, starved };
}

const quota429 = () => apiError(429, { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }] }] });
const bare429 = () => apiError(429, { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' });

describe('createGenerateWork', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('waits the backoff decideRetry gives (full jitter of the doubling ceiling) before the next attempt, on a fake clock', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // the jitter draw: half the ceiling
    const calls: number[] = [];
    const { limiter } = fakeLimiter();
    const run = createGenerateWork({
      generate: async () => {
        calls.push(Date.now());
        if (calls.length < 3) throw apiError(503, { code: 503, status: 'UNAVAILABLE', message: 'overloaded' });
        return ok('yes');
      },
      limiter, concurrency: 1, model: 'm', stats: createStats(), retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 },
    });
    const out = run(rec(1), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499); // attempt 1 failed: ceiling 1000, half of it
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999); // attempt 2 failed: ceiling 2000, half of it
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(3);
    expect(await out).toMatchObject({ attempts: 3, response: 'yes' });
    expect(calls[1] - calls[0]).toBe(500);
    expect(calls[2] - calls[1]).toBe(1000);
  });

  it('retries a 503 and writes the answer with the attempts it took; the limiter hears of each attempt', async () => {
    let calls = 0;
    const w = work(async () => (++calls < 3 ? Promise.reject(apiError(503, { code: 503, status: 'UNAVAILABLE', message: 'overloaded' })) : ok('yes')));
    const out = (await w.go(rec(1))) as SuccessRecord;
    expect(out).toMatchObject({ id: 'f:1', response: 'yes', attempts: 3, model: 'm' });
    expect(w.told.map((t) => t.kind)).toEqual(['failed', 'failed', 'ok']);
    expect(w.stats).toMatchObject({ succeeded: 1, retries: 2, retriesByCause: { 503: 2 } });
  });

  it('after --max-attempts the last error is the failure record', async () => {
    const w = work(async () => Promise.reject(apiError(500, { code: 500, status: 'INTERNAL', message: 'boom' })), { maxAttempts: 2 });
    expect(await w.go(rec(2))).toMatchObject({ attempts: 2, error: { status: 'INTERNAL', code: 500, message: 'boom' } });
  });

  it('a quota 429 reaches the limiter with what it says, and the attempt is retried', async () => {
    let calls = 0;
    const w = work(async () => (++calls === 1 ? Promise.reject(apiError(429, {
      code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota',
      details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', quotaValue: '600' }] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }],
    })) : ok('fine')));
    expect(await w.go(rec(3))).toMatchObject({ response: 'fine', attempts: 2 });
    expect(w.told[0]).toEqual({ kind: 'quota', quota: 'requests', perMinute: 600, retryDelayMs: 2000 });
    expect(w.stats.http429).toBe(1);
  });

  it('429s never use up --max-attempts: quota and bare ones alike, the record succeeds after many', async () => {
    let calls = 0;
    const w = work(async () => (++calls <= 8 ? Promise.reject(calls % 2 ? quota429() : bare429()) : ok('at last')), { maxAttempts: 2 });
    expect(await w.go(rec(4))).toMatchObject({ response: 'at last', attempts: 9 }); // every request sent for it
    expect(w.stats).toMatchObject({ http429: 8, failed: 0, retriesByCause: { 429: 8 } });
  });

  it('a 429 between other errors does not count: two 503s and a 429 with --max-attempts 3 still get the third try', async () => {
    const seq = [apiError(503, { code: 503, status: 'UNAVAILABLE', message: 'x' }), quota429(), apiError(503, { code: 503, status: 'UNAVAILABLE', message: 'x' })];
    let calls = 0;
    const w = work(async () => (calls < seq.length ? Promise.reject(seq[calls++]) : ok('third')), { maxAttempts: 3 });
    expect(await w.go(rec(5))).toMatchObject({ response: 'third', attempts: 4 });
  });

  it('a quota that lets nothing through for --max-quota-wait halts the run naming it, and marks nothing failed', async () => {
    const fatal: FatalRunError[] = [];
    const w = work(async () => Promise.reject(quota429()), { onFatal: (e) => fatal.push(e), maxQuotaWaitMs: 60_000 });
    w.starved.since = Date.now() - 61_000; // the limiter has seen only refusals for 61 s
    expect(await w.go(rec(6))).toBeNull();
    expect(fatal[0]).toMatchObject({ code: 'QUOTA_STARVED' });
    expect(fatal[0].message).toMatch(/let no request through for 6\d s.*rerun to resume/);
    expect(w.stats.failed).toBe(0);
  });

  it('a prompt that times out while others are answered is a DEADLINE_EXCEEDED failure, also when it is the last one left', async () => {
    const timeout = () => Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    const fatal: FatalRunError[] = [];
    const w = work(async (p) => (p === 'hangs' ? Promise.reject(timeout()) : ok('fine')), { maxAttempts: 2, onFatal: (e) => fatal.push(e) });
    expect(await w.go(rec(1, 'answered'))).toMatchObject({ response: 'fine' });
    // The last record: nothing else is in flight, and it times out on every attempt.
    expect(await w.go(rec(2, 'hangs'))).toMatchObject({ attempts: 2, error: { status: 'DEADLINE_EXCEEDED' } });
    expect(fatal).toEqual([]);
  });

  it('a prompt alone in its run that times out: a failure when the endpoint answers a probe, the API unreachable when it does not', async () => {
    const timeout = () => Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    for (const answers of [true, false]) {
      const fatal: FatalRunError[] = [];
      let probes = 0;
      const w = work(async () => Promise.reject(timeout()), { maxAttempts: 2, onFatal: (e) => fatal.push(e), reachable: async () => (probes++, answers) });
      const r = await w.go(rec(1, 'hangs'));
      expect(probes).toBe(1);
      if (answers) {
        expect(r).toMatchObject({ attempts: 2, error: { status: 'DEADLINE_EXCEEDED' } });
        expect(fatal).toEqual([]);
      } else {
        expect(r).toBeNull();
        expect(fatal.map((e) => e.code)).toEqual(['UNREACHABLE']);
      }
    }
  });

  it('an endpoint that never answers anything (every attempt times out, nothing else answered) is still a whole-run fault', async () => {
    const timeout = () => Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    const fatal: FatalRunError[] = [];
    const w = work(async () => Promise.reject(timeout()), { maxAttempts: 2, onFatal: (e) => fatal.push(e) });
    expect(await w.go(rec(1))).toBeNull();
    expect(fatal[0]).toMatchObject({ code: 'UNREACHABLE' });
  });

  it('an answer with no text is a MAX_TOKENS (or EMPTY_RESPONSE) failure, not retried; one cut short is a success', async () => {
    const w = work(async (p) => (p === 'thoughts' ? ok('', 'MAX_TOKENS') : p === 'nothing' ? ok('') : ok('half an answ', 'MAX_TOKENS')));
    expect(await w.go(rec(1, 'thoughts'))).toMatchObject({ attempts: 1, error: { status: 'MAX_TOKENS' } });
    expect(await w.go(rec(2, 'nothing'))).toMatchObject({ attempts: 1, error: { status: 'EMPTY_RESPONSE' } });
    expect(await w.go(rec(3, 'cut'))).toMatchObject({ response: 'half an answ', finishReason: 'MAX_TOKENS' });
    expect(w.stats).toMatchObject({ truncated: 1, failed: 2, failedByStatus: { MAX_TOKENS: 1, EMPTY_RESPONSE: 1 } });
  });

  it('with JSON output, an answer that is not JSON is asked again, then fails INVALID_RESPONSE', async () => {
    let calls = 0;
    const w = work(async () => (++calls === 1 ? ok('not json') : ok('{"a":1}')), { expectJson: true });
    expect(await w.go(rec(1))).toMatchObject({ json: { a: 1 }, attempts: 2 });
    const never = work(async () => ok('still not json'), { expectJson: true, maxAttempts: 6 });
    expect(await never.go(rec(2))).toMatchObject({ attempts: 3, error: { status: 'INVALID_RESPONSE' }, response: 'still not json' }); // --schema-retries 2
  });

  it('with a schema, an answer that breaks it is asked again up to --schema-retries, then fails with the validator message', async () => {
    const check = (v: unknown) => ((v as { label?: unknown }).label === 'pos' ? undefined : "answer must have required property 'label'");
    let calls = 0;
    const w = work(async () => (++calls === 1 ? ok('{"other":1}') : ok('{"label":"pos"}')), { expectJson: true, checkJson: check });
    expect(await w.go(rec(1))).toMatchObject({ json: { label: 'pos' }, attempts: 2 });
    expect(w.stats.retriesByCause).toEqual({ 'schema mismatch': 1 });
    const never = work(async () => ok('{"other":1}'), { expectJson: true, checkJson: check, schemaRetries: 1 });
    expect(await never.go(rec(2))).toMatchObject({ attempts: 2, error: { status: 'INVALID_RESPONSE', message: "the response does not fit --json-schema: answer must have required property 'label'" }, response: '{"other":1}' });
  });

  it('a whole-run fault halts: onFatal once, the record is left undone (null), and no later record is sent', async () => {
    const fatal: FatalRunError[] = [];
    let calls = 0;
    const w = work(async () => {
      calls++;
      throw apiError(400, { code: 400, status: 'FAILED_PRECONDITION', message: 'User location is not supported for the API use.' });
    }, { onFatal: (e) => fatal.push(e) });
    expect(await w.go(rec(1))).toBeNull();
    expect(await w.go(rec(2))).toBeNull();
    expect(calls).toBe(1);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: 'LOCATION_NOT_SUPPORTED' });
  });

  it('an invalid input line is a failure record without a call', async () => {
    let calls = 0;
    const w = work(async () => (calls++, ok('x')));
    const out = (await w.go({ ...rec(9), invalid: { message: 'line 9 of f is too long' } })) as FailureRecord;
    expect(out).toMatchObject({ attempts: 0, error: { status: 'INVALID_INPUT', message: 'line 9 of f is too long' } });
    expect(calls).toBe(0);
  });
});
