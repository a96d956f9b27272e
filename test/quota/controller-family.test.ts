// The quota controller against the family of issue 19, in virtual time: ≥ 200 members drawn at
// random (seeded) from the family — token buckets (50 ms-1 s of burst), fixed and sliding windows
// (1-60 s), RetryInfo whole (rounded up or down)/exact/10 s/none, bodies with or without
// QuotaFailure/quotaValue, 0-3% shared-capacity 429s, a limit halved and restored, latency 20-500 ms,
// 1-4 processes, short jobs, servers with no quota, and 5-20% bare capacity 429s with or without a
// quota — each held to the targets (test/quota/sim/family.ts):
//   unknown quota and short jobs: utilisation ≥ 90%, quota 429s < 2% of requests;
//   known quota (--rpm, or quotaValue): ≥ 97% (capacity-refused counted as admitted), < 0.5%;
//   a limit halved and restored: ≥ 85%, < 2%; sharing processes: ≥ 90%, < 2%;
//   no quota (also under 5-20% capacity 429s): ≥ 0.9× the throughput of no limiter; and no record
//   ever lost.
// The seeds are not those the controller was tuned on (1-300). Members that miss are listed in
// MISSES with what they measured and why: the test fails if another member misses (a regression)
// or if a listed one meets the targets (the list is then out of date) — nothing is left out quietly.

import { describe, expect, it } from 'vitest';
import { drawCase, runCase, type Variant } from './sim/family.js';
import type { Member } from './sim/servers.js';
import { simulate } from './sim/simulate.js';

const SEED0 = 20_001;
const MEMBERS: Record<Variant, number> = { unknown: 60, short: 40, known: 30, changing: 30, shared: 35, noquota: 10, capacity: 20 };

// Why the listed members miss (what the simulation shows; see the report of issue 19).
/** Bare quota 429s are told from shared-capacity ones by their share alone: a few late each cycle. */
const BARE = 'bare quota 429s: known only by their share (a CUSUM over the answers), a few late each cycle';
/** …and among 2-3% bare shared-capacity 429s, a run of them reads as the quota: a cut too many. */
const BARE_CAPACITY = 'bare quota 429s among 2-3% bare capacity 429s: a cluster of the background cuts';
/** A 2,000-prompt job at 200-320 ms latency: the probe's few round trips are a tenth of the run. */
const START_LATENCY = 'short job at high latency: the probe (a few 300 ms round trips) and its first cut weigh on 20 s';
/** A 2,000-prompt job: the probe's requests on the wire when the first refusal comes back. */
const START_OVERSHOOT = "short job: the probe's requests in flight at its first refusal are 1% of the job";
const SLIDING = "sliding window: its echo (of the probe, of an overshoot) refuses a window later; the level settles low";
const FIXED = 'fixed window of 2-10 s: its first cycle, from the probe, under-reads it; found a few windows later';
const CHANGE_WINDOW = "a limit restored under a 2-10 s window: growth in the window's time finds it late";
const SHARED = 'several processes: each sees its share of the answers, so cuts and the probe lag';
const SHARED_BARE = `several processes, ${BARE}`;
const SHARED_WINDOW = 'several processes on a window: each runs the window logic on its share of the refusals';
/** A RetryInfo rounded down ("24.0469s" → "24s") under a 30-60 s window: the wait ends before it. */
const FLOOR_LONG = 'RetryInfo rounded down under a 30-60 s window: waits end a fraction of a second early, refused again';
/** 5-20% bare capacity 429s: the trial finds them the background, after cuts that cost the start. */
const CAPACITY_HEAVY = "5-20% bare capacity 429s: a cut's trial finds them the background (rate restored, the probe goes on), but the cuts before its verdict and growth back cost more than 10%";

