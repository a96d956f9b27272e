// The family of issue 19 as test cases: a variant (how the client meets the quota) and a seeded
// member of the server family, with the targets the member must meet. Shared by the property test
// (test/quota/controller-family.test.ts) and the exploring tools (explore.test.ts, sweep.test.ts).

import { drawMember, rateAt, rng, type Member } from './servers.js';
import { simulate, type SimOptions, type SimResult } from './simulate.js';

export type Variant = 'unknown' | 'short' | 'known' | 'changing' | 'shared' | 'noquota' | 'capacity';
export const VARIANTS: Variant[] = ['unknown', 'short', 'known', 'changing', 'shared', 'noquota', 'capacity'];

export interface Case {
  variant: Variant;
  member: Member;
  /** --rpm given (the limit known from the start). */
  knownRpm?: number;
  /** Targets: utilisation at least, quota 429s ÷ requests under. */
  minUtilisation: number;
  max429: number;
  /** The known-quota target counts capacity-refused requests as admitted (they used quota). */
  admittedCounts: boolean;
  /** Measured against the same member with no limiter (--rpm off): a server with no quota. */
  versusBare?: boolean;
  describe: string;
}

export function drawCase(variant: Variant, seed: number): Case {
  const r = rng(seed * 31 + 7);
  switch (variant) {
    case 'unknown': {
      const m = drawMember(seed);
      return { variant, member: m, minUtilisation: 0.9, max429: 0.02, admittedCounts: false, describe: `unknown, ${m.describe}` };
    }
    case 'short': {
      // The issue's short job: 2,000 prompts, --concurrency 64, 100/s; enough slots for twice the
      // rate at the member's latency (else the slots, not the quota, bound the run).
      const m = drawMember(seed);
      const base = m.server.schedule[0][1];
      m.server.schedule = m.server.schedule.map(([t, x]) => [t, (x / base) * 100]);
      m.records = 2000;
      m.concurrency = 64;
      m.latencyMs = Math.min(m.latencyMs, 320);
      m.describe = m.describe.replace(/^seed \d+: \d+\/s/, `seed ${seed}: 100/s`).replace(/latency \d+ ms, 1 process\(es\) × \d+, \d+ records/, `latency ${m.latencyMs} ms, 1 process(es) × 64, 2000 records`);
      return { variant, member: m, minUtilisation: 0.9, max429: 0.02, admittedCounts: false, describe: `short job, ${m.describe}` };
    }
    case 'known': {
      // Known from --rpm, or learned from a 429's quotaValue (bodies with QuotaFailure only).
      const m = drawMember(seed, { known: true });
      const rpm = !m.server.quotaValue || r() < 0.5 ? rateAt(m.server.schedule, 0) * 60 : undefined;
      return { variant, member: m, knownRpm: rpm, minUtilisation: 0.97, max429: 0.005, admittedCounts: true, describe: `known (${rpm ? `--rpm ${rpm}` : 'quotaValue'}), ${m.describe}` };
    }
    case 'changing': {
      const known = r() < 0.3;
      const m = drawMember(seed, { changing: true, known });
      return { variant, member: m, minUtilisation: 0.85, max429: 0.02, admittedCounts: false, describe: `changing, ${m.describe}` };
    }
    case 'shared': {
      const processes = 2 + Math.floor(r() * 3);
      const m = drawMember(seed, { processes });
      if (r() < 0.25) {
        // The issue's case: a token bucket of 50/s with 50 ms of burst.
        m.server.enforcement = { kind: 'bucket', burstMs: 50 };
        m.server.schedule = [[0, 50]];
        m.records = 3000;
        m.concurrency = Math.max(8, Math.ceil((50 / processes) * (m.latencyMs / 1000) * 2.5));
        m.describe = `seed ${seed}: 50/s bucket 50 ms (the issue's), RetryInfo ${m.server.retry}, ${m.server.details ? 'QuotaFailure' : 'bare 429s'}, capacity 429s ${(m.server.capacity429 * 100).toFixed(1)}%, latency ${m.latencyMs} ms, ${processes} process(es) × ${m.concurrency}, 3000 records`;
      }
      return { variant, member: m, minUtilisation: 0.9, max429: 0.02, admittedCounts: false, describe: `shared, ${m.describe}` };
    }
    case 'noquota': {
      // No quota at all: default flags must stay ≥ 0.9× of no limiter (--rpm off).
      const m = drawMember(seed);
      m.server.enforcement = { kind: 'none' };
      m.server.capacity429 = 0;
      m.latencyMs = Math.round(Math.exp(r() * Math.log(500)));
      m.netMs = Math.round(Math.exp(Math.log(0.2) + r() * (Math.log(15) - Math.log(0.2))) * 10) / 10;
      m.concurrency = [16, 32, 64][Math.floor(r() * 3)];
      m.records = 20_000;
      m.describe = `seed ${seed}: no quota, latency ${m.latencyMs} ms, net ${m.netMs} ms, 1 process × ${m.concurrency}, 20000 records`;
      return { variant, member: m, minUtilisation: 0.9, max429: 0, admittedCounts: false, versusBare: true, describe: `no quota, ${m.describe}` };
    }
    case 'capacity': {
      // Overloaded shared capacity: 5-20% of admitted requests answered a bare 429 whatever the
      // rate. Without a quota the rate must not be cut for them (≥ 0.9× of no limiter); over a
      // quota, what the quota admitted (capacity-refused included: they used it) ≥ 90%, < 2%.
      const m = drawMember(seed);
      const share = Math.round((0.05 + r() * 0.15) * 1000) / 1000;
      m.server.capacity429 = share;
      const none = r() < 0.5;
      if (none) {
        m.server.enforcement = { kind: 'none' };
        m.concurrency = [16, 32, 64][Math.floor(r() * 3)];
        m.records = Math.round(Math.min(6000, (m.concurrency / (m.latencyMs / 1000)) * 30));
      }
      const pct = `capacity 429s ${(share * 100).toFixed(1)}%`;
      m.describe = none
        ? `seed ${seed}: no quota, ${pct}, latency ${m.latencyMs} ms, 1 process × ${m.concurrency}, ${m.records} records`
        : m.describe.replace(/capacity 429s [\d.]+%/, pct);
      return { variant, member: m, minUtilisation: 0.9, max429: none ? 0 : 0.02, admittedCounts: !none, versusBare: none, describe: `heavy capacity 429s, ${m.describe}` };
    }
  }
}

