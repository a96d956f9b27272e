// QuotaController: how fast to send, learned from what the server answers (SPEC §3, issue 19).
// Pure and synchronous, every method told the time: a test drives it against server models for
// thousands of virtual seconds (test/quota/sim). The limiter enforces it: while probing, a window
// of requests in flight; then a pacer at `perSec` (spaced, never a burst); `blocked`: the gate.
//
// One loop, TCP's in requests a second. Probe: the window doubles per round trip until the first
// refusal; stop until what is on the wire is back ("look"); pace from what got through. Every
// refusal is weighed against what the server took (admitted by send time over a second — or a
// window's length — and over the current episode of refusals): the pace is cut to 0.9 × that,
// once per round (a request sent before the last decision was answered for by it), never below
// half, and not at all when the server took more than the pace (it remembers an earlier burst).
// The pace then grows as CUBIC does: back to that level, a plateau, past it ever faster (a limit
// may rise). Refusals in a row at the cut pace mean a window ran out: everyone waits, one probe at
// a time; a RetryInfo is waited for only once its countdown holds (whole seconds: its last second
// probed every 100 ms; always 10 s: distrusted). A pause refused ≥ 100 ms was a window: the cycle
// from one reopening to the next is what it lets through over its length (the pace: 0.97 × that),
// and for one length its refusals are its echo — no cuts, no growth (growth then in its time).
//
// Token bucket: paced just under what it admits, probed past slowly; refusals come singly and
// cut. Fixed window: a run of refusals at its end blocks to the boundary; then paced at its cycle.
// Sliding window: its first cycle (it reopens as the probe's first requests leave it) sets the
// pace and the probe's echo is waited out. Bare 429s: congestion only in a row or when their share
// runs above the shared-capacity background (learned); with QuotaFailure seen, a bare one is that
// background (unless in a row). Known limit (--rpm, quotaValue): paced at 0.99 × it (a lower
// quotaValue may grow back to the earlier one). Processes sharing the quota (--redis) tell each
// other what they sent and had refused (per 25 ms) and every decision: each measures the whole.

/** A known limit (--rpm, quotaValue) is paced this far under it: `start.perSec` = limit × this. */
export const KNOWN_AIM = 0.99;

export interface QuotaControllerOptions {
  /** Requests in flight before the first answer, while probing. @default 4 */
  initialWindow?: number;
  /** @default 0.2 */
  minPerSec?: number;
  /** A first guess at the rate doubles this often until the next refusal measures it. @default 500 */
  guessDoublingMs?: number;
  /** While probing, the window doubles no faster than this (or three round trips, if shorter). @default 100 */
  minDoublingMs?: number;
  /** While probing, the window grows by this much per answer (1: doubles per round trip). @default 1 */
  windowGrowth?: number;
  /** A cut paces at this share of what the server took lately. @default 0.9 */
  cut?: number;
  /** Refused requests in a row, sent after a cut, that mean a window has run out. @default 3 */
  blockedRun?: number;
  /** While blocked, the first probe after this long, then twice as long each time. @default 25 */
  firstProbeMs?: number;
  /** While blocked, probes at least this often. @default 1000 */
  maxProbeMs?: number;
  /** @deprecated No effect: growth past the level is CUBIC-shaped (see above). */
  probeGrowth?: number;
  /** Growth is at most this share of the rate per 250 ms. @default 0.25 */
  maxProbeGrowth?: number;
  /** A known limit is aimed this far under. @default 0.99 */
  aim?: number;
  /**
   * The quota and the pacer are shared with other processes (--redis): what this process sent and
   * had refused, and every decision it makes, are `news` for the others to `adopt` (so each
   * measures the whole stream); the probe's first window is split between them. @default false
   */
  shared?: boolean;
}

/** Where a rate decision left the controller, for the processes sharing the quota. */
export interface RateState {
  guess: boolean;
  /** A window's length (ms; 0: none known). */
  memory: number;
  /** The window's echo lasts this much longer (ms). */
  echoMs: number;
}