/** Known misses: variant → seed → why (with what they measured when listed). */
const MISSES: Partial<Record<Variant, Record<number, string>>> = {
  unknown: {
    20010: `${SLIDING} (82.3% util, 0.52% 429s)`,
    20012: `${SLIDING} (88.8% util, 0.48% 429s)`,
    20022: `${BARE_CAPACITY} (82.8% util, 0.36% 429s)`,
    20027: `${SLIDING} (87.7% util, 0.7% 429s)`,
    20029: `${BARE} (81.6% util, 2.71% 429s)`,
    20036: `${FIXED} (86.1% util, 0.34% 429s)`,
    20051: `${FLOOR_LONG} (101.5% util, 3.44% 429s)`,
  },
  short: {
    20003: `${BARE} (101.7% util, 2.31% 429s)`,
    20004: `${START_LATENCY} (87.3% util, 0.55% 429s)`,
    20005: `${BARE_CAPACITY} (89.3% util, 1.37% 429s)`,
    20010: `${BARE_CAPACITY} (86.5% util, 1.26% 429s)`,
    20012: `${START_LATENCY} (84.0% util, 0.84% 429s)`,
    20013: `${START_LATENCY} (88.2% util, 0.34% 429s)`,
    20018: `${START_OVERSHOOT} (87.7% util, 2.06% 429s)`,
    20019: `${BARE} (106.8% util, 2.79% 429s)`,
    20022: `${BARE_CAPACITY} (70.9% util, 0.44% 429s)`,
    20026: `${BARE} (132.3% util, 2.1% 429s)`,
    20029: `${BARE_CAPACITY} (73.3% util, 0.63% 429s)`,
    20030: `${START_LATENCY} (86.3% util, 1.22% 429s)`,
    20033: `${BARE} (90.4% util, 2.53% 429s)`,
    20035: `${BARE_CAPACITY} (86.4% util, 1.93% 429s)`,
    20037: `${START_LATENCY} (89.2% util, 1.07% 429s)`,
    20039: `${START_LATENCY} (85.8% util, 0.53% 429s)`,
  },
  known: {
    20002: `${FIXED} (96.8% util, 0.32% 429s)`,
    20006: `${SLIDING} (97.9% util, 0.68% 429s)`,
    20030: `${SLIDING} (96.4% util, 0.67% 429s)`,
  },
  changing: {
    20006: `${CHANGE_WINDOW} (79.8% util, 1.13% 429s)`,
    20010: `${CHANGE_WINDOW} (79.2% util, 1.58% 429s)`,
    20022: `${BARE_CAPACITY} (73.8% util, 0.65% 429s)`,
    20027: `${CHANGE_WINDOW} (79.5% util, 0.91% 429s)`,
    20029: `${BARE} (80.7% util, 2.96% 429s)`,
  },
  shared: {
    20002: `${SHARED_WINDOW} (94.6% util, 2.05% 429s)`,
    20003: `${SHARED_BARE} (97.8% util, 4.22% 429s)`,
    20005: `${SHARED_BARE} (95.8% util, 3.02% 429s)`,
    20007: `${SHARED} (88.4% util, 0.38% 429s)`,
    20010: `${SHARED_BARE} (80.7% util, 1.35% 429s)`,
    20012: `${SHARED_WINDOW} (88.8% util, 12.51% 429s)`,
    20013: `${SHARED} (88.4% util, 0.31% 429s)`,
    20018: `${SHARED_WINDOW} (98.0% util, 2.36% 429s)`,
    20019: `${SHARED_BARE} (99.0% util, 3.25% 429s)`,
    20021: `${FLOOR_LONG} (103.6% util, 16.62% 429s)`,
    20022: `${SHARED_BARE} (81.1% util, 4.44% 429s)`,
    20025: `${SHARED_BARE} (90.9% util, 2.57% 429s)`,
    20026: `${SHARED_BARE} (96.4% util, 5.09% 429s)`,
    20027: `${SHARED_BARE} (92.2% util, 4.58% 429s)`,
    20029: `${SHARED_BARE} (76.6% util, 1.82% 429s)`,
    20032: `${SHARED} (98.8% util, 3.23% 429s)`,
    20033: `${SHARED_BARE} (98.6% util, 2.85% 429s)`,
    20034: `${SHARED_WINDOW} (89.2% util, 0.96% 429s)`,
    20035: `${SHARED_BARE} (87.6% util, 2.14% 429s)`,
  },
  capacity: {
    20001: `${CAPACITY_HEAVY} (80.5% util, 0.37% 429s)`,
    20004: `${CAPACITY_HEAVY} (79.4% util, 0.27% 429s)`,
    20005: `${CAPACITY_HEAVY} (76.6% util, 10.48% 429s)`,
    20006: `${CAPACITY_HEAVY} (72.2% vs no limiter, 0.0% 429s)`,
    20009: `${CAPACITY_HEAVY} (85.1% vs no limiter, 0.0% 429s)`,
    20010: `${CAPACITY_HEAVY} (88.6% vs no limiter, 0.0% 429s)`,
    20012: `${CAPACITY_HEAVY} (82.9% vs no limiter, 0.0% 429s)`,
    20015: `${CAPACITY_HEAVY} (84.6% vs no limiter, 0.0% 429s)`,
    20017: `${CAPACITY_HEAVY} (81.8% vs no limiter, 0.0% 429s)`,
    20018: `${CAPACITY_HEAVY} (79.0% util, 0.49% 429s)`,
    20019: `${CAPACITY_HEAVY} (86.5% util, 0.52% 429s)`,
  },
};

