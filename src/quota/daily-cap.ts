// DailyCap (--rpd): requests per day, counted by the Pacific-time calendar day (when Gemini's
// per-day quotas reset) and persisted in the output directory (.gempipe-usage.json), so two
// runs on one day share the cap. The count is saved every few seconds and at the end: a
// SIGKILL may forget the last seconds' requests (the server's own per-day 429 is the backstop).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { USAGE_FILE } from '../output-layout.js';
import type { RedisCounters } from './bottleneck-redis.js';


/** The calendar day in America/Los_Angeles, as YYYY-MM-DD. */
export function pacificDay(t = Date.now()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
}

/** Milliseconds until the next midnight in America/Los_Angeles. */
export function msUntilPacificMidnight(t = Date.now()): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(t);
  const get = (k: string) => Number(parts.find((p) => p.type === k)?.value ?? 0);
  // Some ICU versions print midnight as hour 24 with hour12: false.
  const elapsed = (((get('hour') % 24) * 60 + get('minute')) * 60 + get('second')) * 1000 + (t % 1000);
  return 86_400_000 - elapsed;
}

export function describeReset(t = Date.now()): string {
  const ms = msUntilPacificMidnight(t);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.ceil((ms % 3_600_000) / 60_000);
  return `the quota resets at midnight Pacific time, in ${h} h ${m} min`;
}

export class DailyCap {
  readonly limit: number;
  #day: string;
  #used = 0;
  readonly #file?: string;
  readonly #model: string;
  readonly #now: () => number;
  #timer?: ReturnType<typeof setInterval>;
  #dirty = false;

  /** @param dir output directory to persist the count in, or undefined (stdout runs: this run only). */
  constructor(limit: number, model: string, dir?: string, now: () => number = Date.now) {
    this.limit = limit;
    this.#model = model;
    this.#now = now;
    this.#day = pacificDay(now());
    if (dir) {
      this.#file = join(dir, USAGE_FILE);
      try {
        const u = JSON.parse(readFileSync(this.#file, 'utf8')) as { day?: string; requests?: Record<string, number> };
        if (u.day === this.#day) this.#used = Number(u.requests?.[model] ?? 0) || 0;
      } catch {
        // no file yet, or unreadable: start at 0
      }
      this.#timer = setInterval(() => this.save(), 5000);
      this.#timer.unref?.();
    }
  }

  get used(): number {
    return this.#used;
  }

  /** Takes one request from today's cap; false when the cap is reached. */
  take(): boolean {
    const day = pacificDay(this.#now());
    if (day !== this.#day) {
      this.#day = day;
      this.#used = 0;
    }
    if (this.#used >= this.limit) return false;
    this.#used++;
    this.#dirty = true;
    return true;
  }

  save(): void {
    if (!this.#file || !this.#dirty) return;
    this.#dirty = false;
    let requests: Record<string, number> = {};
    try {
      const u = JSON.parse(readFileSync(this.#file, 'utf8')) as { day?: string; requests?: Record<string, number> };
      if (u.day === this.#day && u.requests) requests = u.requests;
    } catch {
      // fresh file
    }
    requests[this.#model] = this.#used;
    const tmp = `${this.#file}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ day: this.#day, timeZone: 'America/Los_Angeles', requests }) + '\n');
      renameSync(tmp, this.#file);
    } catch {
      // best effort: the server's per-day 429 still stops the run
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.save();
  }
}

/**
 * --rpd with --redis: one count per quota id, model and Pacific day in Redis, shared by every
 * process. Requests are reserved in chunks (INCRBY, one round trip per chunk) and the part of a
 * chunk over the cap is given back at once, so the processes together never pass the cap;
 * what a process has reserved and not used is given back when it stops (a SIGKILLed one keeps
 * its unused reservation counted: the cap errs on the side of fewer requests).
 */
export class SharedDailyCap {
  readonly limit: number;
  readonly #client: RedisCounters;
  readonly #prefix: string;
  readonly #now: () => number;
  #day: string;
  #allowance = 0;
  #used = 0;
  #known = 0;
  #reserving?: Promise<void>;
  #spent = false;

  constructor(limit: number, client: RedisCounters, quotaId: string, model: string, now: () => number = Date.now) {
    this.limit = limit;
    this.#client = client;
    this.#prefix = `gempipe:${quotaId}:rpd:${model}:`;
    this.#now = now;
    this.#day = pacificDay(now());
  }

  /** Requests counted today by every process, as last seen. */
  get used(): number {
    return Math.max(this.#known, this.#used);
  }

  async take(): Promise<boolean> {
    for (;;) {
      const day = pacificDay(this.#now());
      if (day !== this.#day) {
        this.#day = day;
        this.#allowance = 0;
        this.#spent = false;
      }
      if (this.#allowance > 0) {
        this.#allowance--;
        this.#used++;
        return true;
      }
      if (this.#spent) return false;
      this.#reserving ??= this.#reserve().finally(() => (this.#reserving = undefined));
      await this.#reserving;
    }
  }

  async #reserve(): Promise<void> {
    const chunk = Math.max(1, Math.min(50, Math.ceil(this.limit / 100)));
    const key = this.#prefix + this.#day;
    const total = await this.#client.incrby(key, chunk);
    await this.#client.expire(key, 2 * 86_400);
    const over = Math.max(0, total - this.limit);
    const got = Math.max(0, chunk - over);
    if (over > 0) await this.#client.decrby(key, Math.min(chunk, over)); // never counted past the cap
    this.#known = Math.min(total, this.limit);
    this.#allowance += got;
    if (got === 0) this.#spent = true;
  }

  async stop(): Promise<void> {
    if (this.#allowance > 0) {
      const n = this.#allowance;
      this.#allowance = 0;
      await this.#client.decrby(this.#prefix + this.#day, n).catch(() => {});
    }
  }
}
