// createRotatingWriter(): output records in, JSONL shards out (SPEC §4). Successes go to
// DIR/shard-NNNNN.jsonl, at most `shardSize` records each (`shardBytes` may rotate earlier),
// failures to DIR/failures.jsonl. It is the only writer of its files. Records arrive in
// batches (_writev) and each batch becomes one write per file, never splitting a record;
// rotation happens between records, and the next shard is opened before the old one is
// closed. A shard file is created only when its first record arrives. Handles are released
// in _destroy whether or not a write failed. Durability: see `fsync`.

import { writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FsyncPolicy } from '../options.js';
import { formatJsonLine, isFailure, type OutputRecord } from '../records.js';
import type { RunStats } from '../stats.js';
import { FAILURES_FILE, shardName } from '../output-layout.js';


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
}

interface OpenFile {
  path: string;
  fh: FileHandle;
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
  async function openFile(path: string): Promise<OpenFile> {
    // The writer makes its directory itself (a library user need not), once.
    await (dirReady ??= mkdir(o.dir, { recursive: true }));
    const fh = await open(path, 'a');
    handles.add(fh);
    return { path, fh };
  }

  async function closeFile(f: OpenFile): Promise<void> {
    try {
      if (o.fsync !== 'none') await f.fh.datasync();
    } finally {
      handles.delete(f.fh);
      await f.fh.close();
    }
  }

  // A synchronous write of a ready batch to the page cache: a few µs, where the promise API
  // costs a thread-pool round trip per batch (~45 µs of CPU each at 500 records/s, when
  // every answer is its own batch). Looped: a write may be partial.
  async function writeAll(f: OpenFile, text: string): Promise<void> {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length; ) off += writeSync(f.fh.fd, buf, off, buf.length - off);
    if (o.fsync === 'always') await f.fh.datasync();
  }

  async function writeBatch(records: OutputRecord[]): Promise<void> {
    let pending = '';
    let failText = '';
    for (const r of records) {
      const line = formatJsonLine(r);
      if (isFailure(r)) {
        failText += line;
        continue;
      }
      const len = Buffer.byteLength(line);
      const full = shardCount >= o.shardSize || (o.shardBytes !== undefined && shardCount > 0 && shardBytes + len > o.shardBytes);
      if (shard && full) {
        await writeAll(shard, pending);
        pending = '';
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
      pending += line;
      shardCount++;
      shardBytes += len;
    }
    if (pending) await writeAll(shard!, pending);
    if (failText) {
      failures ??= await openFile(join(o.dir, FAILURES_FILE));
      await writeAll(failures, failText);
    }
  }

  return new Writable({
    objectMode: true,
    highWaterMark: o.highWaterMark ?? 256,
    writev(chunks, cb) {
      const t = Date.now();
      const records = chunks.map((c) => c.chunk as OutputRecord);
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
      Promise.all(closing.map(closeFile)).then(() => cb(), (err: Error) => cb(err));
    },
    destroy(err, cb) {
      // Whatever is still open (a failed write, an abort) is closed through its FileHandle
      // (closing the bare fd instead leaves the handle to close that number again when it is
      // collected, by then maybe another file's). Data already written stays; resume repairs
      // a torn last line if the process dies mid-write.
      const open = [...handles];
      handles.clear();
      Promise.allSettled(open.map((fh) => fh.close())).then(() => cb(err));
    },
  });
}
