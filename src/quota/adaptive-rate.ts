// RateController: how fast to send, learned from how the server answers (SPEC §3). Pure: it is
// told the time, answers and 429s, and says the window (requests in flight) and the rate.
//
// - Probe (no 429 yet, no limit known): no rate at all, only a window of requests in flight
//   that starts at `initialWindow` and grows by one per answer (doubling per round trip, as TCP
//   slow start does): a server with no quota is never slowed, and one with a small burst sees
//   a few requests, not --concurrency of them at once.
// - The first 429 sets a rate. Its RetryInfo tells how: a long delay (a window is full until
//   then) makes the rate what the server accepted over the cycle including that delay,
//   N / (elapsed + delay), which is the quota for fixed and sliding windows alike; a short one
//   (a bucket refilling) makes it 0.9 × the answers of the last second. Either way the rate
//   then grows until the next 429 (×4 a second after a guess, ×1.25 after a cycle estimate): a
//   small bucket shows only a small part of the rate at first, a cycle begun mid-window reads low.
// - Then AIMD: a 429 to a request sent after the last cut (plus `graceMs`, which the server
//   needs to see the new rate) cuts to 0.95 × min(rate, answers of the last second); a long
//   delay also bounds it by the cycle estimate; growth is additive (2% of the cut rate a second)
//   and only while the rate binds (callers wait on it: growing a rate nobody uses proves nothing).
// - A known limit (--rpm, a 429's quotaValue, a previous run's learned rate) is a ceiling: the
//   rate starts there and a 429 trims it by 3% (never below 70% of the ceiling), then recovers.
// - A 429 without details (shared capacity, not the quota) only trims: the window halves, or
//   the rate loses 5%.

export interface RateControllerOptions {
  /** Requests in flight before the first answer, in probe mode. @default 4 */
  initialWindow?: number;
  /** @default 0.2 */
  minPerSec?: number;
  /** Additive growth a second, as a fraction of the rate at the last cut. @default 0.02 */
  increasePerSec?: number;
  /** Growth a second after a first cut that was only a guess. @default 4 */
  rampPerSec?: number;
  /** Growth a second after a first cut from a cycle estimate. @default 1.25 */
  rampAfterEstimate?: number;
  /** A 429 to a request sent within this long after a cut does not cut again. @default 300 */
  graceMs?: number;
  /** A RetryInfo delay at least this long means the server's window is full until then. @default 200 */
  longDelayMs?: number;
}

export type RateSource = 'probe' | 'adaptive' | 'limit';

export class RateController {
  /** Requests a second; undefined while probing (only the window bounds the rate). */
  perSec: number | undefined;
  /** Most requests in flight while probing. */
  window: number;
  /** The limit this rate may not pass (requests a second), when one is known. */
  ceiling: number | undefined;
  readonly #o: Required<RateControllerOptions>;
  #cutPerSec = 0; // rate at the last cut (the unit of additive growth)
  #cutAt = -Infinity;
  #ramp = 0; // after the first cut: grow by this factor a second until the next 429 (0: additive)
  #cycleStart: number; // the last pause end (or the start): the cycle estimate counts from here
  #okTimes: number[] = [];
  #okHead = 0;
  #lastTick: number;

