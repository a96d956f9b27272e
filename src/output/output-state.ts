// What the output directory already holds (SPEC §5). loadOutputState() reads every shard and
// failures.jsonl once, streaming, into two compact IdSets (succeeded / failed), repairs a torn
// tail left by a crash (truncates the partial last line — that record is simply redone), and
// finds the next shard number once. compactFailures() rewrites failures.jsonl atomically
// (its temporary name, fsync, rename) so each id appears once: the last failure wins, a success beats it.

import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OutputStateError } from '../errors.js';
import { writeFully } from './atomic.js';
import { FAILURES_FILE, REPORT_FILE, SERIES_FILE, SHARD_RE, STALE_TMP_RE, tmpNameOf } from './layout.js';
import { IdSet } from './id-set.js';
import { hash32, keptHash32, LineHashes } from './line-hashes.js';
import { sourceName } from '../records.js';
import { scanLines } from '../util/scan-lines.js';
import { syncDir } from '../util/sync-dir.js';


export interface OutputState {
  succeeded: IdSet;
  failed: IdSet;
  /** Of `failed`, the POST_FAILED ones: their paid answer is in the record. */
  postFailed: IdSet;
  /** Number for the next shard: one above the highest existing. */
  nextShard: number;
  /** Human notes about repairs made (torn tails truncated, stale temp files removed). */
  repairs: string[];
  /** failures.jsonl holds an id twice, or an id that also succeeded: compaction is due. */
  failuresNeedCompaction: boolean;
  /** Output records read. */
  records: number;
  /** The hash each written record carries (32-bit prefix; 0: written without one). */
  hashes: LineHashes;
  /** Records written without a hash (by a gempipe before 2026-11): trusted as they are. */
  unhashed: number;
  /** With --keep: each record's kept fields, hashed (keptHash32), for the content check. */
  kept?: LineHashes;
}

export interface LineRef {
  source: string;
  line: number;
  /** A POST_FAILED failure: the answer is in it (it is never sent again, even by --retry-failed). */
  postFailed?: boolean;
  /** hash32 of the record's `hash`, 0 when it has none. */
  hash: number;
  /** The record's `hash` as written. */
  hashText?: string;
  /** A --dedupe copy of another record's answer. */
  copy?: boolean;
  /** A failure record (it has an `error`). */
  failure?: boolean;
  /** keptHash32 of the record's kept fields, when `keptNames` were given. */
  kept?: number;
}

/** A record line's identity; `keptNames` (--keep's output names): its kept fields hashed too. */
export function idOf(text: string, keptNames?: readonly string[]): LineRef | undefined {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null) return undefined;
  const { source, line, error, hash, dedupedFrom } = rec as { source?: unknown; line?: unknown; error?: { status?: unknown }; hash?: unknown; dedupedFrom?: unknown };
  if (typeof source !== 'string' || typeof line !== 'number' || !Number.isSafeInteger(line) || line < 1) return undefined;
  return {
    source: sourceName(source), line, postFailed: error?.status === 'POST_FAILED', hash: hash32(hash),
    hashText: typeof hash === 'string' ? hash : undefined, copy: dedupedFrom !== undefined, failure: error !== undefined,
    ...(keptNames && keptNames.length > 0 ? { kept: keptHash32(rec as Record<string, unknown>, keptNames) } : {}),
  };
}

/**
 * Streams one JSONL file, calling onRecord for each valid line. A partial last line, and any
 * invalid lines after the last valid one, are torn: the file is truncated to drop them. An
 * invalid line followed by valid ones is not a crash artefact: OutputStateError.
 */
export async function scanJsonl(path: string, onRecord: (r: LineRef, at: { offset: number; bytes: number }) => void, repair = true, keptNames?: readonly string[]): Promise<{ records: number; bytes: number; truncatedBytes: number }> {
  const fh = await open(path, repair ? 'r+' : 'r');
  try {
    const size = (await fh.stat()).size;
    let lineNo = 0;
    let records = 0;
    let firstBad: number | null = null;
    let goodEnd = 0; // offset just past the last valid line
    await scanLines(fh, (data, start, end, next, terminated) => {
      if (!terminated) return; // a partial last line: torn, truncated below
      lineNo++;
      const ref = idOf(data.toString('utf8', start, end), keptNames);
      if (!ref) {
        firstBad ??= lineNo;
        return;
      }
      if (firstBad !== null) {
        throw new OutputStateError(`${path} line ${firstBad} is not a valid gempipe record, but later lines are: the file was changed by something else; fix or move it, then rerun`);
      }
      onRecord(ref, { offset: next - (end - start) - 1, bytes: end - start + 1 });
      records++;
      goodEnd = next;
    });
    const truncatedBytes = size - goodEnd;
    if (truncatedBytes > 0 && repair) {
      await fh.truncate(goodEnd);
      await fh.datasync();
    }
    return { records, bytes: size, truncatedBytes };
  } finally {
    await fh.close();
  }
}

/**
 * @param opts.readOnly look, change nothing (--dry-run): no directory is created, no torn tail
 *   truncated, nothing deleted; `repairs` says what a real run would do.
 */