export interface Verdict {
  ok: boolean;
  /** What was measured (utilisation, or the ratio to no limiter for a server with no quota). */
  utilisation: number;
  share429: number;
  result: SimResult;
  line: string;
}

export function runCase(c: Case, opts: SimOptions = {}): Verdict {
  const result = simulate(c.member, { ...opts, knownRpm: c.knownRpm });
  let utilisation = c.admittedCounts ? result.utilisationAdmitted : result.utilisation;
  if (c.versusBare) {
    const bare = simulate(c.member, { limiter: false });
    // (With shared-capacity 429s, up to the 98th-percentile success: the last records' backoffs
    // after bare 429s in a row are the retry policy's, the same with or without a limiter.)
    utilisation = c.variant === 'capacity' ? result.throughput98 / bare.throughput98 : result.throughput / bare.throughput;
  }
  const share429 = result.share429;
  const ok = utilisation >= c.minUtilisation && (c.versusBare ? result.quota429 === 0 : share429 < c.max429) && result.lost === 0;
  const line = `${ok ? '  ' : '✗ '}${c.versusBare ? 'vs no limiter' : 'util'} ${(utilisation * 100).toFixed(1)}% 429 ${(share429 * 100).toFixed(2)}% (${result.quota429}/${result.requests}, early ${result.early429}, cap ${result.capacity429}) lost ${result.lost} end ${(result.end / 1000).toFixed(1)}s notes ${result.notes.join(',')} | ${c.describe}`;
  return { ok, utilisation, share429, result, line };
}
