// QuotaController: how fast to send, learned from what the server answers (SPEC §3). Pure and
// synchronous: every method is told the time, so a test drives it against server models for
// thousands of virtual seconds (test/quota/sim). The limiter (limiter.ts) enforces what it says.
//
// - Probe: no rate yet, only a window of requests in flight that starts at 4 and grows by one per
//   answer (TCP slow start): a server with no quota is never slowed.
// - A congestion 429 (one with quota details; a bare one only when bare 429s come more often than
//   the background rate the server shows anyway) cuts the pacing rate to 0.9 × what the server took
//   in the last second; the rate then grows back towards that (concave), and past it ever faster
//   while no 429 comes (convex), as CUBIC does: a limit that moves is found in both directions.
// - A 429 is not a reason to pause: the request it came with waits out its own RetryInfo. Pausing
//   all is right only when pacing does not stop the 429s — three requests in a row, sent after a
//   cut, all refused: a window that has run out. Then everyone waits ("blocked"), a single probe
//   goes out now and then, and the quota reopens at the RetryInfo's time or at the first probe
//   admitted. Whether RetryInfo can be trusted is learned from the probes: a real countdown agrees
//   with itself; one that overstates (a probe admitted early) or never moves is not waited for.
// - Reopening measures the cycle: answers since the last reopening over its length is the window's
//   rate, whatever the window's length or phase. A known limit (--rpm, quotaValue) is a ceiling.

export interface QuotaControllerOptions {
  /** Requests in flight before the first answer, while probing. @default 4 */
  initialWindow?: number;
  /** @default 0.2 */
  minPerSec?: number;
  /** After the probe's guess, the rate doubles this often until the next refusal. @default 500 */
  guessDoublingMs?: number;
  /** While probing, the window doubles no faster than this. @default 100 */
  minDoublingMs?: number;
  /** While probing, the window grows by this much per answer (1: doubles per round trip). @default 1 */
  windowGrowth?: number;
  /** A cut paces at this share of what the server took lately. @default 0.9 */
  cut?: number;
  /** Refused requests in a row, sent after a cut, that mean a window has run out. @default 3 */
  blockedRun?: number;
  /** While blocked, the first probe after this long, then twice as long each time. @default 100 */
  firstProbeMs?: number;
  /** While blocked, probes at least this often. @default 2000 */
  maxProbeMs?: number;
  /** Past the last cut's level, growth starts at this share a second and doubles every 2 s. @default 0.02 */
  probeGrowth?: number;
  /** @default 0.25 */
  maxProbeGrowth?: number;
  /** A known limit is aimed this far under. @default 0.98 */
  aim?: number;
  /**
   * The quota and the pacer are shared with other processes (--redis): what this process sees is
   * its share, scaled up by the pacing rate over its own sending, and its decisions are `news`
   * for the others to `adopt`. @default false
   */
  shared?: boolean;
}

/** A decision another process sharing the quota acts on as if it had made it. */
export type QuotaNews =
  | { kind: 'cut'; perSec: number; level: number }
  | { kind: 'block'; reopenInMs?: number }
  | { kind: 'reopen'; perSec: number; level: number }
  | { kind: 'limit'; perSec: number };

/** What a 429 says, as classifyError reads it. */
export interface Refusal {
  /** QuotaFailure (a quota id) or "limit: N" in the message: this project's quota. */
  details: boolean;
  /** RetryInfo, ms. */
  retryDelayMs?: number;
  /** The limit named (quotaValue), per minute. */
  perMinute?: number;
}

/** What the caller does with the refused request: wait this long (its own RetryInfo), or back off. */
export type Hold = { ms: number } | { backoff: true };

export type RateSource = 'probe' | 'adaptive' | 'limit';

/** Something the run should say once (stderr, summary). */
export type Note = 'pacing-not-pausing' | 'retryinfo-overstated' | 'retryinfo-trusted' | 'bare-background';

interface Sent {
  at: number;
  /** pending, ok, refused */
  state: 0 | 1 | 2;
  /** Sent after a cut: at a paced rate. */
  paced: boolean;
}

const SLOT_MS = 25;
const SLOTS = 80;
const PENDING = 0;
const OK = 1;
const REFUSED = 2;

