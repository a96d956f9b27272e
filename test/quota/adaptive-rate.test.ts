import { describe, expect, it } from 'vitest';
import { RateController } from '../../src/quota/adaptive-rate.js';

describe('RateController', () => {
  it('probes with a window of requests in flight that grows by one per answer, and no rate at all', () => {
    const r = new RateController(0, { initialWindow: 4 });
    expect(r).toMatchObject({ perSec: undefined, window: 4, source: 'probe' });
    for (let i = 0; i < 4; i++) r.ok(10 + i);
    expect(r.window).toBe(8); // doubled in one round trip
    r.tick(1000, true);
    expect(r.perSec).toBeUndefined(); // growth of a rate needs a rate
  });

  it('a first 429 with a long RetryInfo (a full window) sets the rate to what the server took over the cycle', () => {
    const r = new RateController(0);
    r.pauseEnds(100); // the first request
    for (let i = 0; i < 100; i++) r.ok(110 + i); // the window's 100, taken in 100 ms
    // The 429 at 250 ms says: no room for 750 ms. 100 in (150 + 750) ms: 111/s; aim at 95% of it.
    expect(r.tooMany(250, 240, 750)).toBe(true);
    expect(r.perSec).toBeCloseTo((100 / 0.9) * 0.95, 5);
    expect(r.source).toBe('adaptive');
  });

  it('a first 429 with a short delay (a bucket) guesses 0.9 × the last second, then ramps ×4 a second while the rate binds', () => {
    const r = new RateController(0, { rampPerSec: 4 });
    for (let i = 0; i < 20; i++) r.ok(900 + i * 5);
    expect(r.tooMany(1000, 990, 10)).toBe(true);
    expect(r.perSec).toBeCloseTo(18);
    r.tick(1500, false); // nobody waited on the rate: no evidence that more is possible
    expect(r.perSec).toBeCloseTo(18);
    r.tick(2500, true);
    expect(r.perSec).toBeCloseTo(72);
    r.tick(3000, true);
    expect(r.perSec).toBeCloseTo(144); // overshot the server's 100/s
    // The next 429 ends the ramp: the cut is from what the server took lately (saturated: the
    // last 250 ms), not from the overshot rate nor from a last second still holding the ramp.
    for (let i = 0; i < 25; i++) r.ok(2800 + i * 10);
    expect(r.tooMany(3050, 3000, 10)).toBe(true);
    expect(r.perSec).toBeCloseTo(0.95 * 100); // 25 in 250 ms = 100/s
    r.tick(4100, true); // additive from now on: + 2% of the cut rate a second (1.1 s since the last tick)
    expect(r.perSec).toBeCloseTo(95 + 0.02 * 95 * 1.1, 5);
  });

  it('a 429 to a request sent before the last cut (or within the grace after it) does not cut again', () => {
    const r = new RateController(0, { graceMs: 300 }, { perSec: 50, limit: false });
    expect(r.tooMany(1000, 900)).toBe(true);
    const after = r.perSec;
    expect(r.tooMany(1010, 950)).toBe(false); // sent before the cut
    expect(r.tooMany(1250, 1200)).toBe(false); // inside the grace: the server had not seen the cut
    expect(r.tooMany(1400, 1350)).toBe(true); // sent well after it: still too much
    expect(r.perSec).toBeLessThan(after!);
  });

  it('a known limit is a ceiling: a 429 trims 3% (never below 70% of it), and the rate recovers to it, never above', () => {
    const r = new RateController(0, {}, { perSec: 100, limit: true });
    expect(r.source).toBe('limit');
    for (let t = 1000; t <= 20_000; t += 1000) r.tooMany(t, t - 1);
    expect(r.perSec).toBeCloseTo(70);
    for (let t = 21_000; t <= 200_000; t += 1000) r.tick(t, true);
    expect(r.perSec).toBe(100);
  });

  it('a limit the server names replaces the probe at once', () => {
    const r = new RateController(0);
    r.setLimit(98, 10);
    expect(r).toMatchObject({ perSec: 98, ceiling: 98, source: 'limit' });
  });

  it('a 429 without details (shared capacity) only trims: the window halves, or the rate loses 5%', () => {
    const probe = new RateController(0, { initialWindow: 16 });
    probe.trim(100, 50);
    expect(probe.window).toBe(8);
    expect(probe.perSec).toBeUndefined();
    const rated = new RateController(0, {}, { perSec: 100, limit: false });
    rated.trim(1000, 900);
    expect(rated.perSec).toBeCloseTo(95);
  });

  it('never falls below its floor', () => {
    const r = new RateController(0, { minPerSec: 0.5, graceMs: 0 }, { perSec: 1, limit: false });
    for (let t = 1; t < 30; t++) r.tooMany(t * 10, t * 10);
    expect(r.perSec).toBe(0.5);
  });
});
