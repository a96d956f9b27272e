// Server models for the quota controller's virtual-time tests: the family of ways a server, a
// proxy or a gateway enforces a request limit (issue 19), written from that description and not
// from our emulator. A model is told when a request arrives (ms, virtual) and answers whether it
// was admitted, and if not, the 429 the client reads: RetryInfo in one of four styles, with or
// without QuotaFailure details. It also says what the quota allowed over a span (utilisation).

import { seededRandom } from '../../../src/util/seeded-random.js';

/** Seeded generator (mulberry32, the house's one: util/seeded-random.ts): the same seed draws the same member. */
export const rng = seededRandom;

export type Enforcement =
  | { kind: 'bucket'; burstMs: number }
  | { kind: 'fixed'; windowMs: number; phaseMs: number }
  | { kind: 'sliding'; windowMs: number }
  /** No quota at all: every request is admitted (for "default flags do not slow a fast server"). */
  | { kind: 'none' };

/**
 * How a 429's RetryInfo reads: whole seconds rounded up (Google's documented bodies), rounded down
 * (bodies seen from the real service: "Please retry in 24.0469s" with "24s"; "0s" under a second),
 * exact, always 10 s, absent.
 */
export type RetryStyle = 'whole' | 'floor' | 'exact' | 'fixed10' | 'none';

export interface ServerSpec {
  enforcement: Enforcement;
  /** The limit, requests a second, as a schedule: [from ms, rate] (first entry at 0). */
  schedule: Array<[number, number]>;
  retry: RetryStyle;
  /** 429 bodies carry QuotaFailure (quotaId); false: a bare "Resource has been exhausted". */
  details: boolean;
  /** QuotaFailure names the limit (quotaValue). */
  quotaValue: boolean;
  /** Share of admitted requests answered a bare 429 anyway (shared capacity). */
  capacity429: number;
}

export interface Answer {
  admitted: boolean;
  /** A refusal by the quota (counted against the < 2% target), not an injected capacity 429. */
  quota429?: boolean;
  /** What the client reads from the 429's body. */
  retryDelayMs?: number;
  details?: boolean;
  perMinute?: number;
}

export interface ServerModel {
  arrive(t: number): Answer;
  /** Requests the quota allowed over [t0, t1]: the integral of the rate (its long-run admissions). */
  allowed(t0: number, t1: number): number;
  spec: ServerSpec;
}

export function rateAt(schedule: Array<[number, number]>, t: number): number {
  let r = schedule[0][1];
  for (const [from, rate] of schedule) if (t >= from) r = rate;
  return r;
}

export function createServer(spec: ServerSpec, seed: number): ServerModel {
  const random = rng(seed ^ 0x9e3779b9);
  const e = spec.enforcement;
  // The enforcer's state.
  let level = -1; // bucket tokens (set on first arrival: a full bucket)
  let last = 0;
  let windowIndex = Number.NaN;
  let used = 0;
  const admittedTimes: number[] = [];
  let head = 0;

  /** 0 if admitted, else the true ms until capacity frees. */
  function take(t: number): number {
    const rate = rateAt(spec.schedule, t) / 1000; // per ms
    if (e.kind === 'none') return 0;
    if (e.kind === 'bucket') {
      const capacity = Math.max(1, rate * e.burstMs);
      if (level < 0) level = capacity;
      else level = Math.min(capacity, level + (t - last) * rate);
      last = t;
      if (level >= 1) {
        level -= 1;
        return 0;
      }
      return Math.max(1, (1 - level) / rate);
    }
    const limit = Math.max(1, Math.round(rate * e.windowMs));
    if (e.kind === 'fixed') {
      const w = Math.floor((t + e.phaseMs) / e.windowMs);
      if (w !== windowIndex) {
        windowIndex = w;
        used = 0;
      }
      if (used < limit) {
        used++;
        return 0;
      }
      return Math.max(1, (w + 1) * e.windowMs - e.phaseMs - t);
    }
    while (head < admittedTimes.length && admittedTimes[head] <= t - e.windowMs) head++;
    if (head > 65_536) {
      admittedTimes.splice(0, head);
      head = 0;
    }
    const inWindow = admittedTimes.length - head;
    if (inWindow < limit) {
      admittedTimes.push(t);
      return 0;
    }
    // Room comes when the oldest of the `limit` newest leaves the window.
    return Math.max(1, admittedTimes[admittedTimes.length - limit] + e.windowMs - t);
  }

  function retryDelay(trueMs: number): number | undefined {
    switch (spec.retry) {
      case 'whole': return Math.ceil(trueMs / 1000) * 1000;
      case 'floor': return Math.floor(trueMs / 1000) * 1000;
      case 'exact': return Math.round(trueMs);
      case 'fixed10': return 10_000;
      case 'none': return undefined;
    }
  }

  return {
    spec,
    arrive(t) {
      const wait = take(t);
      if (wait > 0) {
        const perMinute = spec.details && spec.quotaValue ? Math.round(rateAt(spec.schedule, t) * 60) : undefined;
        return { admitted: false, quota429: true, retryDelayMs: retryDelay(wait), details: spec.details, perMinute };
      }
      if (spec.capacity429 > 0 && random() < spec.capacity429) return { admitted: false, quota429: false, details: false };
      return { admitted: true };
    },
    allowed(t0, t1) {
      // The integral of the scheduled rate over [t0, t1].
      let sum = 0;
      const points = [t0, ...spec.schedule.map(([from]) => from).filter((f) => f > t0 && f < t1), t1];
      for (let i = 0; i + 1 < points.length; i++) sum += rateAt(spec.schedule, points[i]) * (points[i + 1] - points[i]) / 1000;
      return sum;
    },
  };
}