export async function loadOutputState(dir: string, opts: {
  overwrite?: boolean;
  readOnly?: boolean;
  /** Each record read (with where its line is): --dedupe indexes the answers already on disk. */
  onRecord?: (ref: LineRef, path: string, at: { offset: number; bytes: number }, failed: boolean) => void;
  /** --keep's output names: each record's kept fields are hashed into `kept`. */
  keptNames?: readonly string[];
} = {}): Promise<OutputState> {
  const ro = opts.readOnly === true;
  const state: OutputState = {
    succeeded: new IdSet(), failed: new IdSet(), postFailed: new IdSet(), nextShard: 0, repairs: [],
    failuresNeedCompaction: false, records: 0, hashes: new LineHashes(), unhashed: 0,
  };
  if (ro && !(await exists(dir))) return state;
  if (!ro) await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  const shards: Array<{ n: number; name: string }> = [];
  for (const name of names) {
    const m = SHARD_RE.exec(name);
    if (m) shards.push({ n: Number(m[1]), name });
  }
  shards.sort((a, b) => a.n - b.n);
  if (opts.overwrite && ro) {
    if (shards.length) state.repairs.push(`--overwrite would delete ${shards.length} shard(s) and ${FAILURES_FILE}`);
    return state;
  }
  if (opts.overwrite) {
    for (const s of shards) await rm(join(dir, s.name));
    await rm(join(dir, FAILURES_FILE), { force: true });
    for (const name of [SERIES_FILE, REPORT_FILE]) await rm(join(dir, name), { force: true }); // the runs they showed are gone
    for (const name of names) if (STALE_TMP_RE.test(name)) await rm(join(dir, name), { force: true });
    return state;
  }
  for (const name of names) {
    // A compaction or a --redo-changed rewrite cut short before its rename: the original is intact.
    if (!ro && STALE_TMP_RE.test(name)) {
      await rm(join(dir, name), { force: true });
      state.repairs.push(`removed an unfinished ${name}`);
    }
  }
  const keptNames = opts.keptNames && opts.keptNames.length > 0 ? opts.keptNames : undefined;
  if (keptNames) state.kept = new LineHashes();
  const noteHash = (ref: LineRef) => {
    if (ref.hash) state.hashes.set(ref.source, ref.line, ref.hash);
    else state.unhashed++;
    if (ref.kept !== undefined) state.kept?.set(ref.source, ref.line, ref.kept);
  };
  for (const s of shards) {
    const path = join(dir, s.name);
    const r = await scanJsonl(path, (ref, at) => {
      opts.onRecord?.(ref, path, at, false);
      if (!state.succeeded.add(ref.source, ref.line)) {
        throw new OutputStateError(`${path} holds ${ref.source}:${ref.line} a second time: the output directory was changed by something else`);
      }
      noteHash(ref);
    }, !ro, keptNames);
    state.records += r.records;
    if (r.truncatedBytes > 0) state.repairs.push(`${ro ? 'would truncate' : 'truncated'} a torn last line (${r.truncatedBytes} bytes) of ${path}`);
    state.nextShard = s.n + 1;
  }
  const fpath = join(dir, FAILURES_FILE);
  if (await exists(fpath)) {
    const r = await scanJsonl(fpath, (ref, at) => {
      opts.onRecord?.(ref, fpath, at, true);
      if (state.succeeded.has(ref.source, ref.line)) {
        state.failuresNeedCompaction = true;
      } else {
        if (!state.failed.add(ref.source, ref.line)) state.failuresNeedCompaction = true;
        noteHash(ref); // the last failure of an id wins (compaction), and its hash with it
      }
      if (ref.postFailed) state.postFailed.add(ref.source, ref.line);
    }, !ro, keptNames);
    state.records += r.records;
    if (r.truncatedBytes > 0) state.repairs.push(`${ro ? 'would truncate' : 'truncated'} a torn last line (${r.truncatedBytes} bytes) of ${fpath}`);
  }
  return state;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Rewrites failures.jsonl so each id appears once and no id that succeeded is listed: the
 * last failure line of an id wins. Atomic: a crash leaves either the old or the new file.
 * Returns the number of lines dropped.
 */
export async function compactFailures(dir: string, succeeded: IdSet): Promise<number> {
  const path = join(dir, FAILURES_FILE);
  if (!(await exists(path))) return 0;
  // Pass 1: the last line number of each failed id.
  const last = new Map<string, number>();
  let n = 0;
  await scanJsonl(path, (ref) => last.set(`${ref.source}\u0000${ref.line}`, ++n));
  // Pass 2: copy the lines that survive.
  const tmp = join(dir, tmpNameOf(FAILURES_FILE));
  const out = await open(tmp, 'w');
  let kept = 0;
  let i = 0;
  try {
    let batch: Buffer[] = [];
    const flushBatch = () => {
      const b = Buffer.concat(batch);
      batch = [];
      writeFully(out.fd, b);
    };
    await scanLines(path, (data, start, end, _next, terminated) => {
      const ref = terminated ? idOf(data.toString('utf8', start, end)) : undefined;
      if (!ref) return;
      i++;
      if (!succeeded.has(ref.source, ref.line) && last.get(`${ref.source}\u0000${ref.line}`) === i) {
        batch.push(Buffer.from(data.subarray(start, end + 1)));
        kept++;
        if (batch.length >= 1024) flushBatch();
      }
    });
    if (batch.length) flushBatch();
    await out.datasync();
  } catch (e) {
    await out.close();
    await rm(tmp, { force: true }); // a full disk leaves no stray temporary file
    throw e;
  }
  await out.close();
  await rename(tmp, path);
  await syncDir(dir);
  return n - kept;
}
