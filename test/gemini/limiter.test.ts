import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveRate, createLimiter } from '../../src/gemini/limiter.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Starts `n` acquires and records the (fake) time each was granted. */
function acquireMany(limiter: ReturnType<typeof createLimiter>, n: number, tokens = 0) {
  const granted: number[] = [];
  const all = Promise.all(Array.from({ length: n }, () => limiter.acquire(tokens).then(() => granted.push(Date.now()))));
  return { granted, all };
}

describe('createLimiter', () => {
  it('grants requests at the --rpm rate: a burst of one tick, then the rate', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const t0 = Date.now();
    const limiter = createLimiter({ rpm: 600 }); // 10/s, 1 per 100 ms tick
    const { granted, all } = acquireMany(limiter, 30);
    await vi.advanceTimersByTimeAsync(1050);
    // One at start (the tick's burst), then one per 100 ms.
    expect(granted.length).toBe(11);
    await vi.advanceTimersByTimeAsync(2000);
    await all;
    expect(granted.length).toBe(30);
    expect(Math.max(...granted) - t0).toBeLessThanOrEqual(2900 + 50);
    await limiter.stop();
  });

  it('a pause holds every caller, including ones already queued', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = createLimiter({});
    const t0 = Date.now();
    limiter.pauseFor(5000);
    expect(limiter.state().pausedUntil).toBe(t0 + 5000);
    const { granted, all } = acquireMany(limiter, 5);
    await vi.advanceTimersByTimeAsync(1000);
    limiter.pauseFor(500); // shorter than what is left: does not shorten the pause
    await vi.advanceTimersByTimeAsync(3999);
    expect(granted.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await all;
    expect(granted).toEqual(Array(5).fill(t0 + 5000));
    await limiter.stop();
  });

  it('keeps tokens per minute within --tpm, charging what was really used', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = createLimiter({ tpm: 60_000 }); // 1000 tokens/s, 100 per tick
    const { granted, all } = acquireMany(limiter, 20, 100);
    await vi.advanceTimersByTimeAsync(1050);
    expect(granted.length).toBe(11);
    // Every one of those used only 50 tokens: the refund lets more through sooner.
    for (let i = 0; i < 11; i++) limiter.settle(100, 50);
    await vi.advanceTimersByTimeAsync(200);
    expect(granted.length).toBeGreaterThan(13);
    await vi.advanceTimersByTimeAsync(2000);
    await all;
    await limiter.stop();
  });

  it('an aborted wait rejects and frees its place', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = createLimiter({ rpm: 60 });
    const first = limiter.acquire(0);
    await vi.advanceTimersByTimeAsync(50);
    await first;
    const ctl = new AbortController();
    const p = limiter.acquire(0, ctl.signal);
    ctl.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(limiter.state().waitingForRequests).toBe(0);
    await limiter.stop();
  });
});

describe('AdaptiveRate (no --rpm known)', () => {
  it('grows only while the rate binds, geometrically until the first 429', () => {
    const a = new AdaptiveRate({ initialPerSec: 10, slowStartPerSec: 4 }, 0);
    a.tick(1000, false); // nobody waited on the rate: no evidence that more is possible
    expect(a.perSec).toBe(10);
    a.tick(2000, true);
    expect(a.perSec).toBeCloseTo(40);
    a.tick(2500, true);
    expect(a.perSec).toBeCloseTo(80);
    expect(a.slowStart).toBe(true);
  });

  it('a 429 cuts to the lower of 0.7 × rate and 0.9 × the rate answered, holds, then grows additively', () => {
    const a = new AdaptiveRate({ initialPerSec: 100, decrease: 0.7, holdMs: 1000, increasePerSec: 0.03 }, 0);
    for (let i = 0; i < 50; i++) a.ok(9000 + i * 20); // 50 answers in the last second
    expect(a.tooMany(10_000)).toBe(true);
    expect(a.perSec).toBeCloseTo(45); // min(70, 0.9 × 50)
    expect(a.slowStart).toBe(false);
    // 429s inside the hold window answer requests sent before the cut: no second cut.
    expect(a.tooMany(10_500)).toBe(false);
    a.tick(10_900, true);
    expect(a.perSec).toBeCloseTo(45); // no growth while holding
    a.tick(11_900, true); // one second of binding after the hold: + 3% of 45
    expect(a.perSec).toBeCloseTo(46.35);
    a.tick(12_900, false);
    expect(a.perSec).toBeCloseTo(46.35);
    expect(a.tooMany(13_000)).toBe(true);
    expect(a.perSec).toBeCloseTo(46.35 * 0.7); // no answers in the last second: the 0.7 cut
  });

  it('with send times: a 429 to a request sent before the cut (or just after) is ignored; one sent later cuts again', () => {
    const a = new AdaptiveRate({ initialPerSec: 100, decrease: 0.5, holdMs: 1000, graceMs: 300 }, 0);
    expect(a.tooMany(1000, 900)).toBe(true);
    expect(a.perSec).toBe(50);
    expect(a.tooMany(1010, 950)).toBe(false); // sent before the cut
    expect(a.tooMany(1250, 1100)).toBe(false); // sent inside the grace: the server had not seen the cut
    expect(a.tooMany(1400, 1350)).toBe(true); // sent well after it: 50/s is still too much, no need to wait out the hold
    expect(a.perSec).toBe(25);
  });

  it('never falls below its floor', () => {
    const a = new AdaptiveRate({ initialPerSec: 1, minPerSec: 0.5, holdMs: 0 }, 0);
    for (let t = 1; t < 10; t++) a.tooMany(t * 10);
    expect(a.perSec).toBe(0.5);
  });

  it('drives the limiter: the granted rate follows the adaptive rate', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = createLimiter({ adaptive: { initialPerSec: 10, slowStartPerSec: 4 } });
    expect(limiter.state()).toMatchObject({ adaptive: true, rpm: 600 });
    const { granted, all } = acquireMany(limiter, 200);
    await vi.advanceTimersByTimeAsync(1000);
    const first = granted.length;
    await vi.advanceTimersByTimeAsync(1000);
    const second = granted.length - first;
    expect(second).toBeGreaterThan(first * 2); // slow start while demand exceeds the rate
    const before = limiter.state().rpm!;
    expect(before).toBeGreaterThan(600);
    limiter.feedback('429'); // no answers fed in: the plain multiplicative cut
    expect(limiter.state().rpm).toBeCloseTo(before * 0.7);
    await vi.advanceTimersByTimeAsync(20_000);
    await all;
    await limiter.stop();
  });
});
