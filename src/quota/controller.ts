// QuotaController: how fast to send, learned from what the server answers (SPEC §3, issue 19;
// the README's "Quota" section tells the whole loop). Pure and synchronous, every method told the
// time, so test/quota/sim drives it against server models in virtual time. Probe, look, pace;
// refusals weighed against what the server admitted (RateModel); windows and RetryInfo (WindowGate);
// bare 429s against the shared-capacity background, a cut they caused on trial (BareBackground).

import { BareBackground } from './bare-429s.js';
import { KNOWN_AIM, type Hold, type Note, type QuotaControllerOptions, type QuotaNews, type RateSource, type Refusal } from './controller-types.js';
import { OK, REFUSED, SendLog, SLOT_MS } from './send-log.js';
import { WindowGate } from './window-gate.js';
import { RateModel, type RateSnapshot } from './rate-model.js';

export * from './controller-types.js';


export class QuotaController {
  readonly notes: Note[] = [];
  /** Other processes known to share the quota now (--redis; told by the caller). */
  peers = 0;
  /** Decisions for the processes sharing the quota (drained by the caller). */
  readonly news: QuotaNews[] = [];

  readonly #o: Required<QuotaControllerOptions>;
  readonly #log = new SendLog();
  readonly #bare = new BareBackground<RateSnapshot>();
  readonly #gate: WindowGate;
  readonly #r: RateModel;
  #lastPub = -Infinity;
  #lastOkAt: number;
  #lastTick: number;
  /** How long a refusal takes to come back (the slowest lately). */
  #refusalRtt = 50;
  /** An answer's round trip (moving average; 0: none yet). */
  #answerRtt = 0;

  #detailed = false;
  /** The quota's own evidence: a 429 with details, or bare 429s whose share fell with a cut. */
  #confirmed = false;

