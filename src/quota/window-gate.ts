// WindowGate: the QuotaController's gate. Closed in two cases: while the probe's end is read
// ("look": nothing is sent until what is on the wire is back), and while a window that ran out is
// blocked — one probe at a time goes out, first soon, then at growing gaps; a RetryInfo is waited
// for only once its countdown is seen to hold (a value rounded up to whole seconds stays within a
// second of the time named when the block began; a fixed or made-up one drifts away). Pure.

import type { Note, Refusal } from './controller-types.js';

/** What the gate says: send, wait until a time, or the controller must reopen / end its look. */
export type GateAnswer = { go: true } | { until: number } | { reopen: true } | { endLook: true };

export interface Look {
  /** Send time of the first refused request. */
  from: number;
  until: number;
  retryDelayMs?: number;
  bare: boolean;
}

export class WindowGate {
  blocked = false;
  look: Look | undefined;
  blockedAt = 0;
  /** The reopening the server names now, and the one it named when the block began. */
  expectOpen: number | undefined;
  #firstExpect: number | undefined;
  /** RetryInfo comes in whole seconds (rounded, as Google writes it). */
  #rounded = true;
  /** RetryInfo is a countdown that can be waited for (undefined: not known yet). */
  trust: boolean | undefined;
  #nextProbe = 0;
  #probeGap = 0;
  #probeOut = false;
  #probeSent = -1;

  constructor(readonly firstProbeMs: number, readonly maxProbeMs: number) {}

  answer(now: number, refusalRtt: number): GateAnswer {
    if (!this.blocked) return { go: true };
    if (this.look) return now < this.look.until ? { until: this.look.until } : { endLook: true };
    if (this.expectOpen !== undefined && this.trust !== false && now >= this.expectOpen) return { reopen: true };
    if (this.#probeOut) {
      // A refusal comes back fast, an answer takes the model's time: a probe not refused by
      // the time a refusal would be back was admitted, and the quota is open.
      if (this.#probeSent >= 0) {
        const surely = this.#probeSent + Math.max(20, 3 * refusalRtt);
        return now >= surely ? { reopen: true } : { until: surely };
      }
      return { until: now + this.maxProbeMs }; // told when it is sent
    }
    if (now >= this.#nextProbe) {
      this.#probeOut = true;
      this.#probeSent = -1;
      return { go: true };
    }
    return { until: this.expectOpen !== undefined && this.trust !== false ? Math.min(this.#nextProbe, this.expectOpen) : this.#nextProbe };
  }

  /** The probe's end is read: nothing goes until `look.until`. */
  startLook(look: Look, now: number): void {
    this.look = look;
    this.blocked = true;
    this.blockedAt = now;
  }

  /** Open again (no block, no look). */
  open(): void {
    this.blocked = false;
    this.look = undefined;
    this.#probeOut = false;
  }

  /** A window ran out. A follower (another process saw it) probes only now and then: it may die. */
  block(now: number, retryDelayMs: number | undefined, follower = false): void {
    this.blocked = true;
    this.look = undefined;
    this.blockedAt = now;
    this.#probeOut = false;
    this.#probeGap = this.firstProbeMs;
    this.expectOpen = retryDelayMs !== undefined ? now + retryDelayMs : undefined;
    this.#firstExpect = this.expectOpen;
    if (retryDelayMs !== undefined) this.#rounded = retryDelayMs % 1000 === 0;
    this.#schedule(now);
    if (follower) {
      this.#nextProbe = now + this.maxProbeMs;
      this.#probeGap = this.maxProbeMs;
    }
  }

  #schedule(now: number): void {
    const next = now + this.#probeGap;
    if (this.expectOpen !== undefined && this.trust === true) {
      // A countdown seen to be true: wait for it — probing only within its last second when it
      // is rounded to whole seconds (the time is somewhere in that second; a probe every 100 ms
      // of it), not at all when it is exact.
      const from = this.#rounded ? this.expectOpen - 1000 : this.expectOpen;
      this.#nextProbe = this.#rounded ? Math.max(from, now + 100) : Math.max(next, from);
      return;
    }
    this.#nextProbe = next;
    this.#probeGap = Math.min(this.maxProbeMs, this.#probeGap * 2);
  }

  /** A request left while blocked: the probe. */
  sent(now: number): void {
    if (this.blocked && this.#probeOut && this.#probeSent < 0) this.#probeSent = now;
  }

  /** Whether a request sent at `sentAt` was a probe of the current block. */
  probed(sentAt: number): boolean {
    return this.blocked && !this.look && sentAt >= this.blockedAt;
  }

  /** A probe was admitted; returns a note when that was early against the RetryInfo. */
  admitted(now: number): Note | undefined {
    if (this.expectOpen !== undefined && now < this.expectOpen - 1100 && this.trust !== false) {
      this.trust = false;
      return 'retryinfo-overstated';
    }
    return undefined;
  }

  /** A probe ended otherwise (an error that is not a 429): its place is free. */
  failed(): void {
    this.#probeOut = false;
  }

  /** A probe was refused; returns a note when the RetryInfo was judged by it. */
  refused(now: number, r: Refusal): Note | undefined {
    this.#probeOut = false;
    let note: Note | undefined;
    if (r.retryDelayMs !== undefined) {
      const open = now + r.retryDelayMs;
      if (this.#firstExpect !== undefined && this.trust === undefined && now - this.blockedAt >= 1500) {
        // Does the server count down to the time it named when the block began?
        this.trust = Math.abs(open - this.#firstExpect) <= 1100;
        note = this.trust ? 'retryinfo-trusted' : 'retryinfo-overstated';
      }
      if (this.trust !== false) this.expectOpen = open;
    }
    this.#schedule(now);
    return note;
  }
}