/**
 * A decision another process sharing the quota acts on as if it had made it — or what it saw
 * (`seen`: requests sent and refused per 25 ms of send time, from slot `from`), so that every
 * process measures the whole stream, not its share of it.
 */
export type QuotaNews =
  | { kind: 'cut'; perSec: number; level: number; state?: RateState }
  | { kind: 'block'; reopenInMs?: number }
  | { kind: 'reopen'; perSec: number; level: number; state?: RateState }
  | { kind: 'limit'; perSec: number }
  | { kind: 'seen'; from: number; sent: number[]; refused: number[] };

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

const SLOT_MS = 25;
/** Refused (probes, or a RetryInfo countdown) at least this long: a window ran out, not a bucket. */
const WINDOW_BLOCK_MS = 100;
/** Seconds from a cut to the plateau at the level (CUBIC's K for a cut by `cut`). */
const CUBIC_K = 3;
/** 120 s of send time. */
const SLOTS = 4800;
const PENDING = 0;
const OK = 1;
const REFUSED = 2;

interface Sent {
  at: number;
  state: 0 | 1 | 2;
  /** Sent at a paced rate, after the last cut. */
  paced: boolean;
}

export class QuotaController {
  /** Requests a second; undefined while probing (only `window` bounds the rate). */
  perSec: number | undefined;
  window: number;
  /** A known limit (requests a second, already aimed under) the rate may not pass. */
  ceiling: number | undefined;
  /** The highest known limit before a 429 named a lower one (growth may go back up to it). */
  #limitBefore: number | undefined;
  #limitAt = -Infinity;
  /** Everyone waits until the quota reopens (a window ran out), or while the probe's end is read. */
  blocked = false;
  readonly notes: Note[] = [];
  /** Other processes known to share the quota now (--redis; told by the caller). */
  peers = 0;
  /** Decisions for the processes sharing the quota (drained by the caller). */
  readonly news: QuotaNews[] = [];

  readonly #o: Required<QuotaControllerOptions>;

  // ---- What was sent and what came of it.
  /** Per 25 ms of send time: sent, refused by the quota (congestion). */
  readonly #sentIn = new Float64Array(SLOTS);
  readonly #refusedIn = new Float64Array(SLOTS);
  readonly #slotAt = new Float64Array(SLOTS).fill(-1);
  /** This process's own share of them (what it tells the others). */
  readonly #ownSent = new Float64Array(SLOTS);
  readonly #ownRefused = new Float64Array(SLOTS);
  #pubNext = -1;
  #lastPub = -Infinity;
  /** The last requests sent, in send order (runs of refusals, probes). */
  #log: Sent[] = [];
  #firstSent = -1;
  #lastSent = -Infinity;
  #lastOkAt: number;
  #lastTick: number;
  /** How long a refusal takes to come back (the slowest lately). */
  #refusalRtt = 50;
  /** An answer's round trip (moving average; 0: none yet). */
  #answerRtt = 0;

  // ---- The rate.
  /** What the server takes (requests a second, all processes): what the rate grows back to. */
  #level = 0;
  /** The level is a guess (little evidence): the rate doubles until a refusal measures it. */
  #guess = false;
  /** The last rate decision: a refusal of a request sent before it was answered for by it. */
  #cutAt = -Infinity;
  /** The rate the last decision set, and seconds of growth since (callers waiting on the rate). */
  #from = 0;
  #grown = 0;
  /** Refusal episodes: send time of the first refusal, time of the last. */
  #episodeFrom = Infinity;
  #episodeLast = -Infinity;

