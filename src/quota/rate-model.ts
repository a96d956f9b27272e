// RateModel: the QuotaController's rate — what it decides from what the server admitted: the cut
// (0.9 × what the server took, weighed over a second, a window's length or the episode), the rate
// to start at after the probe's look, a window's cycle at each reopening, CUBIC-shaped growth, a
// known limit. controller.ts routes the events here; the header there tells the whole loop.

import type { BareBackground } from './bare-429s.js';
import type { Note, QuotaControllerOptions, QuotaNews, RateState } from './controller-types.js';
import { SLOT_MS, type SendLog } from './send-log.js';
import type { WindowGate } from './window-gate.js';

/** Refused (probes, or a RetryInfo countdown) at least this long: a window ran out, not a bucket. */
const WINDOW_BLOCK_MS = 100;
/** Seconds from a cut to the plateau at the level (CUBIC's K for a cut by `cut`). */
const CUBIC_K = 3;

/** What the rate reads and tells: the controller's parts and measures. */
export interface RateContext {
  o: Required<QuotaControllerOptions>;
  log: SendLog;
  gate: WindowGate;
  bare: BareBackground;
  news: QuotaNews[];
  refusalRtt(): number;
  answerRtt(): number;
  peers(): number;
  note(n: Note): void;
}

/** What a rate decision changed, to undo it (bare 429s that turned out to be the background). */
export interface RateSnapshot {
  perSec: number | undefined;
  level: number;
  guess: boolean;
}

export class RateModel {
  /** Requests a second; undefined while probing (only `window` bounds the rate). */
  perSec: number | undefined;
  window: number;
  /** A known limit (requests a second, already aimed under) the rate may not pass. */
  ceiling: number | undefined;
  /** The highest known limit before a 429 named a lower one (growth may go back up to it). */
  limitBefore: number | undefined;
  limitAt = -Infinity;
  /** What the server takes (requests a second, all processes): what the rate grows back to. */
  level = 0;
  /** The level is a guess (little evidence): the rate doubles until a refusal measures it. */
  guess = false;
  /** The last rate decision: a refusal of a request sent before it was answered for by it. */
  cutAt = -Infinity;
  /** The rate the last decision set, and seconds of growth since (callers waiting on the rate). */
  from = 0;
  grown = 0;
  /** Refusal episodes: send time of the first refusal, time of the last. */
  episodeFrom = Infinity;
  episodeLast = -Infinity;
  /** Cycles (reopening to reopening): when this one began. */
  cycleStart = -1;
  /** How long the enforcement remembers what it admitted (a window's length; 0: a bucket). */
  memory = 0;
  /** Until then refusals are the echo of what a window admitted before the last cycle was measured. */
  echoUntil = -Infinity;
  /** After the first cycle: if no refusal comes in its echo by then, the rate is a floor. */
  probation: number | undefined;
  readonly #c: RateContext;

  constructor(c: RateContext, start?: { perSec: number; limit: boolean }) {
    this.#c = c;
    this.window = c.o.initialWindow;
    if (start) {
      this.perSec = Math.max(c.o.minPerSec, start.perSec);
      this.level = this.perSec;
      if (start.limit) this.ceiling = this.perSec;
    }
  }

