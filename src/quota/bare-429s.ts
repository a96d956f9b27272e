// Bare 429s (no details) may be the quota or the server's shared capacity, which refuses a share
// of requests whatever the rate. The background share is a long average over the answers to
// requests sent outside episodes of congestion (from a prior of 3%); bare 429s are congestion
// when their share runs above it (a CUSUM test: quick for a clear excess, slow to fire on noise).
// A cut they caused is on trial: if their share did not fall at the lower rate, they are the
// background whatever their share (learned then, the cut undone). Pure: told the send times.

/** A run of bare 429s this unlikely from the background alone is the quota. */
const RUN_CHANCE = 1e-4;
/** The test's threshold over a learned background: nats, a false alarm every ~10^4 answers. */
const LEARNED_H = Math.log(1e4);
/** Answers kept (send time, bare) for the trial. */
const RECENT = 1024;

/** A rate decision bare 429s caused, on trial: their share before it, what undoes it. */
interface Trial<T> {
  at: number;
  /** Answers to requests sent from then on are at the new rate (a window's echo is over). */
  settleFrom: number;
  before: { n: number; bare: number };
  undo: T;
  /** The second step: a cut deeper, from a rate whose share did not fall (a bucket's burst may
   * have made the first cut's rate look admitted). */
  second?: boolean;
}

/**
 * Their share fell at the lower rate (the quota); it did not and is high: cut deeper and try again
 * (`deeper`), or after the second step, the background.
 */
export type BareVerdict<T> = { background: false; fell: boolean; deeper?: boolean } | { background: true; share: number; undo: T };

export class BareBackground<T = unknown> {
  #cusum = 0;
  /** Answers not yet counted in the background: send time, bare (pairs). */
  readonly #pending: number[] = [];
  /** The last episodes of congestion: [send time of the first refusal, time of the last]. */
  readonly #episodes: Array<[number, number]> = [];
  #calmAll = 0;
  #calmBare = 0;
  /** The last answers, as they came: send time, bare (pairs). */
  readonly #recent: number[] = [];
  #trial: Trial<T> | undefined;
  /** A trial found bare 429s to be the background. */
  #learned = false;

