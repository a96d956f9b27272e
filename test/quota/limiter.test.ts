// The limiter with Bottleneck underneath, on fake timers (Bottleneck's own setTimeout/setInterval
// and Date are faked with them): grants counted and spaced against the fake clock, never against
// wall time. The controller's decisions themselves are tested in controller tests and in virtual
// time against server models (test/quota/sim); here: that the limiter enforces them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AIM, createLimiter, type Grant, type Limiter } from '../../src/quota/limiter.js';

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

/** One acquire, the fake clock moved on (in 50 ms steps, 30 s at most) until it is granted. */
async function take(limiter: Limiter, tokens = 0): Promise<Grant> {
  let grant: Grant | undefined;
  void limiter.acquire(tokens).then((g) => (grant = g));
  for (let i = 0; i < 600 && !grant; i++) await vi.advanceTimersByTimeAsync(50);
  if (!grant) throw new Error('not granted within 30 s of fake time');
  return grant;
}

/** Bottleneck's stop() runs on its timers too. */
async function stop(limiter: Limiter): Promise<void> {
  const p = limiter.stop();
  await vi.advanceTimersByTimeAsync(1000);
  await p;
}

const gaps = (xs: Array<{ at: number }>) => xs.slice(1).map((x, i) => x.at - xs[i].at);

describe('createLimiter', () => {
  it('--rpm paces: grants one at a time at the aimed rate, never two closer than the grid allows', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ rpm: 6000 }); // 100/s, aimed at 98/s: one every ~10.2 ms
    const { granted, all } = acquireMany(limiter, 400);
    await vi.advanceTimersByTimeAsync(3000);
    // 3 s at 98/s, give or take the first permit and one in the making.
    expect(granted.length).toBeGreaterThanOrEqual(290);
    expect(granted.length).toBeLessThanOrEqual(296);
    // Paced, not in batches: every gap is about 1/rate (timers may round a millisecond).
    const interval = 1000 / (100 * AIM);
    for (const g of gaps(granted)) expect(g).toBeGreaterThanOrEqual(Math.floor(interval) - 1);
    for (const g of granted) limiter.release(g.grant, { kind: 'ok' });
    await vi.advanceTimersByTimeAsync(2000);
    await all;
    await stop(limiter);
  });

  it('a refused request waits its own RetryInfo; the others go on at the (cut) pace — no pause for everyone', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 6000, source: 'adaptive' } } });
    const first = await take(limiter);
    const hold = limiter.release(first, { kind: 'quota', quota: 'requests', retryDelayMs: 1000 });
    expect(hold).toEqual({ ms: 1000 });
    expect(limiter.state().pausedUntil).toBe(0);
    const { granted, all } = acquireMany(limiter, 20);
    await vi.advanceTimersByTimeAsync(300);
    expect(granted.length).toBeGreaterThan(10); // not paused for a second
    for (const g of gaps(granted)) expect(g).toBeGreaterThanOrEqual(9); // and paced
    for (const g of granted) limiter.release(g.grant, { kind: 'ok' });
    await vi.advanceTimersByTimeAsync(1000);
    await all;
    await stop(limiter);
  });

  it('refusals that go on after the cut (a window that ran out) make everyone wait, one probe at a time; then the pace', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 6000, source: 'adaptive' } } });
    // A refusal cuts the rate; three requests sent after the cut, all refused: a window is full.
    limiter.release(await take(limiter), { kind: 'quota', quota: 'requests', retryDelayMs: 3000 });
    for (let i = 0; i < 3; i++) limiter.release(await take(limiter), { kind: 'quota', quota: 'requests', retryDelayMs: 3000 });
    const blockedAt = Date.now();
    expect(limiter.state().pausedUntil).toBeGreaterThan(blockedAt);
    const { granted, all } = acquireMany(limiter, 30);
    // While it is blocked every probe is refused at once: never more than one out at a time.
    let answered = 0;
    while (Date.now() < blockedAt + 2500) {
      await vi.advanceTimersByTimeAsync(5);
      expect(granted.length - answered).toBeLessThanOrEqual(1);
      for (; answered < granted.length; answered++) limiter.release(granted[answered].grant, { kind: 'quota', quota: 'requests', retryDelayMs: blockedAt + 3000 - Date.now() });
    }
    const probes = granted.length;
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThan(12);
    // The window reopens: the callers then leave at the pace, not all at once — never three
    // within 2 ms (they all waited at the gate together).
    await vi.advanceTimersByTimeAsync(700);
    const after = granted.slice(probes);
    expect(after.length).toBeGreaterThan(2);
    for (let i = 0; i + 2 < after.length; i++) expect(after[i + 2].at - after[i].at).toBeGreaterThanOrEqual(2);
    for (const g of granted.slice(probes)) limiter.release(g.grant, { kind: 'ok' });
    for (let i = 0; i < 100 && granted.length < 30; i++) {
      await vi.advanceTimersByTimeAsync(50);
      for (const g of granted.slice(answered)) limiter.release(g.grant, { kind: 'ok' });
      answered = granted.length;
    }
    await all;
    await stop(limiter);
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
    expect(limiter.state()).toMatchObject({ rateSource: 'limit' });
    expect(limiter.state().rpm).toBeLessThanOrEqual(1200 * AIM);
    expect(limiter.learned()).toEqual({ rpm: { value: 1200, source: 'server' } });
    const g = await take(limiter);
    limiter.release(g, { kind: 'quota', quota: 'tokens', perMinute: 250_000 });
    expect(said).toEqual(['rpm 1200', 'tpm 250000']);
    expect(limiter.state().tpm).toBe(Math.round(250_000 * AIM));
    await stop(limiter);
  });

  it('while probing, at most the window is in flight, and each answer lets one more (and a new one) go', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: { initialWindow: 2, minDoublingMs: 1 } });
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
    await stop(limiter);
  });

  it('a run that learned a rate starts at it: no probe', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 3000, source: 'adaptive' } } });
    expect(limiter.state()).toMatchObject({ rateSource: 'adaptive', rpm: 3000, window: undefined });
    await stop(limiter);
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
    await stop(limiter);
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
    await stop(limiter);
  });

  it('refusals with nothing admitted are reported as starvation since the first; an answer ends it', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 6000, source: 'adaptive' } } });
    const first = await take(limiter);
    const t0 = Date.now();
    limiter.release(first, { kind: 'quota', quota: 'requests' });
    limiter.release(await take(limiter), { kind: 'quota', quota: 'requests' });
    expect(limiter.starvedSince()).toBe(t0);
    limiter.release(await take(limiter), { kind: 'ok' });
    expect(limiter.starvedSince()).toBeUndefined();
    await stop(limiter);
  });
});

describe('a 429 without details (shared capacity)', () => {
  it('the request backs off on its own; the rate and everyone else are not paused', async () => {
    vi.useFakeTimers(FAKE);
    const limiter = createLimiter({ adaptive: true, learned: { rpm: { value: 6000, source: 'adaptive' } } });
    const g = await take(limiter);
    const hold = limiter.release(g, { kind: 'quota' }); // no quota named, no RetryInfo
    expect(hold).toEqual({ backoff: true });
    expect(limiter.state().pausedUntil).toBe(0);
    await stop(limiter);
  });
});
