// Budget: one rate-limited resource (requests or input tokens per minute), one Bottleneck
// reservoir, one counter. Bottleneck owns the refill (reservoirIncreaseAmount every
// reservoirIncreaseInterval, capped at one interval's worth, made drift-free by
// bottleneck-refill.ts), which is also what its Redis clustering runs (SPEC §12). Callers are
// served FIFO; permits are fetched by one weighted job for as many callers as one interval
// holds, never one job per request (each job costs ~90 µs of CPU and, as shipped, several
// setTimeout(0) yields: ~430 jobs/s at most here — STYLE "Facts that bite").

import Bottleneck from 'bottleneck';
import { abortError } from '../util/sleep.js';
import { useDriftFreeRefill } from './bottleneck-refill.js';

/** The refill step: a burst of at most this many ms of the rate reaches the server at once. */
export const REFILL_MS = 50;

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** reservoirIncreaseAmount (a whole number) and the interval that gives `perMinute` exactly. */
export function refillStep(perMinute: number): { amount: number; intervalMs: number } {
  const perMs = perMinute / 60_000;
  const amount = Math.max(1, Math.round(perMs * REFILL_MS));
  return { amount, intervalMs: amount / perMs };
}

export class Budget {
  #perMinute: number;
  #amount: number;
  readonly #bn: Bottleneck;
  /** Permits Bottleneck granted that no caller has taken yet. */
  #available = 0;
  /** Weight of the job waiting in Bottleneck, 0 when none. */
  #fetching = 0;
  readonly #waiters: Waiter[] = [];
  #keepAlive?: ReturnType<typeof setInterval>;
  #waited = false;

  constructor(perMinute: number) {
    this.#perMinute = perMinute;
    const { amount, intervalMs } = refillStep(perMinute);
    this.#amount = amount;
    this.#bn = new Bottleneck({
      maxConcurrent: null, minTime: 0, heartbeatInterval: 10,
      reservoir: amount, reservoirIncreaseAmount: amount, reservoirIncreaseInterval: intervalMs, reservoirIncreaseMaximum: amount,
    });
    useDriftFreeRefill(this.#bn);
  }

  get perMinute(): number {
    return this.#perMinute;
  }

  /** Callers waiting for this budget now: the rate is what holds them back. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Whether a caller had to wait since the last call (the rate bound), then forgets it. */
  consumeWaited(): boolean {
    const w = this.#waited || this.#waiters.length > 0;
    this.#waited = false;
    return w;
  }

  setPerMinute(perMinute: number): void {
    if (Math.abs(perMinute - this.#perMinute) < 1e-9) return;
    this.#perMinute = perMinute;
    this.#amount = refillStep(perMinute).amount;
    this.#applySettings();
  }

  // The cap is one refill's worth, but never below the weight of a job already waiting in
  // Bottleneck (a rate cut must not strand it: a job heavier than the cap never runs).
  #applySettings(): void {
    const { amount, intervalMs } = refillStep(this.#perMinute);
    void this.#bn.updateSettings({ reservoirIncreaseAmount: amount, reservoirIncreaseInterval: intervalMs, reservoirIncreaseMaximum: Math.max(amount, this.#fetching) });
  }

  /** Gives back (positive) or charges (negative) budget once a request's real cost is known. */
  adjust(delta: number): void {
    if (delta !== 0) void this.#bn.incrementReservoir(delta);
  }

  /** Waits for `n` units. More than one refill holds is taken as debt: it waits its share later. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const now = Math.min(n, this.#amount);
    const debt = n - now;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { n: now, resolve: () => (debt > 0 && this.adjust(-debt), resolve()), reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(abortError(signal));
          this.#serve();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
      this.#serve();
      if (this.#waiters.includes(w)) this.#waited = true;
    });
  }

  #serve(): void {
    while (this.#waiters.length > 0 && this.#available >= this.#waiters[0].n) {
      const w = this.#waiters.shift()!;
      this.#available -= w.n;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    // Bottleneck's heartbeat is unref'd: keep the process alive while callers wait on it.
    if (this.#waiters.length === 0) {
      if (this.#keepAlive) clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
      return;
    }
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
    if (this.#fetching > 0) return;
    let want = 0;
    for (const w of this.#waiters) {
      if (want + w.n > this.#amount) break;
      want += w.n;
    }
    want = Math.max(1, want - this.#available);
    this.#fetching = want;
    this.#bn.schedule({ weight: want }, async () => want).then(
      (got) => {
        const stranded = this.#fetching > this.#amount;
        this.#fetching = 0;
        if (stranded) this.#applySettings();
        this.#available += got;
        this.#serve();
      },
      (err: Error) => {
        this.#fetching = 0;
        for (const w of this.#waiters.splice(0)) w.reject(err);
        this.#serve();
      },
    );
  }

  async stop(): Promise<void> {
    const err = abortError();
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.#serve();
    await this.#bn.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }
}