  /** An answer (bare: a bare 429) to the request sent at `sentAt` (undefined: not in the log). */
  count(bare: 0 | 1, sentAt: number | undefined): void {
    if (sentAt !== undefined) {
      this.#recent.push(sentAt, bare);
      if (this.#recent.length > 2 * RECENT) this.#recent.splice(0, this.#recent.length - 2 * RECENT);
      // Counted once it is clear that no episode of congestion began around it.
      this.#pending.push(sentAt, bare);
      while (this.#pending.length > 0 && this.#pending[0] < sentAt - 2000) {
        const at = this.#pending.shift()!;
        const x = this.#pending.shift()!;
        if (this.#episodes.some(([from, last]) => at >= from - 1000 && at <= last + 1000)) continue;
        this.#calmAll = this.#calmAll * (1 - 1 / 1000) + 1;
        this.#calmBare = this.#calmBare * (1 - 1 / 1000) + x;
      }
    }
    const b = this.background();
    // A background a trial learned is there whatever the rate: twice it is news, told by the log-
    // likelihood ratio (over a high share, a few bare 429s close together are its noise).
    const p1 = Math.min(0.95, 2 * b);
    const step = this.#learned ? (bare ? Math.log(p1 / b) : Math.log((1 - p1) / (1 - b))) : bare - (b + Math.max(0.015, 0.5 * b));
    this.#cusum = Math.max(0, this.#cusum + step);
  }

  /** An episode of congestion begins (its first refused request sent at `sentAt`). */
  begin(sentAt: number, now: number): void {
    this.#episodes.push([sentAt, now]);
    if (this.#episodes.length > 8) this.#episodes.shift();
  }

  /** The current episode goes on: a refusal at `now`. */
  extend(now: number): void {
    if (this.#episodes.length > 0) this.#episodes[this.#episodes.length - 1][1] = now;
  }

  /** A rate decision was made: the test starts afresh. */
  reset(): void {
    this.#cusum = 0;
  }

  background(): number {
    return (this.#calmBare + 3) / (this.#calmAll + 100);
  }

  /** Bare 429s run above the background: congestion. */
  congestion(): boolean {
    return this.#cusum >= (this.#learned ? LEARNED_H : 3);
  }

  /**
   * Bare 429s in a row that mean the quota: `least`, more over a background above 3% — the one
   * learned, or their share among the answers before the last few (a window that runs out refuses
   * after calm; shared capacity refuses a share all along, before a trial has learned it).
   */
  run(least: number): number {
    let n = 0;
    let bare = 0;
    for (let i = this.#recent.length - 2 - 2 * 8; i >= 0 && n < 200; i -= 2, n++) bare += this.#recent[i + 1];
    const b = Math.max(this.background(), n >= 50 ? bare / n : 0);
    return b <= 0.03 ? least : Math.max(least, Math.ceil(Math.log(RUN_CHANCE) / Math.log(Math.min(0.5, b))));
  }

  /** A rate decision bare 429s caused, made at `at` (the first of several stands trial). */
  try(at: number, undo: T, settleFrom = at): void {
    if (this.#trial) return;
    const before = this.#share(at - 2000, at, 50);
    if (before.n >= 20) this.#trial = { at, settleFrom, before, undo };
  }

  #pending2: { undo: T; before: { n: number; bare: number } } | undefined;

  /** The deeper cut a `deeper` verdict asked for was made at `at`: the trial's second step. */
  again(at: number, settleFrom = at): void {
    const p = this.#pending2;
    this.#pending2 = undefined;
    if (p) this.#trial = { at, settleFrom, before: p.before, undo: p.undo, second: true };
  }

  get trying(): boolean {
    return this.#trial !== undefined;
  }

  /** The quota's own evidence (details, a window that ran out) decided: no trial stands. */
  drop(): void {
    this.#trial = undefined;
  }

  /**
   * The trial's verdict once enough answers to requests sent at the new rate came back (undefined:
   * not yet). Their share clearly lower than before, or near the family's 0-3%: the quota. Else,
   * clearly above 3%: the background, learned at that share. Neither after 400 answers or 60 s:
   * the decision stands.
   */
  verdict(now: number): BareVerdict<T> | undefined {
    const t = this.#trial;
    if (!t) return undefined;
    const a = this.#share(t.settleFrom, Infinity, 0);
    if (a.n < 50 && !(a.n >= 30 && now - t.settleFrom > 5000)) {
      if (now - t.settleFrom > 60_000) this.#trial = undefined;
      return undefined;
    }
    const b = t.before;
    const pa = a.bare / a.n;
    const pb = b.bare / b.n;
    const p = (a.bare + b.bare) / (a.n + b.n);
    const se = Math.sqrt(Math.max(p * (1 - p), 1e-4) * (1 / a.n + 1 / b.n));
    // (Fell clearly — to under half — is the quota's evidence; rose is a limit lowered meanwhile.)
    const fell = pa < 0.5 * pb && pb - pa > 3 * se;
    const moved = Math.abs(pb - pa) > 2 * se;
    const high = pa > 0.03 + 2 * Math.sqrt((0.03 * 0.97) / a.n);
    if (!moved && !high && a.n < 400 && now - t.settleFrom < 60_000) return undefined;
    this.#trial = undefined;
    if (moved || !high) return { background: false, fell };
    if (!t.second) {
      this.#pending2 = { undo: t.undo, before: a };
      return { background: false, fell: false, deeper: true };
    }
    // The background, learned now: as if that many calm answers had come at that share.
    this.#calmAll = Math.max(200, a.n);
    this.#calmBare = pa * (this.#calmAll + 100) - 3;
    this.#cusum = 0;
    this.#learned = true;
    return { background: true, share: pa, undo: t.undo };
  }

  /** Answers to requests sent in [from, to) — at least `least`, reaching back 5 s at most. */
  #share(from: number, to: number, least: number): { n: number; bare: number } {
    const xs: Array<[number, number]> = [];
    for (let i = 0; i < this.#recent.length; i += 2) {
      const at = this.#recent[i];
      if (at < to && at >= Math.min(from, to - 5000)) xs.push([at, this.#recent[i + 1]]);
    }
    xs.sort((x, y) => y[0] - x[0]);
    let n = 0;
    let bare = 0;
    for (const [at, x] of xs) {
      if (at < from && n >= least) break;
      n++;
      bare += x;
    }
    return { n, bare };
  }
}
