// createLimiter(): the one gate every attempt (retries included) passes before it is sent.
// Requests-per-minute and tokens-per-minute are Bottleneck reservoirs; a global pause (a 429
// carrying RetryInfo) holds every caller. Two things Bottleneck does poorly are done here:
// (1) its reservoir refill drifts (it resets its clock to the heartbeat's firing time, losing
// up to a tick per tick), so the reservoir is fed by our own drift-free clock; (2) each of its
// jobs costs ~90 µs of CPU and, as shipped, ~2 ms of setTimeout(0) yields, so permits are taken
// from it in batches (one weighted job for many callers), never one job per request.
// Without a known --rpm the request rate adapts (AdaptiveRate): it starts moderately, grows
// while the rate is what holds callers back and answers are clean, and is cut on a 429.

import Bottleneck from 'bottleneck';
import { abortError, sleep } from '../util/sleep.js';

export interface AdaptiveOptions {
  /** Requests per second to start at. @default 10 */
  initialPerSec?: number;
  /** Floor of the rate. @default 0.2 */
  minPerSec?: number;
  /** Before the first 429: growth per second while the rate binds. @default 4 (×4 a second) */
  slowStartPerSec?: number;
  /** After a 429: additive growth per second, as a fraction of the rate at the last cut. @default 0.03 */
  increasePerSec?: number;
  /** A 429 cuts the rate to at most this fraction of itself. @default 0.7 */
  decrease?: number;
  /** Further 429s within this window do not cut again (they answer requests sent before the cut). @default 1000 */
  holdMs?: number;
  /** A 429 to a request sent this long after a cut cuts again (when its send time is known). @default 300 */
  graceMs?: number;
}

export interface LimiterOptions {
  /** Requests per minute; absent: unlimited (only --concurrency bounds the rate) unless `adaptive`. */
  rpm?: number;
  /** No --rpm known: find the rate (ignored when `rpm` is set). */
  adaptive?: AdaptiveOptions | boolean;
  /** Input tokens per minute; absent: unlimited. */
  tpm?: number;
  /** Refill period and burst window. @default 100 */
  tickMs?: number;
  now?: () => number;
}

export interface LimiterState {
  /** A global pause is in force until this time (ms since epoch), else 0. */
  pausedUntil: number;
  /** Callers waiting for request permits / token budget right now. */
  waitingForRequests: number;
  waitingForTokens: number;
  /** The request rate in force (per minute): --rpm, or the adaptive rate now. */
  rpm?: number;
  tpm?: number;
  /** The request rate is being found (no --rpm given). */
  adaptive: boolean;
}

export interface Limiter {
  /** Waits for one request permit and `tokens` of token budget, honouring any pause. */
  acquire(tokens: number, signal?: AbortSignal): Promise<void>;
  /** Corrects the token budget once the real usage of a request is known. */
  settle(estimatedTokens: number, actualTokens: number): void;
  /** Holds every acquire for `ms` (extends a pause in force, never shortens it). */
  pauseFor(ms: number): void;
  /**
   * Tells the adaptive rate how an attempt ended: answered, or a per-minute 429. `sentAt`
   * (when the attempt was sent) lets a 429 to a request sent after the last cut cut again at
   * once: the new rate is still too high. Without it, 429s within `holdMs` of a cut are ignored.
   */
  feedback(outcome: 'ok' | '429', sentAt?: number): void;
  state(): LimiterState;
  stop(): Promise<void>;
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** One rate-limited resource (requests or tokens) backed by a Bottleneck reservoir. */
class Budget {
  perMinute: number;
  readonly #bn: Bottleneck;
  #capacity: number;
  #ratePerMs: number;
  readonly #tickMs: number;
  /** Set when callers were left waiting at a refill: the rate is what holds them back. */
  bound = false;
  onTick?: (t: number) => void;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  #shadow: number; // our own view of the reservoir (Bottleneck only reports it asynchronously)
  #carry = 0;
  #last: number;
  #available = 0; // taken from Bottleneck, not yet handed out
  #requesting = false;
  #pending = 0; // weight of the batch job waiting in Bottleneck
  readonly #waiters: Waiter[] = [];

