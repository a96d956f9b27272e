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
import { patchRedisDatastore } from './bottleneck-redis.js';

/** The refill step: a burst of at most this many ms of the rate reaches the server at once. */
export const REFILL_MS = 50;

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Shared through Redis: a refill step costs a round trip per process, so it is longer. */
export const REDIS_REFILL_MS = 200;

/** reservoirIncreaseAmount (a whole number) and the interval that gives `perMinute` exactly. */
export function refillStep(perMinute: number, stepMs = REFILL_MS): { amount: number; intervalMs: number } {
  const perMs = perMinute / 60_000;
  const amount = Math.max(1, Math.round(perMs * stepMs));
  return { amount, intervalMs: amount / perMs };
}

/** A budget shared by every process that names the same id on one Redis (Bottleneck clustering). */
export interface BudgetCluster {
  connection: Bottleneck.IORedisConnection;
  /** Bottleneck's limiter id: every process with this id shares the reservoir. */
  id: string;
  /** A call to Redis failed (told once until one succeeds again). */
  onTrouble?: (err: Error) => void;
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
  readonly #stepMs: number;
  readonly #cluster?: BudgetCluster;
  #troubled = false;
  #appliedAt = 0;
  #applied = 0;

  /** `stepMs`: the refill step (a burst of at most that much of the rate is handed out at once). */
  constructor(perMinute: number, cluster?: BudgetCluster, stepMs?: number) {
    this.#perMinute = perMinute;
    this.#cluster = cluster;
    this.#stepMs = stepMs ?? (cluster ? REDIS_REFILL_MS : REFILL_MS);
    const { amount, intervalMs } = refillStep(perMinute, this.#stepMs);
    this.#amount = amount;
    this.#applied = perMinute;
    const refill = { reservoir: amount, reservoirIncreaseAmount: amount, reservoirIncreaseInterval: intervalMs, reservoirIncreaseMaximum: amount };
    if (cluster) {
      // The heartbeat runs the refill script: at most one refill interval apart (a longer one
      // gave 25% of the rate), and the settings expire 10 minutes after the last process left.
      this.#bn = new Bottleneck({
        datastore: 'ioredis', connection: cluster.connection, id: cluster.id, clearDatastore: false, timeout: 600_000,
        maxConcurrent: null, minTime: 0, heartbeatInterval: Math.max(10, Math.floor(intervalMs)), ...refill,
      });
      this.#bn.on('error', (e: Error) => this.#trouble(e));
      patchRedisDatastore(this.#bn);
    } else {
      this.#bn = new Bottleneck({ maxConcurrent: null, minTime: 0, heartbeatInterval: 10, ...refill });
      useDriftFreeRefill(this.#bn);
    }
  }

  #trouble(e: Error): void {
    if (this.#troubled) return;
    this.#troubled = true;
    this.#cluster?.onTrouble?.(e);
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
    this.#amount = refillStep(perMinute, this.#stepMs).amount;
    // Shared settings are a Redis write for every process: small steps of a growing rate are
    // batched (at most one write a second unless the rate moved by 1% or more).
    if (this.#cluster && Math.abs(perMinute - this.#applied) < this.#applied * 0.01 && Date.now() - this.#appliedAt < 1000) return;
    this.#applySettings();
  }

  // The cap is one refill's worth, but never below the weight of a job already waiting in
  // Bottleneck (a rate cut must not strand it: a job heavier than the cap never runs).
  #applySettings(): void {
    const { amount, intervalMs } = refillStep(this.#perMinute, this.#stepMs);
    this.#applied = this.#perMinute;
    this.#appliedAt = Date.now();
    const p = this.#bn.updateSettings({ reservoirIncreaseAmount: amount, reservoirIncreaseInterval: intervalMs, reservoirIncreaseMaximum: Math.max(amount, this.#fetching) }) as unknown;
    if (p instanceof Promise) p.catch((e: Error) => this.#trouble(e));
  }

  /** Gives back (positive) or charges (negative) budget once a request's real cost is known. */
  adjust(delta: number): void {
    if (delta !== 0) this.#bn.incrementReservoir(delta).catch((e: Error) => this.#trouble(e));
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
    // Shared: a batch of at most a quarter of a refill, so that what one process leaves in the
    // reservoir is not stranded below the weight another one waits for.
    const batch = this.#cluster ? Math.max(1, Math.ceil(this.#amount / 4)) : this.#amount;
    let want = 0;
    for (const w of this.#waiters) {
      if (want > 0 && want + w.n > batch) break;
      want += w.n;
    }
    want = Math.max(1, want - this.#available);
    this.#fetching = want;
    // A job that a killed process leaves behind in Redis expires (its running weight would
    // otherwise stay counted); permits are taken at its start, so the job itself is instant.
    this.#bn.schedule({ weight: want, ...(this.#cluster ? { expiration: 30_000 } : {}) }, async () => want).then(
      (got) => {
        this.#troubled = false;
        const stranded = this.#fetching > this.#amount;
        this.#fetching = 0;
        if (stranded) this.#applySettings();
        this.#available += got;
        this.#serve();
      },
      (err: Error) => {
        this.#fetching = 0;
        if (this.#cluster && !this.#stopped) {
          // Redis is away or failing: the waiters wait (sending pauses) and the fetch is retried.
          this.#trouble(err);
          setTimeout(() => this.#serve(), 500).unref?.();
          return;
        }
        for (const w of this.#waiters.splice(0)) w.reject(err);
        this.#serve();
      },
    );
  }

  #stopped = false;

  async stop(): Promise<void> {
    this.#stopped = true;
    const err = abortError();
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.#serve();
    await this.#bn.stop({ dropWaitingJobs: true }).catch(() => undefined);
    if (this.#cluster) {
      // Stops its heartbeat and leaves the shared connection open (2.19.5 returns no promise here).
      try {
        await Promise.resolve(this.#bn.disconnect(false) as unknown);
      } catch {
        /* already gone */
      }
    }
  }
}
