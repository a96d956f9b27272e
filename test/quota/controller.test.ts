// QuotaController on hand-made sequences of sends and answers, in virtual time (every call is told
// the time; no clock, no timers). The family of server models is in controller-family.test.ts.
import { describe, expect, it } from 'vitest';
import { QuotaController, type QuotaNews } from '../../src/quota/controller.js';

/** Sends at `perSec` from `from` for `ms`, every request answered (admitted) `rtt` later. */
function paced(c: QuotaController, from: number, ms: number, perSec: number, rtt = 50): number {
  let t = from;
  for (; t < from + ms; t += 1000 / perSec) {
    c.sent(t);
    c.ok(t + rtt, t);
  }
  return t;
}

describe('QuotaController', () => {
  it('probes with a window that doubles per round trip, and no rate: a server with no quota reaches the slots at once', () => {
    const c = new QuotaController(0);
    expect(c).toMatchObject({ perSec: undefined, window: 4, source: 'probe' });
    // Round trips of 3 ms (1 ms of model, 1 ms each way): 4 -> 8 -> 16 -> 32 -> 64 in five of them.
    let t = 0;
    for (let round = 0; round < 5; round++, t += 10) {
      const n = Math.floor(c.window);
      for (let i = 0; i < n; i++) c.sent(t);
      for (let i = 0; i < n; i++) c.ok(t + 3, t);
    }
    expect(c.window).toBeGreaterThanOrEqual(64);
    expect(c.perSec).toBeUndefined();
  });

  it('a refusal cuts the rate to a share of what the server took; refusals of requests sent before the cut do not cut again', () => {
    const c = new QuotaController(0, {}, { perSec: 100, limit: false });
    const t = paced(c, 0, 2000, 100); // the server took 100/s
    // Refused: two requests sent just now, answered 10 ms later.
    c.sent(t);
    c.sent(t + 5);
    c.refused(t + 10, t, { details: true, retryDelayMs: 1000 });
    const cut = c.perSec!;
    expect(cut).toBeLessThan(100);
    expect(cut).toBeGreaterThan(80); // 0.9 × what it took, not a collapse
    c.refused(t + 15, t + 5, { details: true, retryDelayMs: 1000 }); // sent before the cut: answered for
    expect(c.perSec).toBe(cut);
    expect(c.blocked).toBe(false); // a refusal is not a reason to pause everyone
  });

  it('the hold for a refused request is its own RetryInfo; without one, a detailed 429 retries through the pacer and a bare one backs off', () => {
    const c = new QuotaController(0, {}, { perSec: 50, limit: false });
    const t = paced(c, 0, 1000, 50);
    c.sent(t);
    expect(c.refused(t + 5, t, { details: true, retryDelayMs: 26_000 })).toEqual({ ms: 26_000 });
    c.sent(t + 20);
    expect(c.refused(t + 25, t + 20, { details: true })).toEqual({ ms: 0 });
    c.sent(t + 40);
    expect(c.refused(t + 45, t + 40, { details: false })).toEqual({ backoff: true });
  });

  it('refusals that go on at the cut rate mean a window ran out: everyone waits, one probe at a time; a countdown RetryInfo that holds is trusted', () => {
    const c = new QuotaController(0, {}, { perSec: 100, limit: false });
    let t = paced(c, 0, 2000, 100);
    // The window runs out at t: everything is refused, RetryInfo (whole seconds) says 5 s.
    const end = t + 5000;
    for (let i = 0; i < 6 && !c.blocked; i++, t += 10) {
      c.sent(t);
      c.refused(t + 5, t, { details: true, retryDelayMs: Math.ceil((end - t) / 1000) * 1000 });
    }
    expect(c.blocked).toBe(true);
    // Probes: the gate lets exactly one caller through when its time comes.
    let probes = 0;
    let lastSecond = 0;
    let now = t;
    while (c.blocked && now < end + 5000) {
      const g = c.gate(now);
      if (g > 0) {
        now = g;
        continue;
      }
      if (!c.blocked) break;
      expect(c.gate(now)).toBeGreaterThan(0); // one at a time
      c.sent(now);
      if (now < end) c.refused(now + 5, now, { details: true, retryDelayMs: Math.ceil((end - now) / 1000) * 1000 });
      else c.ok(now + 50, now);
      probes++;
      if (now > end - 1000) lastSecond++;
      now += 5;
    }
    expect(c.notes).toContain('retryinfo-trusted');
    // Trusted: whole seconds rounded up, it is probed only within its last second, and it opens then.
    expect(c.blocked).toBe(false);
    expect(now).toBeLessThan(end + 300);
    expect(probes - lastSecond).toBeLessThan(10);
  });

  it('a RetryInfo that never counts down (always 10 s) is not waited for: probes go on, and one admitted reopens', () => {
    const c = new QuotaController(0, {}, { perSec: 100, limit: false });
    let t = paced(c, 0, 2000, 100);
    for (let i = 0; i < 6 && !c.blocked; i++, t += 10) {
      c.sent(t);
      c.refused(t + 5, t, { details: true, retryDelayMs: 10_000 });
    }
    expect(c.blocked).toBe(true);
    const opens = t + 3000; // the quota really reopens after 3 s
    let now = t;
    while (c.blocked && now < t + 10_000) {
      const g = c.gate(now);
      if (g > 0) {
        now = g;
        continue;
      }
      c.sent(now);
      if (now < opens) c.refused(now + 5, now, { details: true, retryDelayMs: 10_000 });
      else c.ok(now + 50, now);
      now += 5;
    }
    expect(c.notes).toContain('retryinfo-overstated');
    expect(c.blocked).toBe(false);
    expect(now).toBeLessThan(opens + 1500); // not 10 s
  });

  it('bare 429s scattered at the background share (shared capacity) do not cut a quota that speaks with details', () => {
    const c = new QuotaController(0, {}, { perSec: 100, limit: false });
    // One detailed quota 429 long ago: the quota speaks with details.
    let t = paced(c, 0, 1000, 100);
    c.sent(t);
    c.refused(t + 5, t, { details: true, retryDelayMs: 1000 });
    const rate = c.perSec!;
    t = paced(c, t + 10, 3000, rate);
    // Now 2% of requests get a bare 429, spread out.
    for (let i = 0; i < 1000; i++, t += 1000 / rate) {
      c.sent(t);
      if (i % 50 === 25) c.refused(t + 5, t, { details: false });
      else c.ok(t + 50, t);
      if (i % 5 === 0) c.tick(t, false);
    }
    expect(c.perSec).toBeGreaterThanOrEqual(rate);
    expect(c.notes).toContain('bare-background');
  });

  it('a 429 that names the quota (quotaValue) sets the limit, aimed just under; growth never passes it', () => {
    const c = new QuotaController(0);
    c.sent(0);
    c.refused(10, 0, { details: true, retryDelayMs: 1000, perMinute: 6000 });
    expect(c.source).toBe('limit');
    expect(c.ceiling).toBeCloseTo(100 * 0.99, 5);
    expect(c.perSec).toBeCloseTo(c.ceiling!, 5);
    let t = 20;
    for (; t < 20_000; t += 10) {
      c.sent(t);
      c.ok(t + 50, t);
      if (t % 50 === 0) c.tick(t, true);
    }
    expect(c.perSec).toBeLessThanOrEqual(c.ceiling! + 1e-9);
  });

  it('adopt(): what another process sharing the quota decided (and saw) is acted on as if it were its own', () => {
    const a = new QuotaController(0, { shared: true }, { perSec: 100, limit: false });
    const b = new QuotaController(0, { shared: true }, { perSec: 100, limit: false });
    a.peers = 1;
    b.peers = 1;
    // a sees refusals and cuts; b hears of it.
    let t = paced(a, 0, 2000, 50);
    a.sent(t);
    a.refused(t + 5, t, { details: true, retryDelayMs: 1000 });
    const cut = a.news.find((n): n is Extract<QuotaNews, { kind: 'cut' }> => n.kind === 'cut');
    expect(cut).toBeDefined();
    b.adopt(t + 7, cut!);
    expect(b.perSec).toBeCloseTo(a.perSec!, 9);
    // A higher rate from another process is not adopted as a cut.
    b.adopt(t + 8, { kind: 'cut', perSec: 500, level: 500 });
    expect(b.perSec).toBeCloseTo(a.perSec!, 9);
    // A block: b waits too, and reopens when told.
    b.adopt(t + 10, { kind: 'block', reopenInMs: 30_000 });
    expect(b.blocked).toBe(true);
    expect(b.news).toEqual([]); // not b's to tell again
    b.adopt(t + 20, { kind: 'reopen', perSec: 40, level: 45 });
    expect(b.blocked).toBe(false);
    expect(b.perSec).toBe(40);
    // A limit named by a 429 another process saw.
    b.adopt(t + 30, { kind: 'limit', perSec: 60 });
    expect(b.ceiling).toBeCloseTo(60 * 0.99, 9);
    // What a saw (sent and refused per 25 ms slot) is published for the others as it ticks.
    t += 100;
    for (let i = 0; i < 20; i++, t += 50) {
      a.sent(t);
      a.ok(t + 30, t);
      a.tick(t + 1, true);
    }
    expect(a.news.some((n) => n.kind === 'seen')).toBe(true);
  });
});