/** A member of the family, drawn from the seed: what the property test runs against. */
export interface Member {
  seed: number;
  server: ServerSpec;
  /** Client side: processes sharing the quota, slots each, records in all, latency. */
  processes: number;
  concurrency: number;
  records: number;
  latencyMs: number;
  netMs: number;
  /** The limit is known to the client (--rpm, or quotaValue): tighter targets. */
  known: boolean;
  describe: string;
}

export function drawMember(seed: number, opts: { known?: boolean; changing?: boolean; processes?: number } = {}): Member {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const between = (a: number, b: number) => a + r() * (b - a);
  const kind = pick(['bucket', 'bucket', 'fixed', 'sliding'] as const);
  const rate = Math.round(between(40, 200));
  let enforcement: Enforcement;
  if (kind === 'bucket') enforcement = { kind, burstMs: Math.round(Math.exp(between(Math.log(50), Math.log(1000)))) };
  else {
    const windowMs = pick([1000, 1000, 2000, 5000, 10_000, 30_000, 60_000]);
    enforcement = kind === 'fixed' ? { kind, windowMs, phaseMs: Math.floor(r() * windowMs) } : { kind, windowMs };
  }
  const windowMs = enforcement.kind === 'bucket' ? 1000 : enforcement.windowMs;
  // Long enough for several windows, and for a changed limit to be found and to come back.
  const durationMs = Math.max(60_000, 6 * windowMs) * (opts.changing ? 1.5 : 1);
  const schedule: Array<[number, number]> = opts.changing
    ? [[0, rate], [Math.round(durationMs / 3), rate / 2], [Math.round((2 * durationMs) / 3), rate]]
    : [[0, rate]];
  const details = r() < 0.7;
  const server: ServerSpec = {
    enforcement, schedule,
    retry: pick(['whole', 'whole', 'exact', 'fixed10', 'none'] as const),
    details,
    quotaValue: details && !!opts.known,
    capacity429: r() < 0.5 ? 0 : Math.round(between(0, 0.03) * 1000) / 1000,
  };
  // A third of whole-second RetryInfo is rounded down, as real bodies are (drawn apart, so that
  // every other draw of a seed stays what it was).
  if (server.retry === 'whole' && rng(seed ^ 0x5f3759df)() < 1 / 3) server.retry = 'floor';
  const processes = opts.processes ?? 1;
  const latencyMs = Math.round(between(20, 500));
  const records = Math.round((rate * durationMs) / 1000 * (opts.changing ? 0.75 : 1));
  // Enough slots for the rate at this latency (Little's law) and then some: the quota binds.
  const concurrency = Math.max(16, Math.ceil((rate / processes) * (latencyMs / 1000) * 2.5));
  const e = enforcement.kind === 'bucket' ? `bucket ${enforcement.burstMs} ms` : `${enforcement.kind} ${enforcement.windowMs / 1000} s`;
  return {
    seed, server, processes, concurrency, records, latencyMs, netMs: Math.round(between(1, 15)), known: !!opts.known,
    describe: `seed ${seed}: ${rate}/s ${e}${opts.changing ? ' halved mid-run' : ''}, RetryInfo ${server.retry}, ${details ? 'QuotaFailure' : 'bare 429s'}${server.quotaValue ? ' + quotaValue' : ''}, capacity 429s ${(server.capacity429 * 100).toFixed(1)}%, latency ${latencyMs} ms, ${processes} process(es) × ${concurrency}, ${records} records`,
  };
}
