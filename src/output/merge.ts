// gempipe merge -o OUT DIR...: joins the output directories of a job's parts (--partition) into
// one exactly-once directory, once they are every finished part of one job (merge-parts.ts; or
// --allow-partial, said). Two passes: the first reads
// every record and refuses conflicts — one id answered differently in two places (another
// request hash, or another response to the same request) — before anything is written; the
// second streams each id once into the rotating writer through pipeline() (a success beats a
// failure of the same id; a record found twice counts once). OUT must hold no records yet; it is
// locked while merging, and the parts must not be in use.

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutputStateError, UsageError } from '../errors.js';
import { writeJsonAtomic } from './atomic.js';
import { FAILURES_FILE, JOB_FILE } from './layout.js';
import { holdsRecords, listRecordFiles, readJsonl } from './record-files.js';
import { readJobFile, shapeKey } from './job-file.js';
import { checkParts } from './merge-parts.js';
import { idHash } from '../partition.js';
import { isEmbedding } from '../embed/embed-record.js';
import { isFailure, sourceName, type OutputRecord } from '../records.js';
import { lockHolder, lockOutputDir } from './dir-lock.js';
import { IdSet } from './id-set.js';
import { hash32, LineHashes } from './line-hashes.js';
import { createRotatingWriter } from '../stages/rotating-writer.js';

export interface MergeResult {
  succeeded: number;
  failed: number;
  /** The same record found in more than one place, written once. */
  duplicates: number;
  /** Failures dropped because the same id succeeded elsewhere. */
  failuresSuperseded: number;
  notes: string[];
}

/** Every whole record of a directory's shards, then its failures (a torn last line is not one). */
async function* records(dir: string): AsyncGenerator<{ file: string; rec: OutputRecord; failures: boolean }> {
  for (const name of listRecordFiles(dir)) {
    const file = join(dir, name);
    for await (const { value: rec, line } of readJsonl<OutputRecord>(file)) {
      if (typeof rec?.source !== 'string' || typeof rec.line !== 'number') throw new OutputStateError(`${file} line ${line} is not a gempipe record (no source and line)`);
      rec.source = sourceName(rec.source);
      yield { file, rec, failures: name === FAILURES_FILE };
    }
  }
}

/** `allowPartial`: merge what is given though it is not every finished part of one job (merge-parts.ts), saying what is missing. */
export async function merge(o: { out: string; dirs: string[]; shardSize?: number; allowPartial?: boolean; say: (line: string) => void }): Promise<MergeResult> {
  if (o.dirs.length === 0) throw new UsageError('`gempipe merge` needs the directories to merge: gempipe merge -o OUT DIR...');
  for (const d of o.dirs) {
    if (!existsSync(d)) throw new UsageError(`Cannot merge ${d}: no such directory`);
    if (resolve(d) === resolve(o.out)) throw new UsageError(`Cannot merge ${d} into itself: give another -o`);
    const holder = lockHolder(d);
    if (holder) throw new UsageError(`${d} is in use by a run (pid ${holder.pid} on ${holder.host}): merge it when that run has ended`);
  }
  // The parts 1/N … N/N of one job, each once and finished — or --allow-partial, said.
  const parts = await checkParts(o.dirs, o.allowPartial === true, o.say);
  if (holdsRecords(o.out)) {
    throw new UsageError(`${o.out} already holds records: merge into a new or empty directory`);
  }

  // Pass 1: what each id is, everywhere; conflicts refused before anything is written.
  const ok = new IdSet();
  const okHash = new LineHashes();
  const okAnswer = new LineHashes();
  const okFile = new Map<string, string>(); // only for ids in conflict messages: filled lazily below
  const conflicts: string[] = [];
  let nConflicts = 0;
  for (const d of o.dirs) {
    for await (const { rec, file, failures } of records(d)) {
      if (failures || isFailure(rec)) continue;
      const h = hash32(rec.hash) || 1;
      // An embedding's answer is its vector; one in a binary shard lives in its part's files, which merge does not move.
      if (isEmbedding(rec) && rec.shard !== undefined) throw new UsageError(`${file} is an index of --vectors ${rec.shard.split('.').pop()} shards: merge joins parts whose vectors are in their records (--vectors jsonl)`);
      const a = idHash(isEmbedding(rec) ? JSON.stringify(rec.embedding) : rec.response) || 1;
      if (!ok.add(rec.source, rec.line)) {
        if (okHash.get(rec.source, rec.line) !== h || okAnswer.get(rec.source, rec.line) !== a) {
          if (nConflicts++ < 3) conflicts.push(`${rec.source}:${rec.line} (${okFile.get(`${rec.source}:${rec.line}`) ?? 'an earlier directory'} and ${file})`);
        }
        continue;
      }
      okHash.set(rec.source, rec.line, h);
      okAnswer.set(rec.source, rec.line, a);
      if (okFile.size < 10_000) okFile.set(`${rec.source}:${rec.line}`, file);
    }
  }
  if (nConflicts > 0) {
    throw new OutputStateError(`${nConflicts} id(s) have different answers in the directories given (e.g. ${conflicts.join('; ')}): they were asked differently or answered twice; merge the parts of one job, or pick one directory's records`);
  }

  // Pass 2: write each id once.
  mkdirSync(o.out, { recursive: true });
  const lock = lockOutputDir(o.out);
  const res: MergeResult = { succeeded: 0, failed: 0, duplicates: 0, failuresSuperseded: 0, notes: [] };
  try {
    const failed = new IdSet();
    const written = new IdSet();
    async function* once(): AsyncGenerator<OutputRecord> {
      for (const d of o.dirs) {
        for await (const { rec, failures } of records(d)) {
          if (failures || isFailure(rec)) {
            if (ok.has(rec.source, rec.line)) res.failuresSuperseded++;
            else if (!failed.add(rec.source, rec.line)) res.duplicates++;
            else {
              res.failed++;
              yield rec;
            }
          } else if (!written.add(rec.source, rec.line)) {
            res.duplicates++;
          } else {
            res.succeeded++;
            yield rec;
          }
        }
      }
    }
    await pipeline(Readable.from(once()), createRotatingWriter({ dir: o.out, shardSize: o.shardSize ?? 1000 }));
  } finally {
    lock.release();
  }

  // The job's shape, for verify, when the parts agree on it (the partition aside); whole when every part was.
  const shapes = o.dirs.map((d) => {
    const j = readJobFile(d);
    return j && shapeKey(j);
  });
  if (shapes[0] !== undefined && shapes.every((s) => s === shapes[0])) {
    const complete = parts.complete ? { complete: { at: new Date().toISOString(), lines: parts.complete.lines, records: res.succeeded + res.failed } } : {};
    writeJsonAtomic(join(o.out, JOB_FILE), { savedAt: new Date().toISOString(), ...JSON.parse(shapes[0]), ...complete });
  } else {
    res.notes.push(`the parts do not agree on how they were asked (${JOB_FILE}); give \`gempipe verify\` the run's options`);
  }
  return res;
}
