import { describe, expect, it } from 'vitest';
import { bindingConstraint, RecentRate } from '../src/progress.js';
import { createStats } from '../src/stats.js';
import type { Limiter, LimiterState } from '../src/gemini/limiter.js';

function limiterWith(state: Partial<LimiterState>): Limiter {
  const st: LimiterState = { pausedUntil: 0, waitingForRequests: 0, waitingForTokens: 0, adaptive: false, ...state };
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
