// createRotatingWriter(): output records in, JSONL shards out (SPEC §4). Successes go to
// DIR/shard-NNNNN.jsonl, at most `shardSize` records each (`shardBytes` may rotate earlier),
// failures to DIR/failures.jsonl. It is the only writer of its files. Records arrive in
// batches (_writev) and each batch becomes one write per file, never splitting a record;
// rotation happens between records, and the next shard is opened before the old one is
// closed. A shard file is created only when its first record arrives. Handles are released
// in _destroy whether or not a write failed. Durability: see `fsync`.
//
// A failed write (disk full, quota, I/O error, out of descriptors) is not the end: the batch
// stays in memory, `onStall` is told (the run pauses sending), and the step is retried every
// `retryEveryMs` — a partial write goes on from where it stopped — for `retryForMs`. Then the
// writer fails with WriteFailedError naming the file, after cutting every open file back to
// its last whole record, so the directory stays resumable.

import { statSync, writeSync } from 'node:fs';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FsyncPolicy } from '../cli/options.js';
import { formatJsonLine, isFailure, type OutputRecord } from '../records.js';
import type { RunStats } from '../stats.js';
import { FAILURES_FILE, RESERVE_FILE, shardName } from '../output/layout.js';
import { FatalRunError } from '../errors.js';
import { sleep } from '../util/sleep.js';

/** Errors a write may get past once something changes outside (space freed, fds closed). */
const TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EINTR', 'ENOMEM']);

const WHY: Record<string, string> = {
  ENOSPC: 'disk full', EDQUOT: 'disk quota exceeded', EIO: 'I/O error', EMFILE: 'too many open files',
  ENFILE: 'too many open files on this system', EROFS: 'read-only filesystem', EACCES: 'permission denied',
  EPERM: 'not permitted', EFBIG: 'file too large', ENOENT: 'the directory was removed',
};

/** Says what a failed write's code means, for a person. */
export function writeErrorText(code: string | undefined): string {
  return (code && WHY[code]) ?? code ?? 'write failed';
}

/** The writer gave up: the records it held are not on disk (a rerun redoes them). Exit 1. */
export class WriteFailedError extends FatalRunError {
  constructor(readonly path: string, readonly errno: string | undefined, readonly records: number, message: string, cause: unknown) {
    super('WRITE_FAILED', message, { cause });
    this.name = 'WriteFailedError';
  }
}

export interface WriteStall {
  path: string;
  code: string | undefined;
}


export interface RotatingWriterOptions {
  dir: string;
  /** @default 1000 */
  shardSize?: number;
  shardBytes?: number;
  /** Number of the first shard this writer creates (one above the highest existing). */
  firstShard?: number;
  /**
   * none: leave flushing to the OS (survives a crash of this process, not a power loss);
   * close: fsync each file when it is closed (rotation, end of run) — the default;
   * always: fsync after every batch (a power loss loses at most the batch being written).
   */
  fsync?: FsyncPolicy;
  stats?: RunStats;
  /** Called with each batch once it is written (resume bookkeeping, tests). */
  onWritten?: (records: readonly OutputRecord[]) => void;
  /** Records buffered before the writer holds the stage in front of it. @default 256 */
  highWaterMark?: number;
  /**
   * Where each record goes: file, byte offset and length of its line (--dedupe reads answers
   * back from there), told once the batch is written, before onWritten.
   */
  onLocated?: (r: OutputRecord, path: string, offset: number, bytes: number) => void;
  /** A write failed and is being retried (say it; pause sending). */
  onStall?: (s: WriteStall) => void;
  /** The write went through after a stall of `waitedMs`. */
  onRecover?: (path: string, waitedMs: number) => void;
  /** How long a failing write is retried before the writer gives up. @default 60000 */
  retryForMs?: number;
  /** @default 500 */
  retryEveryMs?: number;
  /**
   * Bytes kept free in DIR/.gempipe-reserve (written when the first file opens — or adopted when a
   * run made it before its first request, output/reserve.ts — and removed at the end): on a full
   * disk the writer deletes it and writes on, so the answers in flight when the disk filled still
   * land. 0: none. @default 0
   */
  reserveBytes?: number;
}

