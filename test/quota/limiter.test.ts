// The limiter with Bottleneck underneath, on fake timers (Bottleneck's own setTimeout/setInterval
// and Date are faked with them): grants counted against the fake clock, never against wall time.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AIM, createLimiter, type Grant, type Limiter } from '../../src/quota/limiter.js';
import { refillStep } from '../../src/quota/budget.js';

const FAKE: { toFake: Array<'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'Date'> } = { toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] };
afterEach(() => {
  vi.useRealTimers();
});

/** Starts `n` acquires; records each grant and when it came (fake time). */
function acquireMany(limiter: Limiter, n: number, tokens = 0) {
  const granted: Array<{ at: number; grant: Grant }> = [];
  const all = Promise.all(Array.from({ length: n }, () => limiter.acquire(tokens).then((grant) => granted.push({ at: Date.now(), grant }))));
  return { granted, all };
}

/** One acquire, with the fake clock moved on far enough for Bottleneck's own timers to grant it. */
async function take(limiter: Limiter, tokens = 0): Promise<Grant> {
  const p = limiter.acquire(tokens);
  await vi.advanceTimersByTimeAsync(200);
  return p;
}

describe('createLimiter', () => {
  it('grants at --rpm × AIM, from Bottleneck\'s own (drift-free) refill', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ rpm: 6000 }); // 100/s, aimed at 98/s: 5 every ~51 ms
    const step = refillStep(6000 * AIM);
    expect(step.amount).toBe(5);
    const { granted, all } = acquireMany(limiter, 400);
    await vi.advanceTimersByTimeAsync(3000);
    // The first refill's worth at once, then `amount` every interval: 5 + 5 × floor(3000 / 51.02)
    // at most; the permits of the last refill may still be on their way out of Bottleneck.
    const most = 5 + 5 * Math.floor(3000 / step.intervalMs);
    expect(granted.length).toBeLessThanOrEqual(most);
    expect(granted.length).toBeGreaterThanOrEqual(most - 5);
    for (const g of granted) limiter.release(g.grant, { kind: 'ok' });
    await vi.advanceTimersByTimeAsync(10_000);
    await all;
    await limiter.stop();
  });

  it('a quota 429 with RetryInfo pauses everyone; when it ends callers go at the limiter\'s pace, not all at once', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ rpm: 6000 });
    const first = await take(limiter);
    const t0 = Date.now();
    limiter.release(first, { kind: 'quota', quota: 'requests', retryDelayMs: 2000 });
    expect(limiter.state().pausedUntil).toBe(t0 + 2000);
    const { granted, all } = acquireMany(limiter, 60);
    await vi.advanceTimersByTimeAsync(1999);
    expect(granted.length).toBe(0); // permits that came during the pause were spent, not kept
    await vi.advanceTimersByTimeAsync(101);
    // 100 ms after the pause: at most a refill's worth plus two refills, nowhere near all 60.
    expect(granted.length).toBeGreaterThan(0);
    expect(granted.length).toBeLessThanOrEqual(15);
    for (const g of granted) expect(g.at).toBeGreaterThanOrEqual(t0 + 2000);
    await vi.advanceTimersByTimeAsync(2000);
    await all;
    await limiter.stop();
  });

  it('a limit named by the server (quotaValue) is held from then on, said once, and kept for the next run', async () => {
    vi.useFakeTimers(FAKE);
    const said: string[] = [];
    const limiter = createLimiter({ adaptive: true, onLearn: (what, n) => said.push(`${what} ${n}`) });
    expect(limiter.state()).toMatchObject({ rateSource: 'probe', window: 4 });
    for (let i = 0; i < 3; i++) {
      const g = await take(limiter);
      limiter.release(g, { kind: 'quota', quota: 'requests', perMinute: 1200, retryDelayMs: 10 });
    }
    expect(said).toEqual(['rpm 1200']);
    expect(limiter.state()).toMatchObject({ rateSource: 'limit', rpm: 1200 * AIM });
    expect(limiter.learned()).toEqual({ rpm: { value: 1200, source: 'server' } });
    const g = await take(limiter);
    limiter.release(g, { kind: 'quota', quota: 'tokens', perMinute: 250_000 });
    expect(said).toEqual(['rpm 1200', 'tpm 250000']);
    expect(limiter.state().tpm).toBe(Math.round(250_000 * AIM));
    await limiter.stop();
  });

  it('while probing, at most the window is in flight, and each answer lets one more (and a new one) go', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: { initialWindow: 2 } });
    const { granted, all } = acquireMany(limiter, 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(granted.length).toBe(2);
    expect(limiter.state().waitingForWindow).toBe(8);
    limiter.release(granted[0].grant, { kind: 'ok' }); // window 3, 1 in flight: two more go
    await vi.advanceTimersByTimeAsync(10);
    expect(granted.length).toBe(4);
    for (const g of granted.slice(1)) limiter.release(g.grant, { kind: 'ok' });
    await vi.advanceTimersByTimeAsync(10);
    expect(granted.length).toBe(10);
    await all;
    await limiter.stop();
  });

  it('a run that learned a rate starts at it: no probe', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 3000, source: 'adaptive' } } });
    expect(limiter.state()).toMatchObject({ rateSource: 'adaptive', rpm: 3000, window: undefined });
    await limiter.stop();
  });

  it('charges --tpm with the estimate and settles it with the reported count', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ tpm: 60_000 }); // ~980 tokens/s, ~49 a refill
    const { granted, all } = acquireMany(limiter, 30, 49);
    await vi.advanceTimersByTimeAsync(1000);
    const n = granted.length;
    expect(n).toBeGreaterThanOrEqual(19);
    expect(n).toBeLessThanOrEqual(21);
    // Each really used 1 token: the refunds let the rest through at once.
    for (const g of granted) limiter.release(g.grant, { kind: 'ok', promptTokens: 1 });
    await vi.advanceTimersByTimeAsync(100);
    expect(granted.length).toBe(30);
    await all;
    await limiter.stop();
  });

  it('an aborted wait rejects and frees its place', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ rpm: 60 });
    await take(limiter);
    const ctl = new AbortController();
    const p = limiter.acquire(0, ctl.signal);
    ctl.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(limiter.state().waitingForRequests).toBe(0);
    await limiter.stop();
  });
});

describe('a 429 without details (shared capacity)', () => {
  it('trims the rate but never pauses everyone', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 6000, source: 'adaptive' } } });
    const g = await take(limiter);
    const before = limiter.state().rpm!;
    limiter.release(g, { kind: 'quota' }); // no quota named, no RetryInfo
    expect(limiter.state().pausedUntil).toBe(0);
    expect(Math.abs(limiter.state().rpm! - before * 0.95)).toBeLessThanOrEqual(1);
    await limiter.stop();
  });
});