export class QuotaController {
  /** Requests a second; undefined while probing (only `window` bounds the rate). */
  perSec: number | undefined;
  window: number;
  /** A known limit (requests a second, already aimed under) the rate may not pass. */
  ceiling: number | undefined;
  /** Everyone waits until the quota reopens (a window ran out). */
  blocked = false;
  readonly notes: Note[] = [];
  /** Other processes known to share the quota now (--redis; told by the caller). */
  peers = 0;
  /** Decisions for the processes sharing the quota (drained by the caller). */
  readonly news: QuotaNews[] = [];

  readonly #o: Required<QuotaControllerOptions>;
  #cutAt = -Infinity;
  /** What the server took when the rate was last cut: the level growth returns to. */
  #level = 0;
  #lastTick: number;
  /** Answers (completion times) over the last minute, for "what the server took". */
  #oks: number[] = [];
  #okHead = 0;
  #lastOkAt: number;
  /** The last requests sent, in send order (for "refused in a row"). */
  #log: Sent[] = [];
  // Sent and refused per 25 ms of send time over the last 2 s: what the server admitted by when it
  // was sent, known as soon as a refusal would have come back (429s are fast; answers are not).
  #sentIn = new Float64Array(SLOTS);
  #refusedIn = new Float64Array(SLOTS);
  #slotAt = new Float64Array(SLOTS).fill(-1);
  /** How long a refusal takes to come back (the slowest lately). */
  #refusalRtt = 50;
  #firstSent = -1;
  #lastSent = 0;
  /** An answer's round trip (moving average). */
  #answerRtt = 500;
  /** The rate was cut from a probe's guess: grow fast until the next 429 measures it. */
  #guess = false;
  /** The first episode of refusals, the one that ended the probe, is not over yet. */
  #leavingProbe = false;
  // Blocked: the reopening the server announced (RetryInfo), the probe schedule.
  #blockedAt = 0;
  #expectOpen: number | undefined;
  #nextProbe = 0;
  #probeGap = 0;
  #probeOut = false;
  /** The probe ended by a refusal: nothing is sent until `until` (see refused()). */
  #look: { from: number; until: number; retryDelayMs?: number } | undefined;
  #lookEstimate: number | undefined;
  /** When the probe left (-1: not yet). */
  #probeSent = -1;
  /** The reopening the server named when the block began. */
  #firstExpect: number | undefined;
  /** RetryInfo comes in whole seconds (rounded up, as Google writes it). */
  #rounded = true;
  /** RetryInfo is a countdown that can be waited for (undefined: not known yet). */
  #trust: boolean | undefined;
  #cycleStart: number;
  /** The rate that ran into the last cut / into the block (undefined: probing). */
  #rateBeforeCut: number | undefined;
  #blockedFrom: number | undefined;
  // Bare 429s: the last 100 answers (1: a bare 429); the background share and its measuring.
  #recent: number[] = [];
  #bareInRecent = 0;
  /** Requests sent from this time (for 2 s) measure the background; counts add up over cuts. */
  #calmFrom = Infinity;
  #calmAll = 0;
  #calmBare = 0;
  #calmShares: number[] = [];
  #lastCycle = 0;
  #reopenFloor = { rate: 0, until: 0 };
  #episodeStart = 0;
  #episodeLast = -Infinity;
  /** How long refusals outlast a cut (ms, moving average): the enforcement's memory. */
  #memory = 0;
  /** A 429 with quota details was seen: the quota speaks that way. */
  #detailed = false;

  constructor(now: number, options: QuotaControllerOptions = {}, start?: { perSec: number; limit: boolean }) {
    this.#o = {
      initialWindow: 4, minPerSec: 0.2, windowGrowth: 1, minDoublingMs: 100, guessDoublingMs: 500, cut: 0.9, blockedRun: 3, firstProbeMs: 25, maxProbeMs: 1000,
      probeGrowth: 0.02, maxProbeGrowth: 0.25, aim: 0.98, shared: false, ...options,
    };
    this.window = this.#o.initialWindow;
    this.#lastTick = now;
    this.#lastOkAt = now;
    this.#cycleStart = now;
    if (start) {
      this.perSec = Math.max(this.#o.minPerSec, start.perSec);
      this.#level = this.perSec;
      if (start.limit) this.ceiling = this.perSec;
    }
  }

