// A discrete-event simulation of gempipe's sending side against a server model, in virtual time:
// N processes, each with `concurrency` slots working through a share of the records, a
// QuotaController each, and one pacer (shared, as Bottleneck's cluster is under --redis) that
// releases waiting requests spaced at the rate. It mirrors limiter.ts's order — a request's own
// hold, the gate (blocked), the probe window, the pacer, the gate again — with timer lateness and
// network delay, and measures on the server's side: utilisation, the 429s, records per attempt.

import { KNOWN_AIM, QuotaController, type QuotaControllerOptions } from '../../../src/quota/controller.js';
import { createServer, rng, type Member } from './servers.js';

class Heap {
  #t: number[] = [];
  #f: Array<() => void> = [];
  #seq: number[] = [];
  #n = 0;
  get size(): number {
    return this.#t.length;
  }
  push(t: number, f: () => void): void {
    this.#t.push(t);
    this.#f.push(f);
    this.#seq.push(this.#n++);
    let i = this.#t.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }
  pop(): [number, () => void] {
    const t = this.#t[0];
    const f = this.#f[0];
    const last = this.#t.length - 1;
    this.#swap(0, last);
    this.#t.pop();
    this.#f.pop();
    this.#seq.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.#t.length && this.#less(l, m)) m = l;
      if (r < this.#t.length && this.#less(r, m)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return [t, f];
  }
  #less(a: number, b: number): boolean {
    return this.#t[a] < this.#t[b] || (this.#t[a] === this.#t[b] && this.#seq[a] < this.#seq[b]);
  }
  #swap(a: number, b: number): void {
    [this.#t[a], this.#t[b]] = [this.#t[b], this.#t[a]];
    [this.#f[a], this.#f[b]] = [this.#f[b], this.#f[a]];
    [this.#seq[a], this.#seq[b]] = [this.#seq[b], this.#seq[a]];
  }
}

export interface SimResult {
  member: Member;
  records: number;
  done: number;
  successes: number;
  requests: number;
  quota429: number;
  capacity429: number;
  /** Records whose answer never came (none may). */
  lost: number;
  /** Successes ÷ what the quota allowed from the first request to the 98th-percentile success. */
  utilisation: number;
  /** The same, counting requests the quota admitted but shared capacity refused (they used quota). */
  utilisationAdmitted: number;
  /** Records done a second, from the first request to the last answer. */
  throughput: number;
  /** The same up to the 98th-percentile success (a few records' long backoffs do not decide it). */
  throughput98: number;
  /** Quota 429s ÷ requests. */
  share429: number;
  firstRequest: number;
  p98: number;
  end: number;
  notes: string[];
  /** Some process's controller holds the rate found as the quota's (else it is not kept, learned.ts). */
  confirmed: boolean;
  /** Quota 429s in the first 3 s. */
  early429: number;
  /** Rate over time (per second buckets) for eyeballing. */
  timeline?: Array<{ t: number; ok: number; q429: number; rate: number | undefined; blocked: boolean }>;
}

export interface SimOptions {
  controller?: QuotaControllerOptions;
  maxVirtualMs?: number;
  timeline?: boolean;
  /** --rpm: the limit is known from the start. */
  knownRpm?: number;
  /** false: no limiter at all (only the slots), as --rpm off: the yardstick for a server with no quota. */
  limiter?: boolean;
}

export function simulate(member: Member, opts: SimOptions = {}): SimResult {
  const useLimiter = opts.limiter !== false;
  const server = createServer(member.server, member.seed);
  const random = rng(member.seed * 7 + 1);
  const heap = new Heap();
  let now = 0;
  const at = (t: number, f: () => void) => heap.push(Math.max(t, now), f);
  let requests = 0;
  let quota429 = 0;
  let early429 = 0;
  let capacity429 = 0;
  const successTimes: number[] = [];
  const capacityTimes: number[] = [];
  let firstRequest = -1;
  let remaining = member.records;
  let done = 0;
  const timeline: SimResult['timeline'] = [];

  // The pacer: one for all processes (a cluster), releasing one waiter per interval.
  const pacerQueue: Array<() => void> = [];
  let pacerNext = 0;
  let pacerArmed = false;
  let pacerRate: number | undefined;
  const pacerBound = new Set<number>();
  function pacerTake(proc: number, go: () => void): void {
    pacerQueue.push(go);
    pacerBound.add(proc);
    armPacer();
  }
  function armPacer(): void {
    if (pacerArmed || pacerQueue.length === 0) return;
    pacerArmed = true;
    const t = Math.max(now, pacerNext);
    // Timers fire late by up to 1.5 ms.
    at(t + random() * 1.5, () => {
      pacerArmed = false;
      // Blocked: whoever waits goes back to the gate now, taking no slot of the pace.
      if (procs.some((q) => q.c.blocked)) {
        for (const go of pacerQueue.splice(0)) go();
        return;
      }
      if (pacerQueue.length === 0) return;
      const go = pacerQueue.shift()!;
      const rate = pacerRate ?? 1000;
      pacerNext = Math.max(pacerNext, now - 1.5) + 1000 / rate;
      go();
      armPacer();
    });
  }

  const procs = Array.from({ length: member.processes }, (_, p) => {
    const c = new QuotaController(0, { ...opts.controller, shared: member.processes > 1 }, opts.knownRpm ? { perSec: (opts.knownRpm / 60) * KNOWN_AIM, limit: true } : undefined);
    c.peers = member.processes - 1;
    return { p, c, lastRate: undefined as number | undefined, inFlight: 0, gateWaiters: [] as Array<() => void>, windowWaiters: [] as Array<() => void>, gateArmed: -1, notes: new Set<string>(), active: 0, parked: 0, ready: [] as Array<() => void> };
  });
  type Proc = (typeof procs)[number];

  // The quota bus: each process's decisions reach the others 2 ms later (a Redis publish).
  function share(from: Proc): void {
    const news = from.c.news.splice(0);
    if (procs.length === 1 || news.length === 0) return;
    at(now + 2, () => {
      for (const q of procs) {
        if (q === from) continue;
        for (const n of news) q.c.adopt(now, n);
        q.c.news.splice(0);
        wake(q);
      }
      syncPacer();
    });
  }
  function syncPacer(): void {
    // The shared rate is a setting in Redis: the last process to change its rate wrote it.
    for (const q of procs) {
      if (q.c.perSec !== q.lastRate) {
        q.lastRate = q.c.perSec;
        pacerRate = q.c.perSec;
      }
    }
  }
  function wake(q: Proc): void {
    const ws = q.gateWaiters.splice(0);
    for (const w of ws) at(now, w);
    while (q.windowWaiters.length > 0 && (q.c.perSec !== undefined || q.inFlight < Math.floor(q.c.window))) {
      q.inFlight++;
      const w = q.windowWaiters.shift()!;
      at(now, w);
    }
  }

  // Ticks: growth every 50 ms.
  const tick = () => {
    for (const q of procs) {
      const bound = pacerBound.has(q.p) || q.windowWaiters.length > 0;
      q.c.tick(now, bound);
      share(q);
    }
    pacerBound.clear();
    for (const q of procs) if (pacerQueue.length > 0) pacerBound.add(q.p);
    syncPacer();
    if (done < member.records) at(now + 50, tick);
  };
  at(50, tick);

  let secOk = 0;
  let sec429 = 0;
  if (opts.timeline) {
    const sample = () => {
      timeline.push({ t: now / 1000, ok: secOk, q429: sec429, rate: procs[0].c.perSec, blocked: procs[0].c.blocked });
      secOk = 0;
      sec429 = 0;
      if (done < member.records) at(now + 1000, sample);
    };
    at(1000, sample);
  }

  function attempt(q: Proc, holdUntil: number, backoffs: number): void {
    if (holdUntil > now) {
      at(holdUntil, () => attempt(q, 0, backoffs));
      return;
    }
    const g = useLimiter ? q.c.gate(now) : 0;
    if (g > 0) {
      q.gateWaiters.push(() => attempt(q, 0, backoffs));
      if (q.gateArmed <= now || g < q.gateArmed) {
        q.gateArmed = g;
        at(g, () => wake(q));
      }
      return;
    }
    let slot = false; // holds a place in the probe window
    const viaWindow = (next: () => void) => {
      if (!useLimiter || q.c.perSec !== undefined) return next();
      slot = true;
      if (q.inFlight < Math.floor(q.c.window) && q.windowWaiters.length === 0) {
        q.inFlight++;
        return next();
      }
      q.windowWaiters.push(next);
    };
    const probing = q.c.blocked; // the gate let this one through as the probe
    viaWindow(() => {
      const send = () => {
        // The gate again: blocked while this one waited for the pacer: its slot is spent.
        if (useLimiter && !probing && q.c.blocked) {
          release(q, slot);
          return attempt(q, 0, backoffs);
        }
        const sentAt = now;
        if (firstRequest < 0) firstRequest = sentAt;
        q.c.sent(sentAt);
        requests++;
        const arrival = sentAt + member.netMs + random() * 2;
        at(arrival, () => {
          const a = server.arrive(now);
          if (a.admitted) {
            const latency = member.latencyMs * (0.8 + 0.4 * random());
            at(now + latency + member.netMs, () => {
              q.c.ok(now, sentAt);
              release(q, slot);
              successTimes.push(now);
              secOk++;
              done++;
              share(q);
              syncPacer();
              q.active--;
              nextRecord(q);
            });
            return;
          }
          if (a.quota429) {
            quota429++;
            if (now - firstRequest < 3000) early429++;
          }
          else {
            capacity429++;
            capacityTimes.push(now);
          }
          sec429++;
          at(now + member.netMs, () => {
            const hold = q.c.refused(now, sentAt, { details: !!a.details, retryDelayMs: a.retryDelayMs, perMinute: a.perMinute });
            release(q, slot);
            share(q);
            syncPacer();
            const until = 'ms' in hold ? now + hold.ms : now + Math.min(30_000, 1000 * 2 ** backoffs) * random();
            const nextBackoffs = 'ms' in hold ? backoffs : backoffs + 1;
            if (until > now + 50 && q.parked < member.concurrency) {
              // Parked: waits outside the slots; its slot takes the next record meanwhile.
              q.parked++;
              q.active--;
              nextRecord(q);
              at(until, () => {
                q.parked--;
                const resume = () => {
                  q.active++;
                  attempt(q, 0, nextBackoffs);
                };
                if (q.active < member.concurrency) resume();
                else q.ready.push(resume);
              });
              return;
            }
            attempt(q, until, nextBackoffs);
          });
        });
      };
      // The probe of a blocked quota does not queue behind requests that will not go.
      if (useLimiter && q.c.perSec !== undefined && !probing) {
        syncPacer();
        pacerTake(q.p, send);
      } else send();
    });
  }
  function release(q: Proc, slot: boolean): void {
    if (slot) q.inFlight = Math.max(0, q.inFlight - 1);
    wake(q);
  }
  function nextRecord(q: Proc): void {
    if (q.active >= member.concurrency) return;
    // A parked record whose wait is over goes first.
    const r = q.ready.shift();
    if (r) return r();
    if (remaining <= 0) return;
    remaining--;
    q.active++;
    attempt(q, 0, 0);
  }

  for (const q of procs) for (let i = 0; i < member.concurrency; i++) at(random() * 5, () => nextRecord(q));
  const limit = opts.maxVirtualMs ?? 3_600_000;
  while (heap.size > 0 && done < member.records) {
    const [t, f] = heap.pop();
    if (t > limit) break;
    now = t;
    f();
  }
  successTimes.sort((a, b) => a - b);
  const p98 = successTimes.length > 0 ? successTimes[Math.max(0, Math.ceil(successTimes.length * 0.98) - 1)] : 0;
  const inP98 = successTimes.filter((t) => t <= p98).length;
  const allowed = server.allowed(Math.max(0, firstRequest), p98);
  const capacityInP98 = capacityTimes.filter((t) => t <= p98).length;
  const last = successTimes.length > 0 ? successTimes[successTimes.length - 1] : 0;
  const notes = new Set<string>();
  for (const q of procs) for (const n of q.c.notes) notes.add(n);
  return {
    member, records: member.records, done, successes: successTimes.length, requests, quota429, capacity429,
    lost: member.records - done, utilisation: allowed > 0 ? inP98 / allowed : 0, share429: requests > 0 ? quota429 / requests : 0,
    utilisationAdmitted: allowed > 0 ? (inP98 + capacityInP98) / allowed : 0,
    throughput: last > firstRequest ? (done * 1000) / (last - firstRequest) : 0,
    throughput98: p98 > firstRequest ? (inP98 * 1000) / (p98 - firstRequest) : 0,
    firstRequest, p98, end: now, notes: [...notes], confirmed: procs.some((q) => q.c.confirmed), early429, timeline: opts.timeline ? timeline : undefined,
  };
}