interface OpenFile {
  path: string;
  fh: FileHandle;
  /** Bytes of whole batches in the file. */
  size: number;
  /** A batch being written: its bytes and how many are in the file. */
  writing?: { buf: Buffer; off: number };
}

/** Where a failed file is cut back to: its whole batches plus the whole records of the one cut short. */
function wholeEnd(f: OpenFile): number {
  if (!f.writing || f.writing.off === 0) return f.size;
  return f.size + f.writing.buf.lastIndexOf(0x0a, f.writing.off - 1) + 1;
}

export function createRotatingWriter(options: RotatingWriterOptions): Writable {
  const o = { shardSize: 1000, firstShard: 0, fsync: 'close' as FsyncPolicy, ...options };
  let shardNo = o.firstShard;
  let shard: OpenFile | null = null;
  let shardCount = 0;
  let shardBytes = 0;
  let failures: OpenFile | null = null;
  const handles = new Set<FileHandle>();

  let dirReady: Promise<unknown> | undefined;
  const retryForMs = o.retryForMs ?? 60_000;
  const retryEveryMs = o.retryEveryMs ?? 500;
  const files = new Set<OpenFile>();
  let batchSize = 0;

  const reservePath = join(o.dir, RESERVE_FILE);
  let reserve: Promise<boolean> | undefined;
  let stalled = false;
  /** Fills the reserve once (or adopts one a run made before its first request); false when it could not be made. */
  function makeReserve(): Promise<boolean> {
    const n = o.reserveBytes ?? 0;
    if (!reserve && n > 0 && statSync(reservePath, { throwIfNoEntry: false })?.size === n) reserve = Promise.resolve(true);
    return (reserve ??= n <= 0 ? Promise.resolve(false) : writeFile(reservePath, Buffer.alloc(n)).then(() => true, () => rm(reservePath, { force: true }).then(() => false, () => false)));
  }
  async function dropReserve(): Promise<boolean> {
    if (!reserve || !(await reserve)) return false;
    reserve = Promise.resolve(false);
    await rm(reservePath, { force: true }).catch(() => {});
    return true;
  }

  /** Runs one step of a write, retrying it while its error may pass (see the header). */
  async function step<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
    let stalledAt: number | undefined;
    for (;;) {
      try {
        const r = await fn();
        if (stalledAt !== undefined) o.onRecover?.(path, Date.now() - stalledAt);
        return r;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const now = Date.now();
        if (code !== undefined && TRANSIENT.has(code) && retryForMs > 0) {
          if (stalledAt === undefined) {
            stalledAt = now;
            if (!stalled) {
              stalled = true; // said once a run: the caller stops sending
              o.onStall?.({ path, code });
            }
            if ((code === 'ENOSPC' || code === 'EDQUOT') && (await dropReserve())) continue;
          }
          if (now - stalledAt < retryForMs) {
            await sleep(Math.min(retryEveryMs, retryForMs - (now - stalledAt)));
            continue;
          }
        }
        const waited = stalledAt === undefined ? '' : `; retried for ${((now - stalledAt) / 1000).toFixed(now - stalledAt < 10_000 ? 1 : 0)} s`;
        throw new WriteFailedError(path, code, batchSize,
          `cannot write ${path}: ${writeErrorText(code)}${waited}. Every record on disk is whole; the answers not written are asked again by a rerun: ${code === 'ENOSPC' || code === 'EDQUOT' ? 'free space, then ' : ''}rerun the same command to resume`, e);
      }
    }
  }

  async function openFile(path: string): Promise<OpenFile> {
    // The writer makes its directory itself (a library user need not), once.
    await step(o.dir, () => (dirReady ??= mkdir(o.dir, { recursive: true }).catch((e) => {
      dirReady = undefined;
      throw e;
    })));
    await makeReserve();
    const fh = await step(path, () => open(path, 'a'));
    handles.add(fh);
    const f = { path, fh, size: (await fh.stat()).size };
    files.add(f);
    return f;
  }

  async function closeFile(f: OpenFile): Promise<void> {
    if (o.fsync !== 'none') await step(f.path, () => f.fh.datasync());
    files.delete(f);
    handles.delete(f.fh);
    await f.fh.close();
  }

  // A synchronous write of a ready batch to the page cache: a few µs, where the promise API
  // costs a thread-pool round trip per batch (~45 µs of CPU each at 500 records/s, when
  // every answer is its own batch). Looped: a write may be partial, and a retried one goes on
  // from where it stopped.
  async function writeAll(f: OpenFile, text: string): Promise<void> {
    const w = (f.writing = { buf: Buffer.from(text), off: 0 });
    await step(f.path, () => {
      while (w.off < w.buf.length) w.off += writeSync(f.fh.fd, w.buf, w.off, w.buf.length - w.off);
    });
    f.writing = undefined;
    f.size += w.buf.length;
    if (o.fsync === 'always') await step(f.path, () => f.fh.datasync());
  }

  async function writeBatch(records: OutputRecord[]): Promise<void> {
    let pending = '';
    let pendingBytes = 0;
    let failText = '';
    let failBytes = 0;
    const where = o.onLocated ? [] as Array<{ r: OutputRecord; path: string | null; at: number; bytes: number }> : undefined;
    for (const r of records) {
      const line = formatJsonLine(r);
      if (isFailure(r)) {
        failText += line;
        if (where) {
          const bytes = Buffer.byteLength(line);
          where.push({ r, path: null, at: failBytes, bytes });
          failBytes += bytes;
        }
        continue;
      }
      const len = Buffer.byteLength(line);
      const full = shardCount >= o.shardSize || (o.shardBytes !== undefined && shardCount > 0 && shardBytes + len > o.shardBytes);
      if (shard && full) {
        await writeAll(shard, pending);
        pending = '';
        pendingBytes = 0;
        const next = await openFile(join(o.dir, shardName(shardNo++)));
        const old = shard;
        shard = next;
        await closeFile(old);
        shardCount = 0;
        shardBytes = 0;
      }
      if (!shard) {
        shard = await openFile(join(o.dir, shardName(shardNo++)));
        shardCount = 0;
        shardBytes = 0;
      }
      where?.push({ r, path: shard.path, at: shard.size + pendingBytes, bytes: len });
      pending += line;
      pendingBytes += len;
      shardCount++;
      shardBytes += len;
    }
    if (pending) await writeAll(shard!, pending);
    let failBase = 0;
    if (failText) {
      failures ??= await openFile(join(o.dir, FAILURES_FILE));
      failBase = failures.size;
      await writeAll(failures, failText);
    }
    for (const w of where ?? []) o.onLocated!(w.r, w.path ?? failures!.path, w.path ? w.at : failBase + w.at, w.bytes);
  }

  return new Writable({
    objectMode: true,
    highWaterMark: o.highWaterMark ?? 256,
    writev(chunks, cb) {
      const t = Date.now();
      const records = chunks.map((c) => c.chunk as OutputRecord);
      batchSize = records.length;
      writeBatch(records).then(
        () => {
          if (o.stats) {
            o.stats.writeMs += Date.now() - t;
            o.stats.written += records.length;
          }
          o.onWritten?.(records);
          cb();
        },
        (err: Error) => cb(err),
      );
    },
    final(cb) {
      const closing = [shard, failures].filter((f): f is OpenFile => f !== null);
      shard = failures = null;
      Promise.all(closing.map(closeFile)).then(() => dropReserve()).then(() => cb(), (err: Error) => cb(err));
    },
    destroy(err, cb) {
      // Whatever is still open (a failed write, an abort) is closed through its FileHandle
      // (closing the bare fd instead leaves the handle to close that number again when it is
      // collected, by then maybe another file's). Data already written stays; resume repairs
      // a torn last line if the process dies mid-write.
      // After a failed write, each file is first cut back to its last whole record.
      const cut = err ? [...files].map((f) => f.fh.truncate(wholeEnd(f)).catch(() => {})) : [];
      files.clear();
      const open = [...handles];
      handles.clear();
      Promise.allSettled(cut).then(() => Promise.allSettled(open.map((fh) => fh.close()))).then(() => dropReserve()).then(() => cb(err), () => cb(err));
    },
  });
}
