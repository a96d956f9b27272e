// SendLog: what was sent and what came of it, for the QuotaController's measures. Per 25 ms of
// send time (a ring of 120 s): requests sent and refused by the quota — this process's own and,
// sharing the quota, the others' (so each measures the whole stream) — and the last requests in
// send order (runs of refusals, the probe's end). Pure: told the times.

/** A slot of send time. */
export const SLOT_MS = 25;
/** 120 s of send time. */
const SLOTS = 4800;

export const PENDING = 0;
export const OK = 1;
export const REFUSED = 2;

export interface Sent {
  at: number;
  state: 0 | 1 | 2;
  /** Sent at a paced rate, after the last rate decision. */
  paced: boolean;
}

export class SendLog {
  /** Per slot: sent, refused by the quota (all processes). */
  readonly #sentIn = new Float64Array(SLOTS);
  readonly #refusedIn = new Float64Array(SLOTS);
  readonly #slotAt = new Float64Array(SLOTS).fill(-1);
  /** This process's own share of them (what it tells the others). */
  readonly #ownSent = new Float64Array(SLOTS);
  readonly #ownRefused = new Float64Array(SLOTS);
  #pubNext = -1;
  /** The last requests sent, in send order. */
  readonly log: Sent[] = [];
  firstSent = -1;
  lastSent = -Infinity;

  /** A request leaves now. */
  sent(now: number, paced: boolean): void {
    if (this.firstSent < 0) this.firstSent = now;
    this.lastSent = now;
    this.#slot(now, true);
    this.log.push({ at: now, state: PENDING, paced });
    if (this.log.length > 1024) this.log.splice(0, 512);
  }

  /** The pending request sent at `sentAt`, if still in the log. */
  find(sentAt: number): Sent | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const s = this.log[i];
      if (s.at === sentAt && s.state === PENDING) return s;
      if (s.at < sentAt) return undefined;
    }
    return undefined;
  }

  /** The request sent at `sentAt` was refused by the quota (congestion). */
  refused(sentAt: number): void {
    this.#slot(sentAt, false);
  }

  #slot(t: number, sent: boolean): void {
    const k = Math.floor(t / SLOT_MS);
    if (!this.#ready(k)) return;
    const i = k % SLOTS;
    (sent ? this.#sentIn : this.#refusedIn)[i]++;
    (sent ? this.#ownSent : this.#ownRefused)[i]++;
  }

  /** What another process sharing the quota sent and had refused in slot k. */
  add(k: number, sent: number, refused: number): void {
    if (!this.#ready(k)) return;
    this.#sentIn[k % SLOTS] += sent;
    this.#refusedIn[k % SLOTS] += refused;
  }

  #ready(k: number): boolean {
    const i = k % SLOTS;
    if (this.#slotAt[i] === k) return true;
    if (this.#slotAt[i] > k) return false; // older than the ring
    this.#slotAt[i] = k;
    this.#sentIn[i] = 0;
    this.#refusedIn[i] = 0;
    this.#ownSent[i] = 0;
    this.#ownRefused[i] = 0;
    return true;
  }

  /** Sent and refused in the slots of [start, end] (send time). */
  counts(start: number, end: number): { sent: number; refused: number; ms: number } {
    const k1 = Math.floor(end / SLOT_MS);
    const k0 = Math.max(Math.floor(start / SLOT_MS), k1 - SLOTS + 1);
    let sent = 0;
    let refused = 0;
    for (let k = k0; k <= k1; k++) {
      const i = k % SLOTS;
      if (this.#slotAt[i] === k) {
        sent += this.#sentIn[i];
        refused += this.#refusedIn[i];
      }
    }
    return { sent, refused, ms: Math.max(SLOT_MS, end - start) };
  }

  /** Requests sent since `since`. */
  sentSince(since: number): number {
    return this.counts(since, this.lastSent).sent;
  }

  /**
   * The last requests sent (at a paced rate, when `paced`) were all refused, none pending between:
   * at least `need` of them.
   */
  inARow(paced: boolean, need: number): boolean {
    let run = 0;
    for (let i = this.log.length - 1; i >= 0; i--) {
      const s = this.log[i];
      if (s.state === PENDING && run === 0) continue; // newer than the run: not known yet
      if (s.state !== REFUSED || (paced && !s.paced)) return false;
      if (++run >= need) return true;
    }
    return false;
  }

  /** Of the requests in the log sent since `from`: how many, refused, the last one's send time. */
  since(from: number): { sent: number; refused: number; last: number } {
    let sent = 0;
    let refused = 0;
    let last = from;
    for (const x of this.log) {
      if (x.at < from) continue;
      sent++;
      last = x.at;
      if (x.state === REFUSED) refused++;
    }
    return { sent, refused, last };
  }

  /** This process's own sends since `since` (from the log). */
  ownSince(since: number): number {
    let n = 0;
    for (const x of this.log) if (x.at >= since) n++;
    return n;
  }

  /** Sharing the quota: this process's slots before `upTo`, once (undefined: nothing new sent). */
  publish(upTo: number): { from: number; sent: number[]; refused: number[] } | undefined {
    if (this.#pubNext < 0) this.#pubNext = Math.floor(this.firstSent / SLOT_MS);
    if (this.firstSent < 0 || upTo <= this.#pubNext) return undefined;
    const from = Math.max(this.#pubNext, upTo - 40);
    const sent: number[] = [];
    const refused: number[] = [];
    for (let k = from; k < upTo; k++) {
      const i = k % SLOTS;
      const mine = this.#slotAt[i] === k;
      sent.push(mine ? this.#ownSent[i] : 0);
      refused.push(mine ? this.#ownRefused[i] : 0);
    }
    this.#pubNext = upTo;
    return sent.some((x) => x > 0) ? { from, sent, refused } : undefined;
  }
}
