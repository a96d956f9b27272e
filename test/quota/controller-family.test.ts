// The quota controller against the family of issue 19, in virtual time: ≥ 200 members drawn at
// random (seeded) from the family — token buckets (50 ms-1 s of burst), fixed and sliding windows
// (1-60 s), RetryInfo whole/exact/10 s/none, bodies with or without QuotaFailure/quotaValue, 0-3%
// shared-capacity 429s, a limit halved and restored, latency 20-500 ms, 1-4 processes, short jobs,
// and servers with no quota — each held to the targets (test/quota/sim/family.ts):
//   unknown quota and short jobs: utilisation ≥ 90%, quota 429s < 2% of requests;
//   known quota (--rpm, or quotaValue): ≥ 97% (capacity-refused counted as admitted), < 0.5%;
//   a limit halved and restored: ≥ 85%, < 2%; sharing processes: ≥ 90%, < 2%;
//   no quota: ≥ 0.9× the throughput of no limiter; and no record ever lost.
// The seeds are not those the controller was tuned on (1-300). Members that miss are listed in
// MISSES with what they measured and why: the test fails if another member misses (a regression)
// or if a listed one meets the targets (the list is then out of date) — nothing is left out quietly.

import { describe, expect, it } from 'vitest';
import { drawCase, runCase, type Variant } from './sim/family.js';

const SEED0 = 20_001;
const MEMBERS: Record<Variant, number> = { unknown: 60, short: 40, known: 30, changing: 30, shared: 35, noquota: 10 };

/** Known misses: variant → seed → why (the figures are in the failure message when one changes). */
const MISSES: Partial<Record<Variant, Record<number, string>>> = {};

describe('quota controller on the family of issue 19 (virtual time)', () => {
  it(`draws ${Object.values(MEMBERS).reduce((a, b) => a + b, 0)} members`, () => {
    expect(Object.values(MEMBERS).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(200);
  });

  for (const [variant, count] of Object.entries(MEMBERS) as Array<[Variant, number]>) {
    it(`${variant}: ${count} members meet the targets`, () => {
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
});