  constructor(now: number, options: QuotaControllerOptions = {}, start?: { perSec: number; limit: boolean }) {
    this.#o = {
      initialWindow: 4, minPerSec: 0.2, windowGrowth: 1, minDoublingMs: 100, guessDoublingMs: 500, cut: 0.9, blockedRun: 3, firstProbeMs: 25, maxProbeMs: 1000,
      probeGrowth: 0.02, maxProbeGrowth: 0.25, aim: KNOWN_AIM, shared: false, ...options,
    };
    this.#gate = new WindowGate(this.#o.firstProbeMs, this.#o.maxProbeMs);
    this.#lastTick = now;
    this.#lastOkAt = now;
    this.#r = new RateModel({
      o: this.#o, log: this.#log, gate: this.#gate, bare: this.#bare, news: this.news,
      refusalRtt: () => this.#refusalRtt, answerRtt: () => this.#answerRtt, peers: () => this.peers, note: (n) => this.#note(n),
    }, start);
  }

  /** Requests a second; undefined while probing (only `window` bounds the rate). */
  get perSec(): number | undefined {
    return this.#r.perSec;
  }

  /** Requests in flight at most while probing. */
  get window(): number {
    return this.#r.window;
  }

  /** A known limit (requests a second, already aimed under) the rate may not pass. */
  get ceiling(): number | undefined {
    return this.#r.ceiling;
  }

  /** A known limit from now on (--rpm, or a 429's quotaValue), per second, before aiming under. */
  setLimit(perSec: number, now: number): void {
    this.#r.setLimit(perSec, now);
  }

  get source(): RateSource {
    return this.#r.ceiling !== undefined ? 'limit' : this.#r.perSec === undefined ? 'probe' : 'adaptive';
  }

  /** Everyone waits until the quota reopens (a window ran out), or while the probe's end is read. */
  get blocked(): boolean {
    return this.#gate.blocked;
  }

  /** The rate found is the quota's (else bare 429s alone found it: no limit to keep for a next run). */
  get confirmed(): boolean {
    return this.#confirmed || this.#r.ceiling !== undefined;
  }

  /** When the server last admitted anything (for "the quota lets nothing through"). */
  get lastOkAt(): number {
    return this.#lastOkAt;
  }

  /**
   * May a request go now? 0: yes; else the time to ask again. While blocked, one probe at a time
   * is let through when its time comes (the caller then sends it).
   */
  gate(now: number): number {
    for (;;) {
      const a = this.#gate.answer(now, this.#refusalRtt);
      if ('go' in a) return 0;
      if ('until' in a) return a.until;
      if ('reopen' in a) {
        this.#r.reopen(now);
        return 0;
      }
      const before = this.#r.snapshot();
      const bare = this.#gate.look?.bare;
      this.#r.endLook(now);
      if (bare && !this.#gate.blocked && this.#r.perSec !== undefined && this.#r.ceiling === undefined) this.#bare.try(now, before);
    }
  }

  /** A request leaves now. */
  sent(now: number): void {
    if (this.#log.firstSent < 0) {
      // Processes sharing the quota probe as one: the first window is split between them.
      if (this.#o.shared && this.#r.perSec === undefined) this.#r.window = Math.max(1, Math.round(this.#o.initialWindow / (1 + this.peers)));
      this.#r.cycleStart = now;
    }
    this.#gate.sent(now);
    this.#log.sent(now, this.#r.perSec !== undefined && now >= this.#r.cutAt);
  }

  /** The request sent at `sentAt` was answered (admitted). */
  ok(now: number, sentAt: number): void {
    const sent = this.#log.find(sentAt);
    this.#bare.count(0, sent?.at);
    this.#judge(now);
    if (sent) sent.state = OK;
    const rtt = now - sentAt;
    this.#answerRtt = this.#answerRtt === 0 ? rtt : this.#answerRtt + (rtt - this.#answerRtt) * 0.05;
    this.#lastOkAt = now;
    if (this.#r.perSec === undefined) {
      // Slow start: doubling per round trip, but no faster than every `minDoublingMs` — or three
      // round trips of a fast server (1 ms: at once; 30 ms: the window's bursts into a bucket cost
      // as many 429s as it sends in the time a refusal takes to come back).
      const doubling = Math.min(this.#o.minDoublingMs, Math.max(10, 3 * this.#answerRtt));
      const cap = this.#o.initialWindow * 2 ** ((now - this.#log.firstSent) / doubling);
      this.#r.window = Math.min(this.#r.window + this.#o.windowGrowth, Math.max(this.#r.window, cap));
    }
    if (this.#gate.probed(sentAt)) {
      // A probe was admitted: the quota is open again (early against its RetryInfo: overstated).
      const n = this.#gate.admitted(now);
      if (n) this.#note(n);
      this.#r.reopen(now);
    }
  }

  /** Any other end of a request (an error that is not a 429): it frees a probe's place. */
  failed(sentAt: number, now = sentAt): void {
    const sent = this.#log.find(sentAt);
    this.#bare.count(0, sent?.at);
    this.#judge(now);
    if (sent) sent.state = OK; // not a refusal: breaks a run of them
    if (this.#gate.probed(sentAt)) this.#gate.failed();
  }

  /** A 429 to the request sent at `sentAt`. Says how that request is to wait. */
  refused(now: number, sentAt: number, r: Refusal): Hold {
    const sent = this.#log.find(sentAt);
    this.#bare.count(r.details ? 0 : 1, sent?.at);
    this.#judge(now);
    if (sent) sent.state = REFUSED;
    this.#refusalRtt = Math.min(1000, Math.max(5, 0.9 * this.#refusalRtt, now - sentAt));
    const hold: Hold = r.retryDelayMs !== undefined ? { ms: r.retryDelayMs } : r.details ? { ms: 0 } : { backoff: true };
    if (r.perMinute !== undefined && r.perMinute > 0 && (this.#r.ceiling === undefined || Math.abs(this.#r.ceiling - (r.perMinute / 60) * this.#o.aim) > 1e-9)) {
      this.setLimit(r.perMinute / 60, now);
      if (this.#o.shared) this.news.push({ kind: 'limit', perSec: r.perMinute / 60 });
    }
    if (r.details) {
      this.#detailed = this.#confirmed = true;
      this.#bare.drop();
    }
    // Once the quota has spoken with details, a bare 429 is the server's shared capacity — unless
    // they come in a row (capacity refusals are scattered; a run of them is the quota: longer over
    // a higher background). While a cut they caused is on trial, only a run is news.
    const run = this.#bare.run(this.#o.blockedRun);
    const congestion = r.details || this.#log.inARow(false, run) || (!this.#detailed && !this.#bare.trying && this.#bare.congestion());
    this.#log.refused(sentAt);
    // Refused in the echo of the first cycle: the window remembers (a sliding one: that cycle stands).
    if (congestion && now < this.#r.echoUntil) this.#r.probation = undefined;
    if (!congestion) {
      this.#note('bare-background');
      return r.retryDelayMs !== undefined ? hold : { backoff: true };
    }
    if (this.#gate.blocked) {
      if (this.#gate.probed(sentAt)) {
        const n = this.#gate.refused(now, r);
        if (n) this.#note(n);
      }
      return hold;
    }
    if (now - this.#r.episodeLast > 2000) {
      this.#r.episodeFrom = sentAt;
      this.#bare.begin(sentAt, now);
    }
    this.#r.episodeLast = now;
    this.#bare.extend(now);
    if (this.#r.perSec === undefined) {
      // The first refusal ends the probe: stop and look. Nothing is sent until what is on the
      // wire has come back (refusals are fast), so a window that has run out is not stormed by a
      // probe's worth of requests; then the refusals among them say a window (block) or not.
      this.#gate.startLook({ from: sentAt, until: now + Math.max(20, 2 * this.#refusalRtt), retryDelayMs: r.retryDelayMs, bare: !r.details }, now);
      return hold;
    }
    if (sentAt < this.#r.cutAt) return hold; // answered for by the last decision
    // A window ran out: refusals go on at the rate the cut set.
    if (this.#log.inARow(true, run)) {
      if (r.details) this.#confirmed = true;
      this.#bare.drop();
      this.#r.block(now, r.retryDelayMs);
      return hold;
    }
    // A window remembers what it admitted for as long as it is: for a cycle after a reopening
    // measured it, refusals are the echo of what came before, not of the rate it set.
    if (now < this.#r.echoUntil) return hold;
    const before = this.#r.snapshot();
    this.#r.cut(now);
    // A cut bare 429s caused is on trial, judged once a window's echo of the old rate is over.
    if (!r.details && this.#r.cutAt === now && this.#r.ceiling === undefined) this.#bare.try(now, before, now + Math.min(this.#r.memory, 60_000));
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
    this.#r.grow(now, dt, bound);
  }

  /** Another process's decision (--redis), acted on as if made here. */
  adopt(now: number, n: QuotaNews): void {
    switch (n.kind) {
      case 'limit':
        if (this.#r.ceiling === undefined || Math.abs(this.#r.ceiling - n.perSec * this.#o.aim) > 1e-9) this.setLimit(n.perSec, now);
        return;
      case 'cut':
        if (this.#r.perSec === undefined || n.perSec < this.#r.perSec) {
          if (this.#gate.look) this.#gate.open();
          this.#r.perSec = n.perSec;
          this.#r.level = n.level;
          this.#r.decided(now);
          this.#r.setState(now, n.state);
        }
        return;
      case 'block':
        // The process that saw it probes; the others only look now and then (it may die).
        if (!this.#gate.blocked || this.#gate.look) this.#r.block(now, n.reopenInMs, true);
        return;
      case 'reopen':
        if (this.#gate.blocked) {
          this.#gate.open();
          this.#r.cycleStart = now;
        }
        this.#r.perSec = n.perSec;
        this.#r.level = n.level;
        this.#r.decided(now);
        this.#r.setState(now, n.state);
        return;
      case 'seen':
        for (let i = 0; i < n.sent.length; i++) this.#log.add(n.from + i, n.sent[i], n.refused[i]);
        return;
    }
  }

  /** Sharing the quota: what was sent and refused, per slot, once every refusal is back. */
  #publish(now: number): void {
    const seen = this.#log.publish(Math.floor((now - 2 * this.#refusalRtt - 50) / SLOT_MS)); // slots before it are complete
    if (seen) this.news.push({ kind: 'seen', ...seen });
  }

  // ---- inside

  /** A cut bare 429s caused, judged: undone if their share did not fall (the background). */
  #judge(now: number): void {
    const v = this.#bare.verdict(now);
    if (v && !v.background && v.deeper && !this.#gate.blocked && this.#r.perSec !== undefined) {
      this.#r.deeper(now);
      this.#bare.again(now, now + Math.min(this.#r.memory, 60_000));
    }
    if (!v?.background) {
      if (v?.fell) this.#confirmed = true;
      return;
    }
    this.#note('bare-background');
    // Nothing but bare 429s decided the rate, and they are the background: no limit is known, the
    // probe goes on. Else back to the rate before the cut on trial.
    if (!this.#gate.blocked) this.#r.restore(now, this.#confirmed ? v.undo : { ...v.undo, perSec: undefined });
  }

  #note(n: Note): void {
    if (!this.notes.includes(n)) this.notes.push(n);
  }


}
