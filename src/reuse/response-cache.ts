// --cache PATH: a persistent response cache in LMDB (lmdb-js). The key is the full SHA-256 of
// what was asked (the request's shape and the prompt: RequestSpec.cacheKey), never the API key; the
// value is the answer (text, finishReason, model, usage, parsed json) and when it was stored.
// A hit is written as a normal record with "cached": true, attempts 0 and zero usage, and costs
// no request and no quota. Only successes are stored. Only deterministic requests
// (--temperature 0) are read or written unless --cache-all.
//
// Why LMDB: ACID with copy-on-write pages, so a process killed mid-write leaves the last committed
// state (no repair step); many processes may read and write one cache at once (a lock file and
// MVCC readers: two gempipe runs share it safely); reads are memory-mapped (~1–2 µs); writes are
// batched into one transaction per tick by lmdb-js; values compressed. lmdb-js ships prebuilt
// binaries as npm packages (@lmdb/lmdb-<platform>), so `npm ci` installs it from the registry
// alone on Node 20 and 22, no compiler needed.

import { open, type RootDatabase } from 'lmdb';
import { isFailure, NO_USAGE, successOf, type InputRecord, type OutputRecord, type Usage } from '../records.js';
import type { RequestSpec } from '../request/spec.js';
import type { RunStats } from '../stats.js';

interface Entry {
  /** response text */
  r: string;
  /** finishReason */
  f: string;
  /** model */
  m: string;
  /** usage when it was paid for */
  u: Usage;
  /** parsed JSON (--json-schema) */
  j?: unknown;
  /** stored at (ms since epoch) */
  t: number;
}

type Work = (rec: InputRecord, signal: AbortSignal) => Promise<OutputRecord | null>;

export interface ResponseCache {
  wrap(work: Work): Work;
  close(): Promise<void>;
}

export function openCache(path: string): RootDatabase<Entry, string> {
  return open<Entry, string>({ path, compression: true });
}

export function createResponseCache(o: { path: string; spec: RequestSpec; ttlMs?: number; stats: RunStats }): ResponseCache {
  const db = openCache(o.path);
  const keyOf = o.spec.cacheKey;
  const fresh = (e: Entry) => o.ttlMs === undefined || Date.now() - e.t <= o.ttlMs;
  return {
    wrap(work) {
      return async (rec, signal) => {
        if (rec.invalid) return work(rec, signal);
        const key = keyOf(rec.prompt);
        const hit = db.get(key);
        if (hit && fresh(hit)) {
          o.stats.cached++;
          o.stats.succeeded++;
          return successOf(rec, { response: hit.r, model: hit.m, finishReason: hit.f, usage: NO_USAGE, json: hit.j }, 0, 0, { cached: true });
        }
        const r = await work(rec, signal);
        if (r && !isFailure(r)) {
          const e: Entry = { r: r.response, f: r.finishReason, m: r.model, u: r.usage, t: Date.now() };
          if (r.json !== undefined) e.j = r.json;
          void db.put(key, e).catch(() => {}); // best effort: a full disk must not fail the record
        }
        return r;
      };
    },
    async close() {
      await db.close();
    },
  };
}

/** `gempipe cache stats PATH`: entries, size on disk, age range, per model. */
export async function cacheStats(path: string): Promise<{ entries: number; bytes: number; oldest?: number; newest?: number; byModel: Record<string, number> }> {
  const { statSync } = await import('node:fs');
  const db = openCache(path);
  try {
    let entries = 0;
    let oldest: number | undefined;
    let newest: number | undefined;
    const byModel: Record<string, number> = {};
    for (const { value } of db.getRange()) {
      entries++;
      oldest = Math.min(oldest ?? value.t, value.t);
      newest = Math.max(newest ?? value.t, value.t);
      byModel[value.m] = (byModel[value.m] ?? 0) + 1;
    }
    return { entries, bytes: statSync(path).size, oldest, newest, byModel };
  } finally {
    await db.close();
  }
}

/** `gempipe cache prune PATH --older-than D`: removes entries stored more than D ago. */
export async function pruneCache(path: string, olderThanMs: number): Promise<{ removed: number; kept: number }> {
  const db = openCache(path);
  try {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let kept = 0;
    await db.transaction(() => {
      for (const { key, value } of db.getRange()) {
        if (value.t < cutoff) {
          db.remove(key);
          removed++;
        } else kept++;
      }
    });
    return { removed, kept };
  } finally {
    await db.close();
  }
}

/** `7d`, `12h`, `30m`, `45s`, `500ms` -> milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
