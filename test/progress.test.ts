import { describe, expect, it, vi } from 'vitest';
import { bindingConstraint, createProgress, fitToWidth, RecentRate } from '../src/progress.js';
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

describe('the bar\'s width', () => {
  /** The bar's lines as the terminal shows them: escape codes and carriage returns out. */
  const barLines = (text: string) => text.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '\n').split(/[\r\n]+/).filter((l) => l.trim() !== '');
  const busy = () => {
    const stats = createStats();
    Object.assign(stats, { succeeded: 123_456, failed: 7_890, retries: 45_678, inFlight: 512, tokensIn: 98_765_432, tokensOut: 87_654_321, expected: 1_000_000 });
    return stats;
  };

  for (const columns of [80, 100, 60, undefined]) {
    it(`stays within ${columns ?? 'an unknown width: 80'} columns, keeping the count, rate and ETA`, () => {
      const tty = Object.assign(new Capture(), { isTTY: true, columns });
      const p = createProgress({ stream: tty, stats: busy(), limiter: limiterWith({ waitingForRequests: 3, rpm: 123_456, adaptive: true }), concurrency: 512, intervalSec: 1, quiet: false });
      p.stop();
      const lines = barLines(tty.text);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.length, l).toBeLessThan(columns ?? 80);
      expect(lines.at(-1)).toMatch(/131346\/1000000 13% \| [\d.]+\/s \| ETA /);
    });
  }

  it('shows every part when the terminal is wide enough', () => {
    const tty = Object.assign(new Capture(), { isTTY: true, columns: 300 });
    const p = createProgress({ stream: tty, stats: busy(), concurrency: 512, intervalSec: 1, quiet: false });
    p.stop();
    expect(barLines(tty.text).at(-1)).toMatch(/░ 131346\/1000000 13% \| .* \| ETA .* \| in flight 512 \| retries 45678 \| failed 7890 \| tokens 98765432\/87654321 \| /);
  });

  it('fitToWidth: parts by rank, in their order; a part too long alone is cut', () => {
    expect(fitToWidth([['aaaaaa', 2], ['bbbbb', 0], ['cccc', 1]], 11)).toBe('bbbbbcccc');
    expect(fitToWidth([['aaaaaa', 2], ['bbbbb', 0], ['cccc', 1]], 16)).toBe('aaaaaabbbbbcccc');
    expect(fitToWidth([['x'.repeat(30), 0]], 12)).toBe('x'.repeat(10) + '…');
  });
});