  constructor(perMinute: number, tickMs: number, now: () => number) {
    this.perMinute = perMinute;
    this.#now = now;
    this.#tickMs = tickMs;
    this.#ratePerMs = perMinute / 60_000;
    this.#capacity = Math.max(1, Math.floor(this.#ratePerMs * tickMs));
    this.#shadow = this.#capacity;
    this.#last = now();
    this.#bn = new Bottleneck({ reservoir: this.#capacity, maxConcurrent: null, minTime: 0 });
    // Unref'd while nobody waits (an idle limiter must not keep the process alive), ref'd while
    // callers wait for the next refill (else Node could exit with their work pending).
    this.#timer = setInterval(() => this.#refill(), tickMs);
    this.#timer.unref?.();
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Do the waiters want more than `supply`? */
  #demandExceeds(supply: number): boolean {
    let want = 0;
    for (const w of this.#waiters) {
      want += w.n;
      if (want > supply) return true;
    }
    return false;
  }

  /** Changes the rate from the next refill on (the adaptive rate). */
  setPerMinute(perMinute: number): void {
    this.perMinute = perMinute;
    this.#ratePerMs = perMinute / 60_000;
    this.#capacity = Math.max(1, Math.floor(this.#ratePerMs * this.#tickMs));
  }

  #refill(): void {
    const t = this.#now();
    // Binding: callers wait and the budget is spent (not merely in transit from Bottleneck).
    this.bound = this.#demandExceeds(this.#shadow + this.#available);
    this.onTick?.(t);
    const add = (t - this.#last) * this.#ratePerMs + this.#carry;
    this.#last = t;
    const whole = Math.floor(add);
    this.#carry = add - whole;
    // Permits a batch job is about to take out of the reservoir are not "in the bucket".
    const level = this.#shadow - this.#pending;
    const grant = Math.max(0, Math.min(whole, this.#capacity - level));
    if (grant < whole) this.#carry = 0; // bucket full: unused budget is not banked
    if (grant > 0) {
      this.#shadow += grant;
      void this.#bn.incrementReservoir(grant);
    }
  }

  /** Returns budget (negative: takes more) after a request's real cost is known. */
  adjust(delta: number): void {
    if (delta === 0) return;
    this.#shadow += delta;
    void this.#bn.incrementReservoir(delta);
  }

  take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    // A request bigger than the burst window takes what the window holds now and the rest as
    // debt (a negative reservoir), so it still waits its fair share instead of never running.
    const now = Math.min(n, this.#capacity);
    const debt = n - now;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { n: now, resolve: () => { if (debt > 0) this.adjust(-debt); resolve(); }, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
      this.#timer.ref?.();
      this.#serve();
    });
  }

  #serve(): void {
    while (this.#waiters.length > 0 && this.#available >= this.#waiters[0].n) {
      const w = this.#waiters.shift()!;
      this.#available -= w.n;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    if (this.#waiters.length === 0) this.#timer.unref?.();
    if (this.#waiters.length === 0 || this.#requesting) return;
    // One weighted Bottleneck job fetches permits for as many waiters as one burst window holds.
    let want = 0;
    for (const w of this.#waiters) {
      if (want + w.n > this.#capacity) break;
      want += w.n;
    }
    want = Math.max(1, want - this.#available);
    this.#requesting = true;
    this.#pending = want;
    this.#bn
      .schedule({ weight: want }, async () => want)
      .then((got) => {
        this.#requesting = false;
        this.#pending = 0;
        this.#shadow -= got;
        this.#available += got;
        this.#serve();
      })
      .catch((err: Error) => {
        this.#requesting = false;
        this.#pending = 0;
        for (const w of this.#waiters.splice(0)) w.reject(err);
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const err = abortError();
    for (const w of this.#waiters.splice(0)) w.reject(err);
    await this.#bn.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }
}

/**
 * AIMD on the request rate, for when the quota is unknown. Before the first 429 the rate grows
 * geometrically (slow start) but only while it binds (callers wait on it: growing a rate nobody
 * uses proves nothing). A 429 cuts it to the lower of `decrease` × rate and 0.9 × the rate
 * answered cleanly over the last second (the quota shows itself there once the server's burst
 * is spent), then grows additively. 429s within `holdMs` of a cut answer requests sent before
 * it and do not cut again.
 */
export class AdaptiveRate {
  perSec: number;
  readonly #o: Required<AdaptiveOptions>;
  #cutAtPerSec = 0; // rate at the last cut; 0: still in slow start
  #holdUntil = 0;
  #cutAt = -Infinity; // when the rate was last cut
  #okTimes: number[] = []; // ring of answer times over the last second
  #okHead = 0;
  #lastTick: number;

  constructor(options: AdaptiveOptions, now: number) {
    this.#o = { initialPerSec: 10, minPerSec: 0.2, slowStartPerSec: 2, increasePerSec: 0.03, decrease: 0.7, holdMs: 1000, graceMs: 300, ...options };
    this.perSec = this.#o.initialPerSec;
    this.#lastTick = now;
  }

  get slowStart(): boolean {
    return this.#cutAtPerSec === 0;
  }

  /** Called each refill tick with whether the rate held callers back since the last one. */
  tick(now: number, bound: boolean): void {
    const dtSec = Math.max(0, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    if (!bound || now < this.#holdUntil) return;
    if (this.slowStart) this.perSec *= Math.pow(this.#o.slowStartPerSec, dtSec);
    else this.perSec += this.#cutAtPerSec * this.#o.increasePerSec * dtSec;
  }

  ok(now: number): void {
    this.#okTimes.push(now);
    if (this.#okTimes.length - this.#okHead > 4096 || this.#okHead > 4096) this.#trim(now);
  }

  #trim(now: number): void {
    while (this.#okHead < this.#okTimes.length && this.#okTimes[this.#okHead] < now - 1000) this.#okHead++;
    if (this.#okHead > 1024) {
      this.#okTimes = this.#okTimes.slice(this.#okHead);
      this.#okHead = 0;
    }
  }

  /**
   * A per-minute 429: returns true when it cut the rate. A 429 to a request sent before the
   * last cut says nothing about the new rate; one sent after it does (cut again, at once).
   */
  tooMany(now: number, sentAt?: number): boolean {
    // (A grace of a few refill ticks after the cut: the server's bucket needs them to see it.)
    if (sentAt !== undefined ? sentAt < this.#cutAt + this.#o.graceMs : now < this.#holdUntil) return false;
    this.#trim(now);
    const answeredPerSec = this.#okTimes.length - this.#okHead;
    const cut = Math.min(this.perSec * this.#o.decrease, answeredPerSec > 0 ? answeredPerSec * 0.9 : Infinity);
    this.perSec = Math.max(this.#o.minPerSec, cut);
    this.#cutAtPerSec = this.perSec;
    this.#holdUntil = now + this.#o.holdMs;
    this.#cutAt = now;
    return true;
  }
}

export function createLimiter(options: LimiterOptions = {}): Limiter {
  const { rpm, tpm, tickMs = 100, now = Date.now } = { ...options };
  const adaptive = rpm === undefined && options.adaptive
    ? new AdaptiveRate(options.adaptive === true ? {} : options.adaptive, now())
    : undefined;
  const requests = rpm ? new Budget(rpm, tickMs, now) : adaptive ? new Budget(adaptive.perSec * 60, tickMs, now) : undefined;
  const tokens = tpm ? new Budget(tpm, tickMs, now) : undefined;
  if (adaptive && requests) {
    requests.onTick = (t) => {
      adaptive.tick(t, requests.bound);
      requests.setPerMinute(adaptive.perSec * 60);
    };
  }
  let pausedUntil = 0;

  async function waitOutPause(signal?: AbortSignal): Promise<void> {
    for (let t = now(); t < pausedUntil; t = now()) await sleep(pausedUntil - t, signal);
  }

  return {
    async acquire(n, signal) {
      await waitOutPause(signal);
      if (requests) await requests.take(1, signal);
      if (tokens && n > 0) await tokens.take(Math.ceil(n), signal);
      // A pause may have begun while we queued: the permit is spent, but the request waits.
      await waitOutPause(signal);
    },
    settle(estimated, actual) {
      if (tokens && Number.isFinite(actual) && actual >= 0) tokens.adjust(Math.ceil(estimated) - Math.ceil(actual));
    },
    pauseFor(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },
    feedback(outcome, sentAt) {
      if (!adaptive || !requests) return;
      if (outcome === 'ok') adaptive.ok(now());
      else if (adaptive.tooMany(now(), sentAt)) requests.setPerMinute(adaptive.perSec * 60);
    },
    state() {
      return {
        pausedUntil: pausedUntil > now() ? pausedUntil : 0,
        waitingForRequests: requests?.waiting ?? 0,
        waitingForTokens: tokens?.waiting ?? 0,
        rpm: requests ? Math.round(requests.perMinute) : undefined,
        tpm,
        adaptive: adaptive !== undefined,
      };
    },
    async stop() {
      await Promise.all([requests?.stop(), tokens?.stop()]);
    },
  };
}