  // ---- Looking (after the probe) and blocked (a window ran out).
  #look: { from: number; until: number; retryDelayMs?: number; bare: boolean } | undefined;
  #blockedAt = 0;
  #expectOpen: number | undefined;
  #firstExpect: number | undefined;
  #rounded = true;
  /** RetryInfo is a countdown that can be waited for (undefined: not known yet). */
  #trust: boolean | undefined;
  #nextProbe = 0;
  #probeGap = 0;
  #probeOut = false;
  #probeSent = -1;
  /** Cycles (reopening to reopening): when this one began, how long the last one was. */
  #cycleStart = -1;
  /** How long the enforcement remembers what it admitted (a window's length; 0: a bucket). */
  #memory = 0;
  /** Until then refusals are the echo of what a window admitted before the last cycle was measured. */
  #echoUntil = -Infinity;
  /** After the first cycle: if no refusal comes in its echo by then, the rate is a floor. */
  #probation: number | undefined;

  // ---- Bare 429s.
  #detailed = false;
  #cusum = 0;
  /** Answers not yet counted in the background: send time, bare (pairs). */
  #pendingBare: number[] = [];
  /** The last episodes of congestion: [send time of the first refusal, time of the last]. */
  #episodes: Array<[number, number]> = [];
  #calmAll = 0;
  #calmBare = 0;

