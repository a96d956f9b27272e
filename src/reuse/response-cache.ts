// --cache PATH: a persistent response cache in LMDB (lmdb-js). The key is the full SHA-256 of
// what was asked (the request's shape, the prompt and whatever else the record asks — an
// embedding's title, attachments, a request line, the context: RequestSpec.cacheKeyOf), never the API key; the
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

import type { RootDatabase } from 'lmdb';
import { isFailure, NO_USAGE, successOf, type InputRecord, type OutputRecord, type SuccessRecord, type Usage } from '../records.js';
import type { RequestSpec } from '../request/spec.js';
import { importOptional } from '../util/optional.js';
import type { RunStats } from '../stats.js';
import { embeddingSuccessOf, isEmbedding } from '../embed/embed-record.js';

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
  /** `gempipe embed`: the vector (then `r` and `f` are empty) */
  e?: number[];
  /** stored at (ms since epoch) */
  t: number;
}

type Work = (rec: InputRecord, signal: AbortSignal) => Promise<OutputRecord | null>;

export interface ResponseCache {
  /** A hit: the record answered from the cache ("cached": true, counted); undefined: a miss. */
  lookup(rec: InputRecord): SuccessRecord | undefined;
  /** Keeps a paid answer (successes only; best effort); `rec`, its input, keys what else it asked (a request line, attachments, a context). */
  store(r: OutputRecord, rec: InputRecord): void;
  /** `work` behind the cache: a hit is not asked; a paid answer is kept. */
  wrap(work: Work): Work;
  close(): Promise<void>;
}

/**
 * A hit's record carries zero usage (summing usage gives what was billed); what its answer cost
 * when it was paid for is kept here, for --dedupe's copies of it to count as saved.
 */
export const paidUsageOf = new WeakMap<OutputRecord, Usage>();

/** lmdb's native binding is loaded here, when a cache is opened: not by every invocation (--help). */
async function openCache(path: string, readOnly = false): Promise<RootDatabase<Entry, string>> {
  const { open } = await importOptional<typeof import('lmdb')>('lmdb');
  return open<Entry, string>({ path, compression: true, ...(readOnly ? { readOnly: true } : {}) });
}

/** `readOnly`: lookups only (--dry-run); nothing is stored. */
export async function createResponseCache(o: { path: string; spec: RequestSpec; ttlMs?: number; stats: RunStats; readOnly?: boolean }): Promise<ResponseCache> {
  const db = await openCache(o.path, o.readOnly);
  // A record asking more than its prompt is keyed by all of it (cacheKeyOf: cacheKey(prompt) for a text record).
  const keyOf = (rec: InputRecord) => o.spec.cacheKeyOf(rec);
  const fresh = (e: Entry) => o.ttlMs === undefined || Date.now() - e.t <= o.ttlMs;
  const cache: ResponseCache = {
    lookup(rec) {
      if (rec.invalid) return undefined;
      const hit = db.get(keyOf(rec));
      if (!hit || !fresh(hit)) return undefined;
      o.stats.cached++;
      o.stats.succeeded++;
      o.stats.savedTokens.cache.in += hit.u.promptTokens ?? 0;
      o.stats.savedTokens.cache.out += hit.u.responseTokens ?? 0;
      if (hit.e) return embeddingSuccessOf(rec, { embedding: hit.e, model: hit.m, usage: NO_USAGE }, 0, 0, { cached: true });
      const r = successOf(rec, { response: hit.r, model: hit.m, finishReason: hit.f, usage: NO_USAGE, json: hit.j }, 0, 0, { cached: true });
      paidUsageOf.set(r, hit.u);
      return r;
    },
    store(r, rec) {
      if (o.readOnly || isFailure(r) || r.cached === true || r.dedupedFrom !== undefined) return;
      if (isEmbedding(r)) {
        if (r.embedding) void db.put(keyOf(rec), { r: '', f: '', m: r.model, u: r.usage, e: r.embedding, t: Date.now() }).catch(() => {});
        return;
      }
      const e: Entry = { r: r.response, f: r.finishReason, m: r.model, u: r.usage, t: Date.now() };
      if (r.json !== undefined) e.j = r.json;
      void db.put(keyOf(rec), e).catch(() => {}); // best effort: a full disk must not fail the record
    },
    wrap(work) {
      return async (rec, signal) => {
        const hit = cache.lookup(rec);
        if (hit) return hit;
        const r = await work(rec, signal);
        if (r) cache.store(r, rec);
        return r;
      };
    },
    async close() {
      await db.close();
    },
  };
  return cache;
}

/** `gempipe cache stats PATH`: entries, size on disk, age range, per model. */
export async function cacheStats(path: string): Promise<{ entries: number; bytes: number; oldest?: number; newest?: number; byModel: Record<string, number> }> {
  const { statSync } = await import('node:fs');
  const db = await openCache(path);
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
  const db = await openCache(path);
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
