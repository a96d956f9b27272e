import { describe, expect, it } from 'vitest';
import { addRange, BUCKETS, bucketOf, createLatencyHistogram, lowerMs, MAX_INDEX, quantile, toRange, upperMs } from '../../src/observe/latency-histogram.js';
import { createRunMeter } from '../../src/observe/run-meter.js';
import { costOf, pricesFor } from '../../src/observe/cost.js';
import { createSampler } from '../../src/observe/snapshot.js';
import { createStats } from '../../src/stats.js';

describe('the latency histogram', () => {
  it('puts a latency in the bucket whose bounds hold it, four buckets a doubling', () => {
    for (const ms of [0, 0.5, 1, 1.01, 3, 16, 16.5, 799, 800, 1000, 60_000, 2 ** 20]) {
      const i = bucketOf(ms);
      expect(ms <= upperMs(i)).toBe(true);
      expect(ms > lowerMs(i) || i === 0).toBe(true);
    }
    expect(bucketOf(16)).toBe(16);
    // The same as ceil(4 log2 ms) everywhere, not only at the values above.
    for (let k = 0; k < 20_000; k++) {
      const ms = 1 + ((k * 7919) % 1_000_000) / 3.7;
      expect(bucketOf(ms), String(ms)).toBe(Math.ceil(Math.log2(ms) * 4 - 1e-12) + 0);
    }
    expect(upperMs(4)).toBe(2);
    expect(bucketOf(2 ** 20 + 1)).toBe(MAX_INDEX + 1);
    expect(upperMs(MAX_INDEX + 1)).toBe(Infinity);
  });

  it('reads percentiles within a bucket\'s width (19%)', () => {
    const h = createLatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) h.observe(ms);
    expect(h.count).toBe(1000);
    expect(h.sumMs).toBe(500_500);
    for (const [q, exact] of [[0.5, 500], [0.9, 900], [0.99, 990]] as const) {
      const v = quantile(h.counts, q)!;
      expect(Math.abs(v - exact) / exact).toBeLessThan(0.19);
    }
    expect(quantile(new Float64Array(BUCKETS), 0.5)).toBeUndefined();
  });

  it('stores an interval as a range of buckets and adds it back', () => {
    const h = createLatencyHistogram();
    h.observe(5);
    h.observe(5);
    h.observe(7);
    h.observe(900);
    const range = toRange(h.counts);
    expect(range[0]).toBe(bucketOf(5));
    expect(range.slice(1, 4)).toEqual([2, 0, 1]); // 5 ms twice, nothing, 7 ms
    expect(range.length).toBe(1 + bucketOf(900) - bucketOf(5) + 1);
    expect(range.at(-1)).toBe(1);
    const back = new Float64Array(BUCKETS);
    addRange(back, range);
    expect(Array.from(back)).toEqual(Array.from(h.counts));
    addRange(back, [BUCKETS - 1, 1, 5, 5]); // buckets past the end (a newer format) are ignored
    expect(back[BUCKETS - 1]).toBe(1);
    expect(toRange(new Float64Array(BUCKETS))).toEqual([]);
  });
});

describe('the run meter and the sampler', () => {
  it('counts attempts by HTTP code, keeps unanswered ones out of the latency, and splits batch tokens', () => {
    const m = createRunMeter();
    m.attempt(200, 700);
    m.attempt(200, 900);
    m.attempt(429, 40);
    m.attempt(0, 120_000);
    m.usage({ promptTokens: 10, responseTokens: 50, thoughtsTokens: 20 });
    m.usage({ promptTokens: 7, responseTokens: 9, cachedTokens: 4 }, true);
    m.setBatchJobs({ created: 2, written: 1 });
    expect(m.answers()).toEqual({ 200: 2, 429: 1, none: 1 });
    expect([m.codes[200], m.codes[0]]).toEqual([2, 1]);
    expect(m.latency.count).toBe(3);
    expect([m.thoughtsTokens, m.cachedTokens, m.batchTokensIn, m.batchTokensOut]).toEqual([20, 4, 7, 9]);
    expect(m.batchJobs).toEqual({ created: 2, written: 1 });
  });

  it('samples stats, meter and limiter into one snapshot', () => {
    const stats = createStats(0);
    stats.succeeded = 9;
    stats.failedByStatus = { BLOCKED: 1 };
    stats.inFlight = 4;
    const meter = createRunMeter();
    meter.attempt(503, 10);
    const limiter = {
      state: () => ({ pausedUntil: 5000, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, adaptive: false, rpm: 2940, tpm: 9800 }),
      learned: () => ({ rpm: { value: 3000, source: 'server' as const }, tpm: { value: 40, source: 'adaptive' as const } }),
    };
    const s = createSampler({ stats, meter, limiter, now: () => 1234 })();
    expect(s).toMatchObject({ at: 1234, succeeded: 9, failedByStatus: { BLOCKED: 1 }, inFlight: 4, answers: { 503: 1 }, rpm: 2940, tpm: 9800, quotaRpm: 3000, pausedUntil: 5000 });
    expect(s.quotaTpm).toBeUndefined(); // an adaptive rate is not a quota the server named
    expect(createSampler({ stats })()).toMatchObject({ answers: {}, pausedUntil: 0, rpm: undefined, latency: undefined });
  });
});

describe('cost', () => {
  it('prices online tokens at the table, batch tokens at half, cached input at the table\'s cached rate, and estimates what reuse saved', () => {
    const p = { ...pricesFor('gemini-2.5-flash', {}, '2026-11-02')!, cachedIn: 0.075 };
    expect([p.in, p.out, pricesFor('gemini-2.5-flash', {}, '2026-11-02')!.cachedIn, p.batchFactor]).toEqual([0.3, 2.5, 0.03, 0.5]);
    const c = costOf({ tokensIn: 3_000_000, tokensOut: 1_000_000, tokensCached: 1_000_000, batchTokensIn: 1_000_000, batchTokensOut: 0, succeeded: 110, deduped: 5, cached: 5 }, p);
    // online: 1M uncached in at 0.3 + 1M cached at 0.075 + 1M out at 2.5; batch: 1M in at 0.15.
    expect(c.onlineUsd).toBeCloseTo(0.3 + 0.075 + 2.5, 10);
    expect(c.batchUsd).toBeCloseTo(0.15, 10);
    expect(c.savedBatchUsd).toBeCloseTo(0.15, 10);
    expect(c.savedCachedTokensUsd).toBeCloseTo(0.225, 10);
    expect(c.savedReuseUsd).toBeCloseTo((10 * c.usd) / 100, 10);
    expect(pricesFor('my-own-model')).toBeUndefined();
    expect(pricesFor('my-own-model', { priceIn: 1, priceOut: 2 })?.note).toMatch(/--price-in/);
  });
});
