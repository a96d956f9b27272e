import { describe, expect, it, vi } from 'vitest';
import { bindingConstraint, createProgress, RecentRate } from '../src/progress.js';
import { createStats } from '../src/stats.js';
import type { Limiter, LimiterState } from '../src/quota/limiter.js';
import { Capture } from './helpers/util.js';

function limiterWith(state: Partial<LimiterState>): Limiter {
  const st: LimiterState = { pausedUntil: 0, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, adaptive: false, ...state };
  return { state: () => st } as unknown as Limiter;
}

describe('the binding constraint on the progress line', () => {
  it('names the pause, the rate, the token budget, the slots, or neither — in that order', () => {
    const s = createStats(0);
    expect(bindingConstraint(s, limiterWith({ pausedUntil: 4500, waitingForRequests: 3 }), 8, 1000)).toBe('429 cool-down 4s');
    expect(bindingConstraint(s, limiterWith({ waitingForRequests: 3, rpm: 3000, adaptive: true }), 8, 1000, 2950)).toBe('rpm 2950/min of 3000 (adaptive)');
    expect(bindingConstraint(s, limiterWith({ waitingForTokens: 2, tpm: 100_000 }), 8, 1000)).toBe('tpm 100000');
    s.inFlight = 8;
    expect(bindingConstraint(s, limiterWith({ rpm: 600 }), 8, 1000, 480)).toBe('concurrency 8, 480/min (rpm limit 600)');
    s.inFlight = 2;
    expect(bindingConstraint(s, limiterWith({ waitingForWindow: 5, window: 6 }), 8, 1000)).toBe('probing the quota (window 6 in flight)');
    expect(bindingConstraint(s, limiterWith({}), 8, 1000, 120)).toBe('input/API, 120/min');
  });

  it('measures the recent rate over a sliding window', () => {
    const r = new RecentRate(5000);
    expect(r.sample(0, 0)).toBe(0);
    expect(r.sample(50, 1000)).toBe(3000);
    r.sample(100, 6000);
    expect(r.sample(110, 7000)).toBe(600); // the sample at 0 s fell out: (110 - 50) attempts over 6 s
  });
});

describe('status lines', () => {
  it('the first one carries the rate since the start, not 0/min from a single sample', () => {
    let t = 1_000_000;
    const stats = createStats();
    const out = new Capture();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const p = createProgress({ stream: out, stats, limiter: limiterWith({ waitingForRequests: 3, rpm: 6000, adaptive: true }), concurrency: 4, intervalSec: 10, quiet: false, now: () => t });
      stats.attempts = 100;
      t += 10_000;
      vi.advanceTimersByTime(10_000); // the first status line
      p.stop();
    } finally {
      vi.useRealTimers();
    }
    expect(out.text).toMatch(/bound by rpm 600\/min of 6000 \(adaptive\)/);
  });
});

describe('messages during a run on a terminal', () => {
  it('go on a line of their own above the bar (Progress.log), never onto the bar', () => {
    const tty = Object.assign(new Capture(), { isTTY: true, columns: 120 });
    const p = createProgress({ stream: tty, stats: createStats(), concurrency: 4, intervalSec: 1, quiet: false });
    p.log('gempipe: stopping — no new prompts');
    p.stop();
    // The bar's line is cleared first, then the message and its own newline.
    expect(tty.text).toContain('\r\x1b[Kgempipe: stopping — no new prompts\n');
  });
});