  constructor(now: number, options: QuotaControllerOptions = {}, start?: { perSec: number; limit: boolean }) {
    this.#o = {
      initialWindow: 4, minPerSec: 0.2, windowGrowth: 1, minDoublingMs: 100, guessDoublingMs: 500, cut: 0.9, blockedRun: 3, firstProbeMs: 25, maxProbeMs: 1000,
      probeGrowth: 0.02, maxProbeGrowth: 0.25, aim: KNOWN_AIM, shared: false, ...options,
    };
    this.window = this.#o.initialWindow;
    this.#lastTick = now;
    this.#lastOkAt = now;
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
    const next = Math.max(this.#o.minPerSec, perSec * this.#o.aim);
    // A limit lowered (a 429 names less than was known): it may come back; growth may probe up to
    // the highest limit known.
    if (this.ceiling !== undefined && next < this.ceiling) this.#limitBefore = Math.max(this.#limitBefore ?? 0, this.ceiling);
    if (this.#limitBefore !== undefined && next >= this.#limitBefore) this.#limitBefore = undefined;
    this.ceiling = next;
    this.#limitAt = now;
    this.perSec = this.ceiling;
    this.#level = this.ceiling;
    this.#guess = false;
    this.#decided(now);
    if (this.#look) {
      this.#look = undefined;
      this.blocked = false;
    }
  }

  /**
   * May a request go now? 0: yes; else the time to ask again. While blocked, one probe at a time
   * is let through when its time comes (the caller then sends it).
   */
  gate(now: number): number {
    if (!this.blocked) return 0;
    if (this.#look) {
      if (now < this.#look.until) return this.#look.until;
      this.#endLook(now);
      return this.gate(now);
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
    if (this.#firstSent < 0) {
      // Processes sharing the quota probe as one: the first window is split between them.
      if (this.#o.shared && this.perSec === undefined) this.window = Math.max(1, Math.round(this.#o.initialWindow / (1 + this.peers)));
      this.#firstSent = now;
      this.#cycleStart = now;
    }
    if (this.blocked && this.#probeOut && this.#probeSent < 0) this.#probeSent = now;
    this.#lastSent = now;
    this.#slot(now, this.#sentIn);
    const paced = this.perSec !== undefined && now >= this.#cutAt;
    this.#log.push({ at: now, state: PENDING, paced });
    if (this.#log.length > 1024) this.#log.splice(0, 512);
  }

  /** The request sent at `sentAt` was answered (admitted). */
  ok(now: number, sentAt: number): void {
    const sent = this.#find(sentAt);
    this.#count(0, sent);
    if (sent) sent.state = OK;
    const rtt = now - sentAt;
    this.#answerRtt = this.#answerRtt === 0 ? rtt : this.#answerRtt + (rtt - this.#answerRtt) * 0.05;
    this.#lastOkAt = now;
    if (this.perSec === undefined) {
      // Slow start: doubling per round trip, but no faster than every `minDoublingMs` — or three
      // round trips of a fast server (1 ms: at once; 30 ms: the window's bursts into a bucket cost
      // as many 429s as it sends in the time a refusal takes to come back).
      const doubling = Math.min(this.#o.minDoublingMs, Math.max(10, 3 * this.#answerRtt));
      const cap = this.#o.initialWindow * 2 ** ((now - this.#firstSent) / doubling);
      this.window = Math.min(this.window + this.#o.windowGrowth, Math.max(this.window, cap));
    }
    if (this.blocked && !this.#look && sentAt >= this.#blockedAt) {
      // A probe was admitted: the quota is open again. Early, against the RetryInfo that said
      // otherwise: that RetryInfo overstates the wait.
      if (this.#expectOpen !== undefined && now < this.#expectOpen - 1100 && this.#trust !== false) {
        this.#trust = false;
        this.#note('retryinfo-overstated');
      }
      this.#reopen(now);
    }
  }

  /** Any other end of a request (an error that is not a 429): it frees a probe's place. */
  failed(sentAt: number): void {
    const sent = this.#find(sentAt);
    this.#count(0, sent);
    if (sent) sent.state = OK; // not a refusal: breaks a run of them
    if (this.blocked && !this.#look && sentAt >= this.#blockedAt) this.#probeOut = false;
  }

  /** A 429 to the request sent at `sentAt`. Says how that request is to wait. */
  refused(now: number, sentAt: number, r: Refusal): Hold {
    const sent = this.#find(sentAt);
    this.#count(r.details ? 0 : 1, sent);
    if (sent) sent.state = REFUSED;
    this.#refusalRtt = Math.min(1000, Math.max(5, 0.9 * this.#refusalRtt, now - sentAt));
    const hold: Hold = r.retryDelayMs !== undefined ? { ms: r.retryDelayMs } : r.details ? { ms: 0 } : { backoff: true };
    if (r.perMinute !== undefined && r.perMinute > 0 && (this.ceiling === undefined || Math.abs(this.ceiling - (r.perMinute / 60) * this.#o.aim) > 1e-9)) {
      this.setLimit(r.perMinute / 60, now);
      if (this.#o.shared) this.news.push({ kind: 'limit', perSec: r.perMinute / 60 });
    }
    if (r.details) this.#detailed = true;
    // Once the quota has spoken with details, a bare 429 is the server's shared capacity — unless
    // they come in a row (capacity refusals are scattered; a run of them is the quota).
    const congestion = r.details || this.#refusedInARow(false) || (!this.#detailed && this.#bareCongestion());
    this.#slot(sentAt, this.#refusedIn);
    // Refused in the echo of the first cycle: the window remembers (a sliding one: that cycle stands).
    if (congestion && now < this.#echoUntil) this.#probation = undefined;
    if (!congestion) {
      this.#note('bare-background');
      return r.retryDelayMs !== undefined ? hold : { backoff: true };
    }
    if (this.blocked) {
      if (!this.#look && sentAt >= this.#blockedAt) this.#probeRefused(now, r);
      return hold;
    }
    if (now - this.#episodeLast > 2000) {
      this.#episodeFrom = sentAt;
      this.#episodes.push([sentAt, now]);
      if (this.#episodes.length > 8) this.#episodes.shift();
    }
    this.#episodeLast = now;
    this.#episodes[this.#episodes.length - 1][1] = now;
    if (this.perSec === undefined) {
      // The first refusal ends the probe: stop and look. Nothing is sent until what is on the
      // wire has come back (refusals are fast), so a window that has run out is not stormed by a
      // probe's worth of requests; then the refusals among them say a window (block) or not.
      this.#look = { from: sentAt, until: now + Math.max(20, 2 * this.#refusalRtt), retryDelayMs: r.retryDelayMs, bare: !r.details };
      this.blocked = true;
      this.#blockedAt = now;
      return hold;
    }
    if (sentAt < this.#cutAt) return hold; // answered for by the last decision
    // A window ran out: refusals go on at the rate the cut set.
    if (this.#refusedInARow(true)) {
      this.#block(now, r.retryDelayMs);
      return hold;
    }
    // A window remembers what it admitted for as long as it is: for a cycle after a reopening
    // measured it, refusals are the echo of what came before, not of the rate it set.
    if (now < this.#echoUntil) return hold;
    this.#cut(now);
    return hold;
  }

  /** Called every few ms with whether callers waited on the rate since the last call. */
  tick(now: number, bound: boolean): void {
    const dt = Math.max(0, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    if (this.#o.shared && now - this.#lastPub >= 100) {
      this.#lastPub = now;
      this.#publish(now);
    }
    if (this.perSec === undefined || this.blocked || !bound) return;
    // Only a rate in use is evidence: callers waiting on it while something else (slots, the
    // input) holds the sending below it prove nothing about the server.
    if (!this.#o.shared) {
      const look = Math.max(1000, 3000 / this.perSec);
      if (this.#sentSince(now - look) + 1 < 0.85 * this.perSec * Math.min(look, now - this.#cutAt) / 1000) return;
    }
    // A window answers a rate only a window later: no growth until the echo of the last one is
    // over, and growth then in the window's time.
    if (this.#probation !== undefined && now >= this.#probation) {
      this.#probation = undefined;
      this.#guess = this.ceiling === undefined;
      this.#echoUntil = now;
      this.#decided(now);
    }
    if (now < this.#echoUntil) return;
    this.#grown += dt / Math.max(1, Math.min(this.#memory, 2 * CUBIC_K * 1000) / (CUBIC_K * 1000));
    if (this.#guess) {
      this.perSec *= Math.pow(2, (dt * 1000) / this.#o.guessDoublingMs);
    } else {
      // TCP CUBIC's shape, in requests a second: back towards the level the server took (most of
      // the way within a second), a plateau near it, then past it ever faster (the limit may have
      // risen): level × (1 + a (t − K)³), through the rate the last decision set at t = 0.
      const level = this.#level;
      const a = (1 - this.#o.cut) / CUBIC_K ** 3;
      const K = this.#from < level ? Math.cbrt((level - this.#from) / (level * a)) : 0;
      const target = level * (1 + a * (this.#grown - K) ** 3);
      if (target > this.perSec) this.perSec = Math.min(target, this.perSec * (1 + (this.#o.maxProbeGrowth * dt * 1000) / 250));
    }
    if (this.ceiling !== undefined) this.perSec = Math.min(this.perSec, Math.max(this.ceiling, this.#limitBefore ?? 0));
  }

  /** Another process's decision (--redis), acted on as if made here. */
  adopt(now: number, n: QuotaNews): void {
    switch (n.kind) {
      case 'limit':
        if (this.ceiling === undefined || Math.abs(this.ceiling - n.perSec * this.#o.aim) > 1e-9) this.setLimit(n.perSec, now);
        return;
      case 'cut':
        if (this.perSec === undefined || n.perSec < this.perSec) {
          if (this.#look) {
            this.#look = undefined;
            this.blocked = false;
          }
          this.perSec = n.perSec;
          this.#level = n.level;
          this.#decided(now);
          this.#setState(now, n.state);
        }
        return;
      case 'block':
        if (!this.blocked || this.#look) {
          this.#look = undefined;
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
          this.#look = undefined;
          this.#probeOut = false;
          this.#cycleStart = now;
        }
        this.perSec = n.perSec;
        this.#level = n.level;
        this.#decided(now);
        this.#setState(now, n.state);
        return;
      case 'seen':
        for (let i = 0; i < n.sent.length; i++) this.#slotAdd(n.from + i, n.sent[i], n.refused[i]);
        return;
    }
  }

  #state(now: number): RateState {
    return { guess: this.#guess, memory: this.#memory, echoMs: Math.max(0, this.#echoUntil - now) };
  }

  #setState(now: number, s: RateState | undefined): void {
    if (!s) return;
    this.#guess = s.guess;
    this.#memory = s.memory;
    this.#echoUntil = now + s.echoMs;
    this.#probation = undefined;
  }

  /** Sharing the quota: what was sent and refused, per slot, once every refusal is back. */
  #publish(now: number): void {
    const upTo = Math.floor((now - 2 * this.#refusalRtt - 50) / SLOT_MS); // slots before it are complete
    if (this.#pubNext < 0) this.#pubNext = Math.floor(this.#firstSent / SLOT_MS);
    if (this.#firstSent < 0 || upTo <= this.#pubNext) return;
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
    if (sent.some((x) => x > 0)) this.news.push({ kind: 'seen', from, sent, refused });
  }

  // ---- inside

  /** A rate decision now: growth starts again from the rate it set. */
  #decided(now: number): void {
    this.#cusum = 0;
    this.#cutAt = now;
    this.#from = this.perSec ?? 0;
    this.#grown = 0;
  }

  #note(n: Note): void {
    if (!this.notes.includes(n)) this.notes.push(n);
  }

  #find(sentAt: number): Sent | undefined {
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const s = this.#log[i];
      if (s.at === sentAt && s.state === PENDING) return s;
      if (s.at < sentAt) return undefined;
    }
    return undefined;
  }

  #slot(t: number, into: Float64Array): void {
    const k = Math.floor(t / SLOT_MS);
    if (!this.#slotReady(k)) return;
    const i = k % SLOTS;
    into[i]++;
    (into === this.#sentIn ? this.#ownSent : this.#ownRefused)[i]++;
  }

  /** What another process sharing the quota sent and had refused in slot k. */
  #slotAdd(k: number, sent: number, refused: number): void {
    if (!this.#slotReady(k)) return;
    this.#sentIn[k % SLOTS] += sent;
    this.#refusedIn[k % SLOTS] += refused;
  }

  #slotReady(k: number): boolean {
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
  #counts(start: number, end: number): { sent: number; refused: number; ms: number } {
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
  #sentSince(since: number): number {
    return this.#counts(since, this.#lastSent).sent;
  }

  /** The send time up to which every refusal is back (and, sharing the quota, has been told). */
  #known(now: number): number {
    return now - (this.#o.shared ? 2 * this.#refusalRtt + 200 : Math.max(5, 1.5 * this.#refusalRtt));
  }

  /** What the server admitted lately, per second (all processes); undefined: too few sent to say. */
  #took(now: number): number | undefined {
    const end = this.#known(now);
    // Over a second (or time for ten requests at this rate), or a window's length: what a window
    // admitted over its length is its rate.
    // (Sharing the quota, this process sees its share of the requests: as many of its own.)
    const own = (this.perSec ?? 10) / (this.#o.shared ? 1 + this.peers : 1);
    const span = Math.max(1000, Math.min(30_000, 20_000 / own), Math.min(this.#memory, 110_000));
    const start = Math.max(end - span, this.#firstSent);
    const c = this.#counts(start, end);
    if (c.sent < 8) return undefined;
    let took = ((c.sent - c.refused) * 1000) / Math.max(4 * SLOT_MS, c.ms);
    // Within an episode of refusals, what the server admitted since it began is the sounder
    // measure: a bucket's burst (or the probe's) is behind it by then.
    // (Only while the rate was sent: a pause in it would read as the server taking nothing.)
    if (end - this.#episodeFrom >= 100) {
      const e = this.#counts(this.#episodeFrom, end);
      if (this.perSec !== undefined && e.sent >= 0.7 * this.perSec * (e.ms / 1000)) took = Math.min(took, ((e.sent - e.refused) * 1000) / e.ms);
    }
    return took;
  }

  #cut(now: number): void {
    const r = this.perSec;
    // Too little sent lately to measure anything: back off by the cut, grow back under the rate.
    const measured = this.#took(now);
    if (measured === undefined && this.#guess) return; // a guess is already low: it grows till measured
    const took = measured ?? (r !== undefined ? ((1 + this.#o.cut) / 2) * r : undefined);
    if (took === undefined) return;
    if (r !== undefined && took >= 1.1 * r && this.ceiling === undefined) {
      // The server took more than this rate over the last second: the refusal is the enforcement
      // remembering what came before it (a probe's burst, a higher rate), not this rate's doing.
      return;
    }
    let next: number;
    if (this.ceiling !== undefined && (took >= 0.9 * Math.min(r ?? this.ceiling, this.ceiling) || now - this.#limitAt < 3000)) {
      // A known limit the server takes: trim a little (a window's edge, a timer's jitter).
      next = (r ?? this.ceiling) * 0.97;
      this.#level = this.ceiling;
    } else {
      // (A known limit the server takes much less of: the limit is lower now, found as if unknown.)
      // A doubling guess refused: the second it doubled over averages to well under the rate
      // that was refused, which was twice what was not refused half a second ago.
      const took2 = this.#guess && r !== undefined ? Math.max(took, 0.6 * r) : took;
      next = Math.min(r ?? Infinity, took2 * this.#o.cut);
      // The level growth returns to: what the server took, and under the rate that was refused
      // (refused at its plateau, the server took nearly all of it: the plateau was too high).
      this.#level = Math.max(next, Math.min(took2, r !== undefined ? ((1 + this.#o.cut) / 2) * r : took2));
    }
    // Never below half in one cut (TCP's bound): a measure that reads nearly nothing is more
    // likely a pause in the sending than a quota gone.
    if (r !== undefined) next = Math.max(next, 0.5 * r);
    this.perSec = Math.max(this.#o.minPerSec, next);
    this.#guess = false;
    this.#decided(now);
    this.#cusum = 0;
    if (this.#o.shared) this.news.push({ kind: 'cut', perSec: this.perSec, level: this.#level, state: this.#state(now) });
  }

  /** The probe's end: what came back says a window ran out (block), or the rate to start at. */
  #endLook(now: number): void {
    const { from, retryDelayMs, bare } = this.#look!;
    this.#look = undefined;
    this.blocked = false;
    let sent = 0;
    let refused = 0;
    for (const x of this.#log) {
      if (x.at < from) continue;
      sent++;
      if (x.state === REFUSED) refused++;
    }
    if (bare && sent >= 4 && refused <= 0.25 * sent) {
      // Bare 429s scattered among answers: the server's background, not the quota. Probe on.
      this.#cusum = 0;
      return;
    }
    // What the probe sent lately (the rate that met the limit) and the share of it admitted since
    // the first refusal (with a uniform prior: a few answers say little).
    const look = Math.max(200, this.#answerRtt);
    let own = 0;
    for (const x of this.#log) if (x.at >= now - look) own++;
    const probeRate = ((own * 1000) / look) * (this.#o.shared ? 1 + this.peers : 1);
    const est = (probeRate * (sent - refused + 1)) / (sent + 2);
    this.#episodeFrom = Infinity; // nothing was sent while looking: what is admitted is measured afresh
    this.perSec = Math.max(this.#o.minPerSec, est * this.#o.cut);
    // Growth goes back towards the probe's rate (concave): a refusal on the way measures the rate.
    // A few answers say little (a probe's first burst refused by a small bucket): the rate then
    // doubles until the next refusal measures it.
    this.#level = est;
    this.#guess = sent - refused < 8;
    this.#decided(now);
    if (sent >= 3 && refused >= 0.8 * sent) this.#block(now, retryDelayMs);
    else if (this.#o.shared) this.news.push({ kind: 'cut', perSec: this.perSec, level: this.#level, state: this.#state(now) });
  }

  /**
   * The last requests sent at a paced rate were all refused, none pending between: at least
   * `blockedRun` of them.
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
      // is rounded up to whole seconds (Google's: the time is somewhere in that second; a probe
      // every 100 ms of it), not at all when it is exact.
      const from = this.#rounded ? this.#expectOpen - 1000 : this.#expectOpen;
      this.#nextProbe = this.#rounded ? Math.max(from, now + 100) : Math.max(next, from);
      return;
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
    const span = now - this.#cycleStart;
    if (now - this.#blockedAt >= WINDOW_BLOCK_MS && this.#blockedAt >= this.#echoUntil) {
      // Refused for this long, it was a window that ran out (a bucket refills in a moment).
      const c = this.#counts(this.#cycleStart, now);
      const admitted = c.sent - c.refused;
      if (span >= 500 && admitted >= 5) {
        // What the window let through over the cycle since the last reopening is its rate when
        // the cycle is one window (as long as the last one), or the first (from the first
        // request). A longer one spans windows that did not all run out: the level the cut before
        // the block measured (the rate that ran this one out) stands.
        const cycle = ((admitted * 1000) / span);
        const first = this.#cycleStart <= this.#firstSent;
        const one = first || (this.#memory > 0 && span <= 1.5 * this.#memory);
        const rate = one ? cycle : Math.max(cycle, this.#level);
        if (one) this.#memory = span;
        // (A known limit stands: the server names it again if it is less now.)
        this.perSec = Math.max(this.#o.minPerSec, this.ceiling ?? rate * 0.97);
        this.#level = Math.max(this.perSec, rate);
        this.#guess = false;
        this.#echoUntil = now + this.#memory;
        // The first cycle is the window's length for a sliding window (it reopens as the first
        // requests leave it), not for a fixed one (its first reopening falls anywhere). A sliding
        // window refuses some of the probe's echo; no refusal by the end of it: the rate is a
        // floor, and doubles from it (see tick).
        if (first && this.ceiling === undefined) this.#probation = now + Math.min(span, 2000);
      }
      this.#cycleStart = now;
    }
    this.#note('pacing-not-pausing');
    this.#episodeFrom = Infinity; // what the server admits is measured afresh: nothing was sent while blocked
    this.#episodeLast = -Infinity;
    this.#decided(now);
    if (this.#o.shared && this.perSec !== undefined) this.news.push({ kind: 'reopen', perSec: this.perSec, level: this.#level, state: this.#state(now) });
  }

  // Bare 429s (no details) may be the quota or the server's shared capacity, which refuses a share
  // of requests whatever the rate. The background share is a long average over the answers to
  // requests sent outside episodes of congestion (from a prior of 3%); bare 429s are congestion
  // when their share runs above it (a CUSUM test: quick for a clear excess, slow to fire on
  // noise), or when they come in a row.
  #count(bare: 0 | 1, s: Sent | undefined): void {
    if (s) {
      // Counted once it is clear that no episode of congestion began around it.
      this.#pendingBare.push(s.at, bare);
      while (this.#pendingBare.length > 0 && this.#pendingBare[0] < s.at - 2000) {
        const at = this.#pendingBare.shift()!;
        const x = this.#pendingBare.shift()!;
        if (this.#episodes.some(([from, last]) => at >= from - 1000 && at <= last + 1000)) continue;
        this.#calmAll = this.#calmAll * (1 - 1 / 1000) + 1;
        this.#calmBare = this.#calmBare * (1 - 1 / 1000) + x;
      }
    }
    const b = this.#background();
    this.#cusum = Math.max(0, this.#cusum + bare - (b + Math.max(0.015, 0.5 * b)));
  }

  #background(): number {
    return (this.#calmBare + 3) / (this.#calmAll + 100);
  }

  #bareCongestion(): boolean {
    return this.#cusum >= 3;
  }
}