  get source(): RateSource {
    return this.ceiling !== undefined ? 'limit' : this.perSec === undefined ? 'probe' : 'adaptive';
  }

  /** When the server last admitted anything (for "the quota lets nothing through"). */
  get lastOkAt(): number {
    return this.#lastOkAt;
  }

  /** A known limit from now on (--rpm, or a 429's quotaValue), per second, before aiming under. */
  setLimit(perSec: number, now: number): void {
    this.ceiling = Math.max(this.#o.minPerSec, perSec * this.#o.aim);
    this.perSec = this.ceiling;
    this.#level = this.ceiling;
    this.#cutAt = now;
  }

  /**
   * May a request go now? 0: yes; else the time to ask again. While blocked, one probe at a time
   * is let through when its time comes (the caller then sends it: `sent(…, probe)`).
   */
  gate(now: number): number {
    if (!this.blocked) return 0;
    if (this.#look) {
      if (now < this.#look.until) return this.#look.until;
      const { from, retryDelayMs } = this.#look;
      this.#look = undefined;
      this.blocked = false;
      // Of what was sent since the first refused request left, how much was refused? What was
      // admitted of it, over the time it took to send, is the first sound measure of the rate.
      let sent = 0;
      let refused = 0;
      let last = from;
      for (const x of this.#log) {
        if (x.at < from) continue;
        sent++;
        last = x.at;
        if (x.state === REFUSED) refused++;
      }
      const est = sent - refused > 0 ? ((sent - refused) * 1000) / Math.max(SLOT_MS, last - from) * this.#scale(now) : undefined;
      this.#lookEstimate = est;
      if (sent >= 3 && refused >= 0.8 * sent) {
        this.#block(now, retryDelayMs);
        return this.gate(now);
      }
      if (est !== undefined && this.perSec !== undefined) {
        this.perSec = Math.max(this.#o.minPerSec, Math.min(this.perSec, est * this.#o.cut));
        this.#level = Math.max(this.perSec, est);
      }
      return 0;
    }
    if (this.#expectOpen !== undefined && this.#trust !== false && now >= this.#expectOpen) {
      this.#reopen(now);
      return 0;
    }
    if (this.#probeOut) {
      // A refusal comes back fast, an answer takes the model's time: a probe not refused by
      // the time a refusal would be back was admitted, and the quota is open.
      if (this.#probeSent >= 0) {
        const surely = this.#probeSent + Math.max(20, 3 * this.#refusalRtt);
        if (now >= surely) {
          this.#reopen(now);
          return 0;
        }
        return surely;
      }
      return now + this.#o.maxProbeMs; // told when it is sent
    }
    if (now >= this.#nextProbe) {
      this.#probeOut = true;
      this.#probeSent = -1;
      return 0;
    }
    return this.#expectOpen !== undefined && this.#trust !== false ? Math.min(this.#nextProbe, this.#expectOpen) : this.#nextProbe;
  }

  /** A request leaves now. */
  sent(now: number): void {
    if (this.#firstSent < 0) this.#firstSent = now;
    if (this.blocked && this.#probeOut && this.#probeSent < 0) this.#probeSent = now;
    this.#lastSent = now;
    this.#slot(now, this.#sentIn);
    this.#log.push({ at: now, state: PENDING, paced: now >= this.#cutAt && this.perSec !== undefined });
    if (this.#log.length > 512) this.#log.splice(0, 256);
  }

  #find(sentAt: number, state: 0 | 1 | 2): void {
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const s = this.#log[i];
      if (s.at === sentAt && s.state === PENDING) {
        s.state = state;
        return;
      }
      if (s.at < sentAt) return;
    }
  }

  /** The request sent at `sentAt` was answered (admitted). */
  ok(now: number, sentAt: number): void {
    this.#find(sentAt, OK);
    this.#answerRtt += (now - sentAt - this.#answerRtt) * 0.05;
    this.#oks.push(now);
    this.#lastOkAt = now;
    this.#count(0, sentAt);
    if (this.perSec === undefined) {
      // Slow start: doubling per round trip, but no faster than every `minDoublingMs` (a fast
      // server's round trip would reach --concurrency before a refusal could say to stop).
      const cap = this.#o.initialWindow * 2 ** ((now - this.#firstSent) / this.#o.minDoublingMs);
      this.window = Math.min(this.window + this.#o.windowGrowth, Math.max(this.window, cap));
    }
    if (this.#oks.length - this.#okHead > 65_536 || this.#okHead > 65_536) this.#trimOks(now - 30_000);
    if (this.blocked && sentAt >= this.#blockedAt) {
      // A probe (or a request sent while probing) was admitted: the quota is open again. Early,
      // against the RetryInfo that said otherwise: that RetryInfo overstates the wait.
      if (this.#expectOpen !== undefined && now < this.#expectOpen - 1100 && this.#trust !== false) {
        this.#trust = false;
        this.#note('retryinfo-overstated');
      }
      this.#reopen(now);
    }
  }

  /** Any other end of a request (an error that is not a 429): it frees a probe's place. */
  failed(sentAt: number): void {
    this.#find(sentAt, OK); // not a refusal: breaks a run of them
    this.#count(0, sentAt);
    if (this.blocked && sentAt >= this.#blockedAt) this.#probeOut = false;
  }

  /** A 429 to the request sent at `sentAt`. Says how that request is to wait. */
  refused(now: number, sentAt: number, r: Refusal): Hold {
    this.#find(sentAt, REFUSED);
    this.#slot(sentAt, this.#refusedIn);
    this.#refusalRtt = Math.min(1000, Math.max(5, 0.9 * this.#refusalRtt, now - sentAt));
    this.#count(r.details ? 0 : 1, sentAt);
    const hold: Hold = r.retryDelayMs !== undefined ? { ms: r.retryDelayMs } : r.details ? { ms: 0 } : { backoff: true };
    if (r.perMinute !== undefined && r.perMinute > 0 && (this.ceiling === undefined || Math.abs(this.ceiling - (r.perMinute / 60) * this.#o.aim) > 1e-9)) {
      this.setLimit(r.perMinute / 60, now);
      if (this.#o.shared) this.news.push({ kind: 'limit', perSec: r.perMinute / 60 });
    }
    if (this.blocked) {
      if (!this.#look && sentAt >= this.#blockedAt) this.#probeRefused(now, r);
      return hold;
    }
    if (r.details) this.#detailed = true;
    // Once the quota has spoken with details, a bare 429 is the server's shared capacity — unless
    // they come in a row (capacity refusals are scattered; a run of them is the quota).
    const inARow = this.#refusedInARow(false);
    const congestion = r.details || inARow || (!this.#detailed && this.#bareCongestion());
    if (!r.details && this.#detailed) this.#note('bare-background');
    if (!congestion) return r.retryDelayMs !== undefined ? hold : { backoff: true };
    this.#episode(now);
    const probing = this.perSec === undefined;
    // One cut per round: a request sent before the last cut was answered for by it.
    if (sentAt >= this.#cutAt) this.#cut(now);
    if (probing) {
      // The first refusal ends the probe: stop and look. Nothing is sent until what is on the
      // wire has come back (refusals are fast), so a window that has run out is not stormed by
      // a probe's worth of requests; then the refusals among them say a window (block) or not.
      this.#look = { from: sentAt, until: now + Math.max(20, 3 * this.#refusalRtt), retryDelayMs: r.retryDelayMs };
      this.blocked = true;
      this.#blockedAt = now;
      return hold;
    }
    // A window ran out: refusals go on after the cut, or a countdown known to be true says so.
    const named = this.#trust === true && r.retryDelayMs !== undefined && r.retryDelayMs >= 2000;
    if (named || this.#refusedInARow(true)) this.#block(now, r.retryDelayMs);
    return hold;
  }

  /** Called every few ms with whether callers waited on the rate since the last call. */
  tick(now: number, bound: boolean): void {
    const dt = Math.max(0, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    if (this.perSec === undefined || this.blocked || !bound) return;
    // Only a rate in use is evidence: callers waiting on it while something else (slots, the
    // input) holds the sending below it prove nothing about the server.
    // (Shared, this process sends only its share: that callers wait is the evidence.)
    if (!this.#o.shared && this.#sentSince(now - 1000) < 0.85 * this.perSec * Math.min(1, (now - this.#cutAt) / 1000)) return;
    const level = this.#level;
    if (this.perSec < level * 0.995) {
      // Back towards the level the server took at the last cut: most of the way within a second.
      this.perSec += (level - this.perSec) * Math.min(1, 1.5 * dt);
    } else if (this.#guess) {
      // A first guess (the look after the probe reads few answers): double until refused.
      this.perSec *= Math.pow(2, (dt * 1000) / this.#o.guessDoublingMs);
    } else {
      // Past it: slowly at first, then faster while no 429 comes (the limit may have risen).
      const since = (now - this.#cutAt) / 1000;
      const doubling = Math.max(2, (2 * this.#memory) / 1000);
      const growth = Math.min(this.#o.maxProbeGrowth, this.#o.probeGrowth * 2 ** (since / doubling));
      this.perSec += Math.max(level, this.perSec * 0.5) * growth * dt;
    }
    if (this.ceiling !== undefined) this.perSec = Math.min(this.perSec, this.ceiling);
  }

  // ---- inside

  #note(n: Note): void {
    if (!this.notes.includes(n)) this.notes.push(n);
  }

  #trimOks(before: number): void {
    while (this.#okHead < this.#oks.length && this.#oks[this.#okHead] < before) this.#okHead++;
    if (this.#okHead > 4096) {
      this.#oks = this.#oks.slice(this.#okHead);
      this.#okHead = 0;
    }
  }

  #oksSince(since: number): number {
    let lo = this.#okHead;
    let hi = this.#oks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#oks[mid] < since) lo = mid + 1;
      else hi = mid;
    }
    return this.#oks.length - lo;
  }

  /**
   * Congestion episodes: from the first cut to the last congestion refusal, ended by 2 s without
   * one. How long refusals outlast a cut is the enforcement's memory: a bucket forgets at once, a
   * window only when it ends. Growth past the last level waits for that long.
   */
  #episode(now: number): void {
    if (now - this.#episodeLast > 2000) {
      this.#leavingProbe = this.perSec === undefined;
      if (this.#episodeLast > this.#episodeStart) this.#memory = 0.5 * this.#memory + 0.5 * (this.#episodeLast - this.#episodeStart);
      this.#episodeStart = now;
    }
    this.#episodeLast = now;
  }

  /** Requests sent in [start, end] (send time) that were not refused, per second. */
  #admitted(start: number, end: number): number {
    let n = 0;
    const k0 = Math.floor(start / SLOT_MS);
    const k1 = Math.floor(end / SLOT_MS);
    for (let k = Math.max(k0, k1 - SLOTS + 1); k <= k1; k++) {
      const i = k % SLOTS;
      if (this.#slotAt[i] === k) n += this.#sentIn[i] - this.#refusedIn[i];
    }
    return (n * 1000) / Math.max(SLOT_MS, (k1 + 1 - Math.max(k0, k1 - SLOTS + 1)) * SLOT_MS);
  }

  /** Requests sent since `since` (within the last 2 s). */
  #sentSince(since: number): number {
    let n = 0;
    const last = Math.floor(this.#lastSent / SLOT_MS);
    for (let k = Math.max(Math.floor(since / SLOT_MS), last - SLOTS + 1); k <= last; k++) {
      const i = k % SLOTS;
      if (this.#slotAt[i] === k) n += this.#sentIn[i];
    }
    return n;
  }

  /** Answers a second over the last 30 s (or since the first request). */
  #longRun(now: number): number {
    const span = Math.min(30_000, now - (this.#firstSent < 0 ? now : this.#firstSent));
    return span < 1000 ? 0 : ((this.#oksSince(now - span) * 1000) / span) * this.#scale(now);
  }

  #slot(t: number, into: Float64Array): void {
    const k = Math.floor(t / SLOT_MS);
    const i = k % SLOTS;
    if (this.#slotAt[i] !== k) {
      if (into === this.#refusedIn && this.#slotAt[i] > k) return; // older than the ring
      this.#slotAt[i] = k;
      this.#sentIn[i] = 0;
      this.#refusedIn[i] = 0;
    }
    into[i]++;
  }

  /**
   * What the server admitted lately, per second: requests sent over the last second (or since the
   * first) that were not refused, leaving out the newest, whose refusal may still be on its way.
   */
  /**
   * Shared: this process sends a share of what the pacer lets through for all; what it sees,
   * scaled by the pacing rate over its own sending, is what all see. Alone: 1.
   */
  #scale(now: number): number {
    if (!this.#o.shared) return 1;
    // Probing, each process finds its own way up: as many shares as there are processes.
    if (this.perSec === undefined) return 1 + this.peers;
    const mine = this.#sentSince(now - 1000);
    return mine > 0 ? Math.min(64, Math.max(1, this.perSec / mine)) : 1 + this.peers;
  }

  #took(now: number): number {
    if (this.#o.shared && this.perSec !== undefined) {
      // Every process sends from the same paced stream: the share of it the server admitted,
      // here, is the share it admitted of all of it.
      const end = now - 2 * this.#refusalRtt;
      let sent = 0;
      let refused = 0;
      for (let k = Math.floor((end - 1000) / SLOT_MS); k <= Math.floor(end / SLOT_MS); k++) {
        const i = k % SLOTS;
        if (this.#slotAt[i] === k) {
          sent += this.#sentIn[i];
          refused += this.#refusedIn[i];
        }
      }
      if (sent >= 5) return ((sent - refused) / sent) * this.perSec;
    }
    return this.#tookHere(now) * this.#scale(now);
  }

  #tookHere(now: number): number {
    // Over about one answer's round trip: a slow start doubles its rate per round trip, so a
    // longer look reads far below the rate that met the limit.
    const look = this.perSec === undefined ? Math.min(1000, Math.max(200, this.#answerRtt)) : 1000;
    const end = now - 2 * this.#refusalRtt;
    const start = Math.max(end - look, this.#firstSent, this.#cycleStart);
    if (end - start < 4 * SLOT_MS) {
      // Too early to tell (the first requests): what was sent, over the time it took to send it.
      let sent = 0;
      for (let k = Math.floor(Math.max(now - 1000, this.#firstSent) / SLOT_MS); k <= Math.floor(now / SLOT_MS); k++) {
        const i = k % SLOTS;
        if (this.#slotAt[i] === k) sent += this.#sentIn[i] - this.#refusedIn[i];
      }
      return (sent * 1000) / Math.max(4 * SLOT_MS, now - this.#firstSent);
    }
    let admitted = 0;
    for (let k = Math.floor(start / SLOT_MS); k <= Math.floor(end / SLOT_MS); k++) {
      const i = k % SLOTS;
      if (this.#slotAt[i] === k) admitted += this.#sentIn[i] - this.#refusedIn[i];
    }
    return (admitted * 1000) / Math.max(SLOT_MS, (Math.floor(end / SLOT_MS) + 1) * SLOT_MS - Math.floor(start / SLOT_MS) * SLOT_MS);
  }

  #cut(now: number): void {
    let took = this.#took(now);
    // Within an episode of refusals, what the server admitted since it began is the sounder
    // measure: a bucket's burst (or the first probe's) is behind it by then.
    const since = this.#episodeStart;
    const end = now - 2 * this.#refusalRtt;
    if (this.#episodeLast >= since && end - since >= 2 * SLOT_MS && now - since < 2000) took = Math.min(took, this.#admitted(since, end) * this.#scale(now));
    const r = this.perSec;
    this.#rateBeforeCut = r;
    if (r === undefined) this.#leavingProbe = true;
    this.#guess = r === undefined;
    let next: number;
    if (this.ceiling !== undefined) {
      // A known limit: trim a little, never below 70% of it.
      next = Math.max(this.ceiling * 0.7, (r ?? this.ceiling) * 0.97);
      this.#level = this.ceiling;
    } else {
      // To 0.9 × what the server admitted over the last second, never up: cuts in quick
      // succession (a window's tail refuses everything until it ends) do not compound. Never
      // below half of what it took over the last half minute either: a moment of trickle (a
      // sliding window giving back what a burst took) must not collapse the rate.
      const floor = Math.max(0.5 * this.#longRun(now), now < this.#reopenFloor.until ? this.#reopenFloor.rate : 0);
      let target = took > 0 ? Math.max(floor, took * this.#o.cut) : Math.max(floor, (r ?? this.window) * 0.5);
      // Still refused at the first guess (a burst the server allowed at the start inflates every
      // measure): halve per round until it stops, as TCP's first loss does.
      if (this.#leavingProbe && r !== undefined) target = Math.min(target, Math.max(floor, r * 0.5));
      next = Math.min(r ?? Infinity, target);
      this.#level = Math.max(next, took > 0 ? Math.min(took, r ?? took) : next);
    }
    this.perSec = Math.max(this.#o.minPerSec, next);
    this.#cutAt = now;
    this.#calm(now);
    if (this.#o.shared) this.news.push({ kind: 'cut', perSec: this.perSec, level: this.#level });
  }

  /**
   * The last requests sent at a paced rate were all refused, none pending between: at least
   * `blockedRun`, and 100 ms of sending (the tail of a short window that a cut ends is not a block).
   */
  #refusedInARow(paced: boolean): boolean {
    const need = this.#o.blockedRun;
    let run = 0;
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const s = this.#log[i];
      if (s.state === PENDING && run === 0) continue; // newer than the run: not known yet
      if (s.state !== REFUSED || (paced && !s.paced)) return false;
      if (++run >= need) return true;
    }
    return false;
  }

  #block(now: number, retryDelayMs: number | undefined): void {
    this.blocked = true;
    this.#blockedFrom = this.#rateBeforeCut;
    this.#blockedAt = now;
    this.#probeOut = false;
    this.#probeGap = this.#o.firstProbeMs;
    this.#expectOpen = retryDelayMs !== undefined ? now + retryDelayMs : undefined;
    this.#firstExpect = this.#expectOpen;
    if (retryDelayMs !== undefined) this.#rounded = retryDelayMs % 1000 === 0;
    this.#schedule(now);
    if (this.#o.shared) this.news.push({ kind: 'block', reopenInMs: retryDelayMs });
  }

  #schedule(now: number): void {
    let next = now + this.#probeGap;
    if (this.#expectOpen !== undefined && this.#trust === true) {
      // A countdown seen to be true: wait for it — probing only within its last second when it
      // is rounded up to whole seconds (Google's), not at all when it is exact.
      next = Math.max(next, this.#rounded ? this.#expectOpen - 1000 : this.#expectOpen);
    }
    this.#nextProbe = next;
    this.#probeGap = Math.min(this.#o.maxProbeMs, this.#probeGap * 2);
  }

  #probeRefused(now: number, r: Refusal): void {
    this.#probeOut = false;
    if (r.retryDelayMs !== undefined) {
      const open = now + r.retryDelayMs;
      if (this.#firstExpect !== undefined && this.#trust === undefined && now - this.#blockedAt >= 1500) {
        // Does the server count down to the time it named when the block began? A value rounded
        // up to whole seconds stays within a second of it; a fixed or made-up one drifts away.
        if (Math.abs(open - this.#firstExpect) <= 1100) {
          this.#trust = true;
          this.#note('retryinfo-trusted');
        } else {
          this.#trust = false;
          this.#note('retryinfo-overstated');
        }
      }
      if (this.#trust !== false) this.#expectOpen = open;
    }
    this.#schedule(now);
  }

  #reopen(now: number): void {
    this.blocked = false;
    this.#probeOut = false;
    // The cycle since the last reopening: what a window lets through, over its length.
    const span = now - this.#cycleStart;
    const answered = this.#oksSince(this.#cycleStart);
    if (span < 500 && this.perSec !== undefined && this.ceiling === undefined) {
      // Too short a cycle to measure (the first, cut short by what the start took): what the
      // look after the probe measured, else half.
      const est = this.#lookEstimate;
      this.perSec = Math.max(this.#o.minPerSec, est !== undefined ? Math.min(this.perSec, est * this.#o.cut) : this.perSec * 0.5);
      this.#level = Math.max(this.perSec, est ?? 0);
      this.#lookEstimate = undefined;
    } else if (answered >= 5) {
      // After a probe's burst this is the first sound rate. Later, a cycle as long as the one
      // before it is one window (or as many as it) filled: its rate is the window's. An irregular
      // one spans windows that were not all filled: it only moves the rate within [the cut, the
      // rate that ran into the block].
      const cycle = ((answered * 1000) / span) * this.#scale(now);
      const regular = this.#lastCycle > 0 && Math.abs(span - this.#lastCycle) <= 0.25 * this.#lastCycle;
      let next = this.ceiling !== undefined ? Math.min(this.ceiling, cycle) : cycle * 0.97;
      if (!regular && this.#blockedFrom !== undefined && this.perSec !== undefined) next = Math.min(this.#blockedFrom, Math.max(this.perSec, next));
      this.perSec = Math.max(this.#o.minPerSec, next);
      this.#level = Math.max(this.perSec, this.ceiling !== undefined ? this.perSec : regular ? cycle : Math.min(cycle, this.#blockedFrom ?? cycle));
      // A sliding window gives back what the burst before took only as it slides: the refusals
      // of that trickle are no reason to go far under the rate just measured, for a while.
      // (Not after the first cycle: what the start took inflates it.)
      if (this.#lastCycle > 0) this.#reopenFloor = { rate: this.perSec * 0.9, until: now + Math.max(2000, span) };
    }
    this.#lastCycle = span;
    this.#note('pacing-not-pausing');
    this.#cycleStart = now;
    this.#cutAt = now;
    if (this.#o.shared && this.perSec !== undefined) this.news.push({ kind: 'reopen', perSec: this.perSec, level: this.#level });
  }

  /** Another process's decision (--redis), acted on as if made here. */
  adopt(now: number, n: QuotaNews): void {
    switch (n.kind) {
      case 'limit':
        if (this.ceiling === undefined || Math.abs(this.ceiling - n.perSec * this.#o.aim) > 1e-9) this.setLimit(n.perSec, now);
        return;
      case 'cut':
        if (this.perSec === undefined || n.perSec < this.perSec) {
          this.perSec = n.perSec;
          this.#level = n.level;
          this.#cutAt = now;
          this.#guess = false;
          this.#episode(now);
        }
        return;
      case 'block':
        if (!this.blocked) {
          this.#block(now, n.reopenInMs);
          this.news.pop(); // not ours to tell again
          // The process that saw it probes; the others only look now and then (it may die).
          this.#nextProbe = now + this.#o.maxProbeMs;
          this.#probeGap = this.#o.maxProbeMs;
        }
        return;
      case 'reopen':
        if (this.blocked) {
          this.blocked = false;
          this.#probeOut = false;
          this.#cycleStart = now;
          this.#cutAt = now;
        }
        this.perSec = n.perSec;
        this.#level = n.level;
        return;
    }
  }

  // Bare 429s (no details) may be the quota or the server's shared capacity, which refuses a share
  // of requests whatever the rate. The background share is measured on the requests sent in the two
  // seconds after each cut, when the rate is under the limit (what comes then comes anyway); only
  // a share of the latest answers well above it is congestion, and each cut needs fresh evidence.
  #count(bare: 0 | 1, sentAt: number): void {
    this.#recent.push(bare);
    this.#bareInRecent += bare;
    if (this.#recent.length > 100) this.#bareInRecent -= this.#recent.shift()!;
    if (sentAt >= this.#calmFrom && sentAt < this.#calmFrom + 3000) {
      this.#calmAll++;
      this.#calmBare += bare;
    }
  }

  /**
   * A cut: answers to what is sent in the next 3 s measure the background. A cut that did not
   * go deep enough lets quota 429s into its measure: the median of the last five measures is
   * the background (one polluted or one lucky measure does not move it).
   */
  #calm(now: number): void {
    if (this.#calmAll >= 40) {
      this.#calmShares.push(this.#calmBare / this.#calmAll);
      if (this.#calmShares.length > 5) this.#calmShares.shift();
      const b = this.#background()!;
      if (b >= 0.005) this.#note('bare-background');
    }
    this.#calmFrom = now;
    this.#calmAll = 0;
    this.#calmBare = 0;
    this.#recent = [];
    this.#bareInRecent = 0;
  }

  #background(): number | undefined {
    if (this.#calmShares.length === 0) return undefined;
    const sorted = [...this.#calmShares].sort((a, b) => a - b);
    return sorted[(sorted.length - 1) >> 1];
  }

  #bareCongestion(): boolean {
    const n = this.#recent.length;
    const share = this.#bareInRecent / Math.max(1, n);
    const b = this.#background();
    if (b === undefined) return this.#bareInRecent >= 3 && share > 0.05; // no background known yet
    if (this.#bareInRecent < (b < 0.005 ? 1 : 3)) return false;
    return share > b + 3 * Math.sqrt(Math.max(b, 0.001) * (1 - b) / n);
  }
}