  constructor(now: number, options: RateControllerOptions = {}, start?: { perSec: number; limit: boolean }) {
    this.#o = { initialWindow: 4, minPerSec: 0.2, increasePerSec: 0.02, rampPerSec: 4, rampAfterEstimate: 1.25, graceMs: 300, longDelayMs: 200, ...options };
    this.window = this.#o.initialWindow;
    this.#lastTick = now;
    this.#cycleStart = now;
    if (start) {
      this.perSec = Math.max(this.#o.minPerSec, start.perSec);
      this.#cutPerSec = this.perSec;
      if (start.limit) this.ceiling = this.perSec;
    }
  }

  get source(): RateSource {
    return this.ceiling !== undefined ? 'limit' : this.perSec === undefined ? 'probe' : 'adaptive';
  }

  /** A known limit from now on (a 429's quotaValue): the rate jumps to it. */
  setLimit(perSec: number, now: number): void {
    this.ceiling = Math.max(this.#o.minPerSec, perSec);
    this.perSec = this.ceiling;
    this.#cutPerSec = this.ceiling;
    this.#ramp = 0;
    this.#cutAt = now;
  }

  ok(now: number): void {
    this.#okTimes.push(now);
    if (this.perSec === undefined) this.window++;
    if (this.#okTimes.length - this.#okHead > 65_536 || this.#okHead > 65_536) this.#trim(now - 60_000);
  }

  /** Answers at or after `since` (within the last minute). */
  #oksSince(since: number): number {
    let lo = this.#okHead;
    let hi = this.#okTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#okTimes[mid] < since) lo = mid + 1;
      else hi = mid;
    }
    return this.#okTimes.length - lo;
  }

  #trim(before: number): void {
    while (this.#okHead < this.#okTimes.length && this.#okTimes[this.#okHead] < before) this.#okHead++;
    if (this.#okHead > 4096) {
      this.#okTimes = this.#okTimes.slice(this.#okHead);
      this.#okHead = 0;
    }
  }

  /** A pause ordered by the server ended at `t`: the next cycle counts from there. */
  pauseEnds(t: number): void {
    this.#cycleStart = Math.max(this.#cycleStart, t);
  }

  /**
   * A per-minute quota 429 to a request sent at `sentAt`, with the server's RetryInfo delay.
   * Returns true when it changed the rate.
   */
  tooMany(now: number, sentAt: number, retryDelayMs?: number): boolean {
    if (sentAt < this.#cutAt + this.#o.graceMs) return false;
    const lastSecond = this.#oksSince(now - 1000);
    const r = this.perSec;
    let next: number;
    if (this.ceiling !== undefined) {
      next = Math.max(this.ceiling * 0.7, (r ?? this.ceiling) * 0.97);
    } else {
      const long = retryDelayMs !== undefined && retryDelayMs >= this.#o.longDelayMs;
      const span = now - this.#cycleStart + (retryDelayMs ?? 0);
      const accepted = this.#oksSince(this.#cycleStart);
      const cycle = long && span >= 500 && accepted >= 10 ? (accepted / span) * 1000 : undefined;
      if (cycle !== undefined) {
        next = Math.min(r !== undefined ? r * 0.9 : Infinity, cycle * 0.95);
      } else {
        // The answers say what the server took; the rate may be far above that (a ramp that
        // overshot, or a rate that did not bind), so the lower of the two. After a ramp the
        // last second still holds its slow start: the last 250 ms (the server saturated) say more.
        const took = this.#ramp > 0 ? Math.max(lastSecond, this.#oksSince(now - 250) * 4) : lastSecond;
        const base = Math.min(r ?? Infinity, took > 0 ? took : Infinity);
        // The first cut leaves room (the estimate is rough); later ones are near the quota.
        // The first cut leaves room (one look is rough); later ones are near the quota already.
        next = Number.isFinite(base) ? base * (r === undefined ? 0.9 : 0.95) : (r ?? this.window) * 0.7;
      }
      // The first cut is from one look at the server: a cycle that began mid-window reads low,
      // and a small bucket shows a small part of its rate. Ramp until the next 429 says more
      // (gently after a cycle estimate, fast after a guess); every later cut grows additively.
      this.#ramp = r !== undefined ? 0 : cycle !== undefined ? this.#o.rampAfterEstimate : this.#o.rampPerSec;
    }
    this.perSec = Math.max(this.#o.minPerSec, next);
    this.#cutPerSec = this.perSec;
    this.#cutAt = now;
    if (retryDelayMs !== undefined) this.pauseEnds(now + retryDelayMs);
    return true;
  }

  /** A 429 with no details (shared capacity, not this project's quota): trim, never stall. */
  trim(now: number, sentAt: number): boolean {
    if (sentAt < this.#cutAt + this.#o.graceMs) return false;
    this.#cutAt = now;
    if (this.perSec === undefined) {
      this.window = Math.max(1, Math.floor(this.window / 2));
      return false;
    }
    this.perSec = Math.max(this.#o.minPerSec, this.ceiling !== undefined ? Math.max(this.ceiling * 0.7, this.perSec * 0.95) : this.perSec * 0.95);
    this.#cutPerSec = this.perSec;
    this.#ramp = 0;
    return true;
  }

  /** Called every refill tick with whether callers waited on the rate since the last one. */
  tick(now: number, bound: boolean): void {
    const dtSec = Math.max(0, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    if (this.perSec === undefined || !bound || now < this.#cutAt + this.#o.graceMs) return;
    if (this.#ramp > 0) this.perSec *= Math.pow(this.#ramp, dtSec);
    else this.perSec += this.#cutPerSec * (this.ceiling !== undefined ? 0.005 : this.#o.increasePerSec) * dtSec;
    if (this.ceiling !== undefined) this.perSec = Math.min(this.perSec, this.ceiling);
  }
}
