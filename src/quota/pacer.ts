// Pacer: requests leave spaced at the rate, never as a burst (SPEC §3). A permit comes from a
// Budget (one Bottleneck reservoir, refilled by Bottleneck — shared by every process under
// --redis, its refill step small so the cluster never hands out more than ~20 ms of the rate at
// once), then waits for its place on this process's own grid of 1/rate (a GCRA: each release at
// max(now, last + 1/rate)). A batch of permits from one Bottleneck job therefore still leaves one
// request at a time, and after a pause the waiting callers leave at the pace, not together.

import { abortError } from '../util/sleep.js';
import { Budget, type BudgetCluster } from './budget.js';

interface Waiter {
  go: () => void;
  fail: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Bursts the cluster may hand out at once: this long of the rate. */
export const PACER_STEP_MS = 20;

export class Pacer {
  readonly #budget: Budget;
  #perSec: number;
  #next = 0;
  /** Callers waiting for their place on the grid (FIFO). */
  readonly #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waited = false;

  constructor(perSec: number, cluster?: BudgetCluster) {
    this.#perSec = perSec;
    this.#budget = new Budget(perSec * 60, cluster, PACER_STEP_MS);
  }

  get perSec(): number {
    return this.#perSec;
  }

  /** Callers waiting on the rate now (for a permit or for their place). */
  get waiting(): number {
    return this.#budget.waiting + this.#queue.length;
  }

  /** Whether a caller had to wait since the last call (the rate bound), then forgets it. */
  consumeWaited(): boolean {
    const w = this.#waited || this.#queue.length > 0;
    this.#waited = false;
    return this.#budget.consumeWaited() || w;
  }

  setRate(perSec: number): void {
    if (Math.abs(perSec - this.#perSec) < 1e-9) return;
    this.#perSec = perSec;
    this.#budget.setPerMinute(perSec * 60);
  }

  /** Waits for a permit, then for this request's place on the grid. */
  async take(signal?: AbortSignal): Promise<void> {
    await this.#budget.take(1, signal);
    const now = Date.now();
    if (this.#queue.length === 0 && now >= this.#next) {
      this.#next = now + 1000 / this.#perSec;
      return;
    }
    if (signal?.aborted) throw abortError(signal);
    this.#waited = true;
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { go: resolve, fail: reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#queue.push(w);
      this.#arm();
    });
  }

  #arm(): void {
    if (this.#timer || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const w = this.#queue.shift();
      if (w) {
        if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
        this.#next = Math.max(this.#next, Date.now() - 1) + 1000 / this.#perSec;
        w.go();
      }
      this.#arm();
    }, Math.max(0, this.#next - Date.now()));
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const err = abortError();
    for (const w of this.#queue.splice(0)) w.fail(err);
    await this.#budget.stop();
  }
}
