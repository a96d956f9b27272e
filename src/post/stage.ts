// createPostStage(): --post, a user's function run on every success record in a worker-thread
// pool (piscina), so CPU-heavy steps (counting, parsing, scoring) stay off the event loop that
// feeds the API. It is a parallel stage (parallel.ts) of one slot per worker: it holds its write
// callback while they are busy, so back-pressure holds across the pool and nothing queues
// without bound. What the function returns is merged into the record (an object of fields), or
// replaces it (an object with the record's own id); a throw, a timeout or a bad return value
// makes the record a POST_FAILED failure that keeps the paid answer (`response`). Failure
// records pass through untouched.

import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Duplex } from 'node:stream';
import type { Piscina } from 'piscina';
import { UsageError } from '../errors.js';
import { loadPostFunction } from './worker.js';
import { failureOf, isFailure, type FailureRecord, type OutputRecord } from '../records.js';
import { countFailure, type RunStats } from '../stats.js';
import { createParallelStage } from '../stages/parallel.js';

/** The built file next to this one (tests run src/ through vitest; worker threads need the built JS). */
export function builtFile(rel: string): string {
  const here = fileURLToPath(new URL(rel, import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL(`../../dist/${rel.replace(/^\.\.\//, '')}`, import.meta.url));
}

export interface PostSpec {
  /** file: URL of the module. */
  url: string;
  exportName?: string;
  /** As given, for messages. */
  given: string;
}

/** Parses `MODULE[:export]` (or `builtin:NAME`) relative to `cwd`. */
export function parsePostSpec(spec: string, cwd = process.cwd()): PostSpec {
  if (spec.startsWith('builtin:')) {
    const name = spec.slice('builtin:'.length);
    if (name !== 'wordcount') throw new UsageError(`Unknown \`--post ${spec}\`: the built-in post functions are builtin:wordcount`);
    return { url: pathToFileURL(builtFile('../post/wordcount.js')).href, given: spec };
  }
  const m = /^(.+?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec);
  if (!m) throw new UsageError(`Expected \`--post\` to be MODULE[:export], got \`${spec}\``);
  const path = isAbsolute(m[1]) ? m[1] : resolve(cwd, m[1]);
  if (!existsSync(path)) throw new UsageError(`Cannot use \`--post ${spec}\`: ${path} does not exist`);
  return { url: pathToFileURL(path).href, exportName: m[2], given: spec };
}

/** Loads the module once in this thread, so a bad one is a usage error before any request. */
export async function checkPostSpec(spec: PostSpec): Promise<void> {
  try {
    await loadPostFunction(spec.url, spec.exportName);
  } catch (e) {
    throw new UsageError(`Cannot use \`--post ${spec.given}\`: ${(e as Error).message}`);
  }
}

/**
 * A pool of `workers` threads running post/worker.js. piscina is loaded on first use only: it
 * costs ~9 MB of RSS at load (measured), which a run without --post should not pay.
 */
export async function createPool(workers: number): Promise<Piscina> {
  const { Piscina } = await import('piscina');
  return new Piscina({ filename: builtFile('../post/worker.js'), minThreads: workers, maxThreads: workers, concurrentTasksPerWorker: 1, idleTimeout: 60_000 });
}

export interface PostStageOptions {
  spec: PostSpec;
  /** Worker threads; 0 runs the function on the event loop (no timeout can stop it there). */
  workers: number;
  /** Per record: a post function still running after this is stopped (its thread replaced). */
  timeoutMs: number;
  ordered?: boolean;
  /** Hard stop: posts in progress are stopped; their records keep the answer (POST_FAILED). */
  signal?: AbortSignal;
  stats?: RunStats;
}

const IDENTITY = ['id', 'source', 'line', 'prompt', 'response'] as const;

function describe(v: unknown): string {
  return Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
}

export function createPostStage(options: PostStageOptions): { stage: Duplex; close(): Promise<void> } {
  const o = { ...options };
  const pool = o.workers > 0 ? createPool(o.workers) : undefined;
  const inline = pool ? undefined : loadPostFunction(o.spec.url, o.spec.exportName);
  const stats = o.stats;

  function failed(rec: OutputRecord, message: string): FailureRecord {
    if (stats) {
      stats.succeeded--;
      countFailure(stats, 'POST_FAILED');
    }
    // The paid answer stays in the record: fixing the post step never needs another request.
    const { id: _id, hash: _hash, source: _source, line: _line, prompt: _prompt, attempts, ...paid } = rec;
    return failureOf(rec, attempts, { status: 'POST_FAILED', code: 0, message: `--post ${o.spec.given}: ${message}` }, paid);
  }

  function merge(rec: OutputRecord, out: unknown): OutputRecord {
    if (out === undefined || out === null) return rec;
    if (typeof out !== 'object' || Array.isArray(out)) return failed(rec, `returned ${describe(out)}; expected an object of fields to add (or nothing)`);
    const fields = out as Record<string, unknown>;
    const identity = Object.fromEntries(IDENTITY.filter((k) => k in rec).map((k) => [k, rec[k as keyof OutputRecord]]));
    // The record's own id back: a replacement record (its identity kept); else fields to add.
    return fields.id === rec.id ? ({ ...fields, ...identity } as OutputRecord) : ({ ...rec, ...fields, ...identity } as OutputRecord);
  }

  const stage = createParallelStage<OutputRecord, OutputRecord>({
    // One record per worker, none queued inside piscina: --post-timeout then times the function
    // itself, never the wait for a thread.
    concurrency: Math.max(1, o.workers),
    ordered: o.ordered,
    signal: o.signal,
    work: async (rec, signal) => {
      if (isFailure(rec)) return rec;
      const t = Date.now();
      const timeout = AbortSignal.timeout(o.timeoutMs);
      try {
        const out: unknown = pool
          ? await (await pool).run({ url: o.spec.url, exportName: o.spec.exportName, record: rec }, { signal: AbortSignal.any([signal, timeout]) })
          : await (await inline!)(structuredClone(rec) as Record<string, unknown>);
        return merge(rec, out);
      } catch (e) {
        if (signal.aborted) return failed(rec, 'stopped before it finished (the run was interrupted)');
        if (timeout.aborted) return failed(rec, `did not finish within --post-timeout ${o.timeoutMs} ms`);
        return failed(rec, (e as Error)?.message ?? String(e));
      } finally {
        if (stats) stats.postMs += Date.now() - t;
      }
    },
  });
  return {
    stage,
    async close() {
      await (await pool)?.destroy();
    },
  };
}
