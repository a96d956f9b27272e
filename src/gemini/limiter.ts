// createLimiter(): the one gate every attempt (retries included) passes before it is sent.
// Requests-per-minute and tokens-per-minute are Bottleneck reservoirs; a global pause (a 429
// carrying RetryInfo) holds every caller. Two things Bottleneck does poorly are done here:
// (1) its reservoir refill drifts (it resets its clock to the heartbeat's firing time, losing
// up to a tick per tick), so the reservoir is fed by our own drift-free clock; (2) each of its
// jobs costs ~90 µs of CPU and, as shipped, ~2 ms of setTimeout(0) yields, so permits are taken
// from it in batches (one weighted job for many callers), never one job per request.

import Bottleneck from 'bottleneck';
import { abortError, sleep } from '../util/sleep.js';

export interface LimiterOptions {
  /** Requests per minute; absent: unlimited (only --concurrency bounds the rate). */
  rpm?: number;
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
  rpm?: number;
  tpm?: number;
}

export interface Limiter {
  /** Waits for one request permit and `tokens` of token budget, honouring any pause. */
  acquire(tokens: number, signal?: AbortSignal): Promise<void>;
  /** Corrects the token budget once the real usage of a request is known. */
  settle(estimatedTokens: number, actualTokens: number): void;
  /** Holds every acquire for `ms` (extends a pause in force, never shortens it). */
  pauseFor(ms: number): void;
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
  readonly perMinute: number;
  readonly #bn: Bottleneck;
  readonly #capacity: number;
  readonly #ratePerMs: number;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  #shadow: number; // our own view of the reservoir (Bottleneck only reports it asynchronously)
  #carry = 0;
  #last: number;
  #available = 0; // taken from Bottleneck, not yet handed out
  #requesting = false;
  readonly #waiters: Waiter[] = [];

  constructor(perMinute: number, tickMs: number, now: () => number) {
    this.perMinute = perMinute;
    this.#now = now;
    this.#ratePerMs = perMinute / 60_000;
    this.#capacity = Math.max(1, Math.floor(this.#ratePerMs * tickMs));
    this.#shadow = this.#capacity;
    this.#last = now();
    this.#bn = new Bottleneck({ reservoir: this.#capacity, maxConcurrent: null, minTime: 0 });
    this.#timer = setInterval(() => this.#refill(), tickMs);
    this.#timer.unref?.();
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  #refill(): void {
    const t = this.#now();
    const add = (t - this.#last) * this.#ratePerMs + this.#carry;
    this.#last = t;
    const whole = Math.floor(add);
    this.#carry = add - whole;
    const grant = Math.max(0, Math.min(whole, this.#capacity - this.#shadow));
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
    if (this.#waiters.length === 0 || this.#requesting) return;
    // One weighted Bottleneck job fetches permits for as many waiters as one burst window holds.
    let want = 0;
    for (const w of this.#waiters) {
      if (want + w.n > this.#capacity) break;
      want += w.n;
    }
    want = Math.max(1, want - this.#available);
    this.#requesting = true;
    this.#bn
      .schedule({ weight: want }, async () => want)
      .then((got) => {
        this.#requesting = false;
        this.#shadow -= got;
        this.#available += got;
        this.#serve();
      })
      .catch((err: Error) => {
        this.#requesting = false;
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

export function createLimiter(options: LimiterOptions = {}): Limiter {
  const { rpm, tpm, tickMs = 100, now = Date.now } = { ...options };
  const requests = rpm ? new Budget(rpm, tickMs, now) : undefined;
  const tokens = tpm ? new Budget(tpm, tickMs, now) : undefined;
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
    state() {
      return {
        pausedUntil: pausedUntil > now() ? pausedUntil : 0,
        waitingForRequests: requests?.waiting ?? 0,
        waitingForTokens: tokens?.waiting ?? 0,
        rpm,
        tpm,
      };
    },
    async stop() {
      await Promise.all([requests?.stop(), tokens?.stop()]);
    },
  };
}