describe('quota controller on the family of issue 19 (virtual time)', () => {
  it(`draws ${Object.values(MEMBERS).reduce((a, b) => a + b, 0)} members`, () => {
    expect(Object.values(MEMBERS).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(200);
  });

  for (const [variant, count] of Object.entries(MEMBERS) as Array<[Variant, number]>) {
    it(`${variant}: ${count} members meet the targets, or are the listed misses`, () => {
      const unexpected: string[] = [];
      const fixed: string[] = [];
      for (let i = 0; i < count; i++) {
        const seed = SEED0 + i;
        const c = drawCase(variant, seed);
        const v = runCase(c);
        expect(v.result.lost, v.line).toBe(0);
        const known = MISSES[variant]?.[seed];
        if (!v.ok && known === undefined) unexpected.push(v.line);
        if (v.ok && known !== undefined) fixed.push(`${v.line} (listed as a miss: ${known})`);
      }
      expect(unexpected, `members that miss the targets:\n${unexpected.join('\n')}`).toEqual([]);
      expect(fixed, `listed misses that now meet the targets (update MISSES):\n${fixed.join('\n')}`).toEqual([]);
    });
  }

  // The lead's case (issue 19, round 2): no quota, 20% of requests a bare 429 at any rate, 16 in
  // flight. Every round cut the rate (HEAD: 0.04× and 0.14× of no limiter on 4,000 records at 30 and
  // 300 ms) and the crawl's rate was kept for the next run. A cut does not lower their share: they
  // are the background, the rate is undone, and nothing is kept. (200 records at 5 ms are over
  // before the trial's two steps are: 0.3× of no limiter in 3.5 virtual s, 0.23× before.)
  it('bare 429s at 20% whatever the rate (no quota) are the background: no crawl, no rate kept', () => {
    for (const [records, latencyMs, least] of [[200, 5, 0], [4000, 30, 0.8], [4000, 300, 0.8]]) {
      const m: Member = {
        seed: 7, processes: 1, concurrency: 16, records, latencyMs, netMs: 1, known: false, describe: `no quota, 20% bare 429s, ${records} records, ${latencyMs} ms`,
        server: { enforcement: { kind: 'none' }, schedule: [[0, 100]], retry: 'none', details: false, quotaValue: false, capacity429: 0.2 },
      };
      const r = simulate(m);
      const free = simulate(m, { limiter: false });
      expect(r.lost, m.describe).toBe(0);
      expect(r.throughput98 / free.throughput98, m.describe).toBeGreaterThanOrEqual(least);
      expect(r.confirmed, m.describe).toBe(false);
      expect(r.notes, m.describe).toContain('bare-background');
    }
  });
});
