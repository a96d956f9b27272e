// --redo-changed: a line to answer whose request was answered in the output directory already —
// in a shard, or in superseded.jsonl where --redo-changed moved the records of changed lines —
// reuses that answer instead of paying again: inserting or deleting a line moves every line below
// it, and each moved line's request was paid for. Written as a normal record with "reusedFrom"
// (the id that held the answer), attempts 0 and zero usage. Successes only: a failure is asked again.

import { join } from 'node:path';
import { SUPERSEDED_FILE, SHARD_RE } from '../output/layout.js';
import { listRecordFiles } from '../output/record-files.js';
import { scanJsonl } from '../output/output-state.js';
import { isFailure, type InputRecord, type SuccessRecord } from '../records.js';
import type { RunStats } from '../stats.js';
import { AnswersOnDisk } from './answers-on-disk.js';
import { answerFrom } from './dedupe.js';
import type { ResponseCache } from './response-cache.js';

export interface MovedAnswers {
  /** Distinct requests answered in the directory. */
  readonly size: number;
  /** The record of `rec` answered from the directory ("reusedFrom", counted); undefined: none. */
  lookup(rec: InputRecord): SuccessRecord | undefined;
  close(): void;
}

/** Indexes the successes of `dir`'s shards and superseded.jsonl by request hash (after --redo-changed moved its lines). */
export async function indexMovedAnswers(dir: string, stats: RunStats): Promise<MovedAnswers> {
  const onDisk = new AnswersOnDisk();
  const files = [...listRecordFiles(dir).filter((n) => SHARD_RE.test(n)), SUPERSEDED_FILE];
  for (const name of files) {
    const path = join(dir, name);
    try {
      await scanJsonl(path, (ref, at) => {
        // A --dedupe copy holds the same answer: used only when nothing else does.
        if (ref.hashText && !ref.failure) onDisk.set(ref.hashText, path, at.offset, at.bytes, ref.copy);
      }, false);
    } catch {
      /* none yet (superseded.jsonl), or unreadable: what it holds is asked again */
    }
  }
  return {
    get size() {
      return onDisk.size;
    },
    lookup(rec) {
      if (rec.hash === undefined || rec.invalid) return undefined;
      const from = onDisk.read(rec.hash);
      if (!from || isFailure(from)) return undefined;
      stats.reused++;
      stats.succeeded++;
      const s = from as SuccessRecord;
      return answerFrom(s, rec, { reusedFrom: s.reusedFrom ?? s.id });
    },
    close: () => onDisk.close(),
  };
}

/** The directory's moved answers first, then the --cache (if any): one ResponseCache every runner consults. */
export function movedThenCache(moved: MovedAnswers, cache: ResponseCache | undefined): ResponseCache {
  const both: ResponseCache = {
    lookup: (rec) => moved.lookup(rec) ?? cache?.lookup(rec),
    store: (r, rec) => cache?.store(r, rec),
    wrap: (work) => async (rec, signal) => {
      const hit = both.lookup(rec);
      if (hit) return hit;
      const r = await work(rec, signal);
      if (r) cache?.store(r, rec);
      return r;
    },
    close: async () => {
      moved.close();
      await cache?.close();
    },
  };
  return both;
}
