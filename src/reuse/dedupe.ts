// --dedupe: records that ask exactly the same thing (the same `hash`: prompt, model, system
// instruction, generation config, schema) are sent once. The first is the representative; a
// duplicate gets its own record — its own id, line and kept fields — copied from the
// representative's answer, with `dedupedFrom` (the representative's id), `attempts: 0` and zero
// usage (it cost nothing, so summing usage gives what was billed).
//
// Where a duplicate finds the answer, in order: the representative still in flight (it waits,
// holding its slot of --concurrency: that is the bound on waiting duplicates, back-pressure
// rather than a growing map); answered but not yet written (a small map); on disk (the index:
// hash -> file, offset, length; the record is read back with one pread). Records already in the
// output directory are indexed at start, so a duplicate of one costs nothing on a rerun. A
// representative that fails passes its failure on; with --retry-failed old failures are not
// indexed, so they are asked again. A representative abandoned by a stop abandons its
// duplicates too (a rerun does them).

import { failureOf, isFailure, NO_USAGE, successOf, type InputRecord, type OutputRecord, type SuccessRecord } from '../records.js';
import { countFailure, type RunStats } from '../stats.js';
import { AnswersOnDisk } from './answers-on-disk.js';
import { paidUsageOf } from './response-cache.js';
import { embeddingSuccessOf, isEmbedding } from '../embed/embed-record.js';

type Work = (rec: InputRecord, signal: AbortSignal) => Promise<OutputRecord | null>;

/** Answered, not yet known on disk: at most this many kept (stdout has no disk). */
const UNWRITTEN_MAX = 4096;

export interface Dedupe {
  wrap(work: Work): Work;
  /** A copy of the answer already given to the same request (not yet written, or on disk); undefined: none. */
  lookup(rec: InputRecord): OutputRecord | undefined;
  /** An answer not asked through wrap() (a cache hit in batch mode): the same request copies it. */
  remember(r: OutputRecord): void;
  /** The writer's onLocated: where an answer landed. */
  located(r: OutputRecord, path: string, offset: number, bytes: number): void;
  /** Whether the request with this hash is answered already (on disk or this run): --dry-run's count. */
  knows(hash: string): boolean;
  /** A record found in the output directory at start; `weak` (a failure) does not replace a success. */
  known(hash: string, path: string, offset: number, bytes: number, weak?: boolean): void;
  close(): void;
}

/**
 * `rec`'s record, copied from the answer (or failure) `from` got for the same request: its own
 * identity and kept fields, `dedupedFrom`, no attempts, no usage. Counted in `stats`.
 */
export function copyAnswer(from: OutputRecord, rec: InputRecord, stats: RunStats): OutputRecord {
  stats.deduped++;
  if (isFailure(from)) {
    countFailure(stats, from.error.status);
    return failureOf(rec, 0, from.error, { dedupedFrom: from.id });
  }
  const s = from as SuccessRecord;
  stats.succeeded++;
  // What the answer cost when it was paid for: a cache hit's is kept while it is in memory; one
  // read back from disk is priced at the average cache hit (observe/cost.ts).
  const paid = paidUsageOf.get(from) ?? s.usage;
  if (s.cached === true && !paidUsageOf.has(from)) stats.savedTokens.dedupe.ofCached++;
  stats.savedTokens.dedupe.in += paid?.promptTokens ?? 0;
  stats.savedTokens.dedupe.out += paid?.responseTokens ?? 0;
  return answerFrom(s, rec, { dedupedFrom: from.dedupedFrom ?? from.id });
}

/**
 * `rec`'s success record holding the answer `s` already has — text and json, or a vector (one in
 * a binary shard is pointed at: the copy shares its row) — with no attempts and no usage, and
 * `extra` saying where it came from. What --dedupe and --redo-changed's moved answers write.
 */
export function answerFrom(s: SuccessRecord, rec: InputRecord, extra: Record<string, unknown>): SuccessRecord {
  if (isEmbedding(s)) return embeddingSuccessOf(rec, { embedding: s.embedding, shard: s.shard, row: s.row, dimensions: s.dimensions, model: s.model, usage: NO_USAGE }, 0, 0, extra);
  return successOf(rec, { response: s.response, model: s.model, finishReason: s.finishReason, usage: NO_USAGE, json: s.json }, 0, 0, extra);
}

export function createDedupe(o: { stats: RunStats }): Dedupe {
  const onDisk = new AnswersOnDisk();
  const pending = new Map<string, Promise<OutputRecord | null>>();
  const unwritten = new Map<string, OutputRecord>();
  const readBack = (hash: string) => onDisk.read(hash);

  const copyOf = (from: OutputRecord, rec: InputRecord) => copyAnswer(from, rec, o.stats);

  function remember(r: OutputRecord): void {
    if (r.hash === undefined || (r as { dedupedFrom?: unknown }).dedupedFrom !== undefined) return;
    unwritten.set(r.hash, r);
    if (unwritten.size > UNWRITTEN_MAX) unwritten.delete(unwritten.keys().next().value as string);
  }

  function lookup(rec: InputRecord): OutputRecord | undefined {
    const h = rec.hash;
    if (h === undefined || rec.invalid) return undefined;
    const done = unwritten.get(h) ?? readBack(h);
    return done && !(isFailure(done) && done.error.status === 'POST_FAILED') ? copyOf(done, rec) : undefined;
  }

  return {
    lookup,
    remember,
    wrap(work) {
      return async (rec, signal) => {
        const h = rec.hash;
        if (h === undefined || rec.invalid) return work(rec, signal);
        const inFlight = pending.get(h);
        if (inFlight) {
          const r = await inFlight;
          return r ? copyOf(r, rec) : null;
        }
        const done = lookup(rec);
        if (done) return done;
        const p = work(rec, signal);
        pending.set(h, p);
        try {
          const r = await p;
          if (r) remember(r);
          return r;
        } finally {
          pending.delete(h);
        }
      };
    },
    located(r, path, offset, bytes) {
      if (!r.hash || (r as { dedupedFrom?: unknown }).dedupedFrom !== undefined) return;
      onDisk.set(r.hash, path, offset, bytes);
      unwritten.delete(r.hash);
    },
    knows(hash) {
      return unwritten.has(hash) || onDisk.has(hash);
    },
    known(hash, path, offset, bytes, weak = false) {
      onDisk.set(hash, path, offset, bytes, weak);
    },
    close() {
      onDisk.close();
    },
  };
}