  /** A known limit from now on (--rpm, or a 429's quotaValue), per second, before aiming under. */
  setLimit(perSec: number, now: number): void {
    const next = Math.max(this.#c.o.minPerSec, perSec * this.#c.o.aim);
    // A limit lowered (a 429 names less than was known): it may come back; growth may probe up to
    // the highest limit known.
    if (this.ceiling !== undefined && next < this.ceiling) this.limitBefore = Math.max(this.limitBefore ?? 0, this.ceiling);
    if (this.limitBefore !== undefined && next >= this.limitBefore) this.limitBefore = undefined;
    this.ceiling = next;
    this.limitAt = now;
    this.perSec = this.ceiling;
    this.level = this.ceiling;
    this.guess = false;
    this.decided(now);
    if (this.#c.gate.look) this.#c.gate.open();
  }

  /** A rate decision now: growth starts again from the rate it set. */
  decided(now: number): void {
    this.#c.bare.reset();
    this.cutAt = now;
    this.from = this.perSec ?? 0;
    this.grown = 0;
  }
  snapshot(): RateSnapshot { return { perSec: this.perSec, level: this.level, guess: this.guess }; }

  /** Undoes a decision: back to `s` (undefined: the probe goes on), or higher if grown since. */
  restore(now: number, s: RateSnapshot): void {
    if (this.ceiling !== undefined) return;
    this.perSec = s.perSec === undefined ? undefined : Math.max(this.perSec ?? 0, s.perSec);
    this.level = Math.max(this.level, s.level);
    this.guess = this.guess || s.guess;
    this.decided(now);
    if (this.#c.o.shared && this.perSec !== undefined) this.#c.news.push({ kind: 'reopen', perSec: this.perSec, level: this.level, state: this.state(now) });
  }

  /** Bare 429s' share did not fall at the rate a cut set: a step lower, to see if it falls then. */
  deeper(now: number): void {
    if (this.perSec === undefined) return;
    this.perSec = this.level = Math.max(this.#c.o.minPerSec, 0.75 * this.perSec);
    this.decided(now);
    if (this.#c.o.shared) this.#c.news.push({ kind: 'cut', perSec: this.perSec, level: this.level, state: this.state(now) });
  }

  /** Growth (every tick): CUBIC's shape, or a guess doubling; only while the rate is in use. */
  grow(now: number, dt: number, bound: boolean): void {
    // (While a cut bare 429s caused is on trial, the rate it set holds: the trial is of it.)
    if (this.perSec === undefined || this.#c.gate.blocked || !bound || this.#c.bare.trying) return;
    // Only a rate in use is evidence: callers waiting on it while something else (slots, the
    // input) holds the sending below it prove nothing about the server.
    if (!this.#c.o.shared) {
      const look = Math.max(1000, 3000 / this.perSec);
      if (this.#c.log.sentSince(now - look) + 1 < 0.85 * this.perSec * Math.min(look, now - this.cutAt) / 1000) return;
    }
    // A window answers a rate only a window later: no growth until the echo of the last one is
    // over, and growth then in the window's time.
    if (this.probation !== undefined && now >= this.probation) {
      this.probation = undefined;
      this.guess = this.ceiling === undefined;
      this.echoUntil = now;
      this.decided(now);
    }
    if (now < this.echoUntil) return;
    this.grown += dt / Math.max(1, Math.min(this.memory, 2 * CUBIC_K * 1000) / (CUBIC_K * 1000));
    if (this.guess) {
      this.perSec *= Math.pow(2, (dt * 1000) / this.#c.o.guessDoublingMs);
    } else {
      // TCP CUBIC's shape, in requests a second: back towards the level the server took (most of
      // the way within a second), a plateau near it, then past it ever faster (the limit may have
      // risen): level × (1 + a (t − K)³), through the rate the last decision set at t = 0.
      const level = this.level;
      const a = (1 - this.#c.o.cut) / CUBIC_K ** 3;
      const K = this.from < level ? Math.cbrt((level - this.from) / (level * a)) : 0;
      const target = level * (1 + a * (this.grown - K) ** 3);
      if (target > this.perSec) this.perSec = Math.min(target, this.perSec * (1 + (this.#c.o.maxProbeGrowth * dt * 1000) / 250));
    }
    if (this.ceiling !== undefined) this.perSec = Math.min(this.perSec, Math.max(this.ceiling, this.limitBefore ?? 0));
  }

  state(now: number): RateState {
    return { guess: this.guess, memory: this.memory, echoMs: Math.max(0, this.echoUntil - now) };
  }

  setState(now: number, s: RateState | undefined): void {
    if (!s) return;
    this.guess = s.guess;
    this.memory = s.memory;
    this.echoUntil = now + s.echoMs;
    this.probation = undefined;
  }

  /** The send time up to which every refusal is back (and, sharing the quota, has been told). */
  known(now: number): number {
    return now - (this.#c.o.shared ? 2 * this.#c.refusalRtt() + 200 : Math.max(5, 1.5 * this.#c.refusalRtt()));
  }

  /** What the server admitted lately, per second (all processes); undefined: too few sent to say. */
  took(now: number): number | undefined {
    const end = this.known(now);
    // Over a second (or time for ten requests at this rate), or a window's length: what a window
    // admitted over its length is its rate.
    // (Sharing the quota, this process sees its share of the requests: as many of its own.)
    const own = (this.perSec ?? 10) / (this.#c.o.shared ? 1 + this.#c.peers() : 1);
    const span = Math.max(1000, Math.min(30_000, 20_000 / own), Math.min(this.memory, 110_000));
    const start = Math.max(end - span, this.#c.log.firstSent);
    const c = this.#c.log.counts(start, end);
    if (c.sent < 8) return undefined;
    let took = ((c.sent - c.refused) * 1000) / Math.max(4 * SLOT_MS, c.ms);
    // Within an episode of refusals, what the server admitted since it began is the sounder
    // measure: a bucket's burst (or the probe's) is behind it by then.
    // (Only while the rate was sent: a pause in it would read as the server taking nothing.)
    if (end - this.episodeFrom >= 100) {
      const e = this.#c.log.counts(this.episodeFrom, end);
      if (this.perSec !== undefined && e.sent >= 0.7 * this.perSec * (e.ms / 1000)) took = Math.min(took, ((e.sent - e.refused) * 1000) / e.ms);
    }
    return took;
  }

  cut(now: number): void {
    const r = this.perSec;
    // Too little sent lately to measure anything: back off by the cut, grow back under the rate.
    const measured = this.took(now);
    if (measured === undefined && this.guess) return; // a guess is already low: it grows till measured
    const took = measured ?? (r !== undefined ? ((1 + this.#c.o.cut) / 2) * r : undefined);
    if (took === undefined) return;
    if (r !== undefined && took >= 1.1 * r && this.ceiling === undefined) {
      // The server took more than this rate over the last second: the refusal is the enforcement
      // remembering what came before it (a probe's burst, a higher rate), not this rate's doing.
      return;
    }
    let next: number;
    if (this.ceiling !== undefined && (took >= 0.9 * Math.min(r ?? this.ceiling, this.ceiling) || now - this.limitAt < 3000)) {
      // A known limit the server takes: trim a little (a window's edge, a timer's jitter).
      next = (r ?? this.ceiling) * 0.97;
      this.level = this.ceiling;
    } else {
      // (A known limit the server takes much less of: the limit is lower now, found as if unknown.)
      // A doubling guess refused: the second it doubled over averages to well under the rate
      // that was refused, which was twice what was not refused half a second ago.
      const took2 = this.guess && r !== undefined ? Math.max(took, 0.6 * r) : took;
      next = Math.min(r ?? Infinity, took2 * this.#c.o.cut);
      // The level growth returns to: what the server took, and under the rate that was refused
      // (refused at its plateau, the server took nearly all of it: the plateau was too high).
      this.level = Math.max(next, Math.min(took2, r !== undefined ? ((1 + this.#c.o.cut) / 2) * r : took2));
    }
    // Never below half in one cut (TCP's bound): a measure that reads nearly nothing is more
    // likely a pause in the sending than a quota gone.
    if (r !== undefined) next = Math.max(next, 0.5 * r);
    this.perSec = Math.max(this.#c.o.minPerSec, next);
    this.guess = false;
    this.decided(now);
    if (this.#c.o.shared) this.#c.news.push({ kind: 'cut', perSec: this.perSec, level: this.level, state: this.state(now) });
  }

  /** The probe's end: what came back says a window ran out (block), or the rate to start at. */
  endLook(now: number): void {
    const { from, retryDelayMs, bare } = this.#c.gate.look!;
    this.#c.gate.open();
    const { sent, refused } = this.#c.log.since(from);
    if (bare && sent >= 4 && refused <= Math.max(0.25, 2 * this.#c.bare.background()) * sent) {
      // Bare 429s scattered among answers: the server's background, not the quota. Probe on.
      this.#c.bare.reset();
      return;
    }
    // What the probe sent lately (the rate that met the limit) and the share of it admitted since
    // the first refusal (with a uniform prior: a few answers say little).
    const look = Math.max(200, this.#c.answerRtt());
    const own = this.#c.log.ownSince(now - look);
    const probeRate = ((own * 1000) / look) * (this.#c.o.shared ? 1 + this.#c.peers() : 1);
    const est = (probeRate * (sent - refused + 1)) / (sent + 2);
    this.episodeFrom = Infinity; // nothing was sent while looking: what is admitted is measured afresh
    this.perSec = Math.max(this.#c.o.minPerSec, est * this.#c.o.cut);
    // Growth goes back towards the probe's rate (concave): a refusal on the way measures the rate.
    // A few answers say little (a probe's first burst refused by a small bucket): the rate then
    // doubles until the next refusal measures it.
    this.level = est;
    this.guess = sent - refused < 8;
    this.decided(now);
    if (sent >= 3 && refused >= 0.8 * sent) this.block(now, retryDelayMs);
    else if (this.#c.o.shared) this.#c.news.push({ kind: 'cut', perSec: this.perSec, level: this.level, state: this.state(now) });
  }

  /** A window ran out: everyone waits (a follower: another process saw it, and probes). */
  block(now: number, retryDelayMs: number | undefined, follower = false): void {
    this.#c.gate.block(now, retryDelayMs, follower);
    if (this.#c.o.shared && !follower) this.#c.news.push({ kind: 'block', reopenInMs: retryDelayMs });
  }

  reopen(now: number): void {
    this.#c.gate.open();
    const span = now - this.cycleStart;
    if (now - this.#c.gate.blockedAt >= WINDOW_BLOCK_MS && this.#c.gate.blockedAt >= this.echoUntil) {
      // Refused for this long, it was a window that ran out (a bucket refills in a moment).
      const c = this.#c.log.counts(this.cycleStart, now);
      const admitted = c.sent - c.refused;
      if (span >= 500 && admitted >= 5) {
        // What the window let through over the cycle since the last reopening is its rate when
        // the cycle is one window (as long as the last one), or the first (from the first
        // request). A longer one spans windows that did not all run out: the level the cut before
        // the block measured (the rate that ran this one out) stands.
        const cycle = ((admitted * 1000) / span);
        const first = this.cycleStart <= this.#c.log.firstSent;
        const one = first || (this.memory > 0 && span <= 1.5 * this.memory);
        const rate = one ? cycle : Math.max(cycle, this.level);
        if (one) this.memory = span;
        // (A known limit stands: the server names it again if it is less now.)
        this.perSec = Math.max(this.#c.o.minPerSec, this.ceiling ?? rate * 0.97);
        this.level = Math.max(this.perSec, rate);
        this.guess = false;
        this.echoUntil = now + this.memory;
        // The first cycle is the window's length for a sliding window (it reopens as the first
        // requests leave it), not for a fixed one (its first reopening falls anywhere). A sliding
        // window refuses some of the probe's echo; no refusal by the end of it: the rate is a
        // floor, and doubles from it (see tick).
        if (first && this.ceiling === undefined) this.probation = now + Math.min(span, 2000);
      }
      this.cycleStart = now;
    }
    this.#c.note('pacing-not-pausing');
    this.episodeFrom = Infinity; // what the server admits is measured afresh: nothing was sent while blocked
    this.episodeLast = -Infinity;
    this.decided(now);
    if (this.#c.o.shared && this.perSec !== undefined) this.#c.news.push({ kind: 'reopen', perSec: this.perSec, level: this.level, state: this.state(now) });
  }
}
