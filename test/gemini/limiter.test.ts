import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLimiter } from '../../src/gemini/limiter.js';

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
