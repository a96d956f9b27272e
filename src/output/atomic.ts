// Writing the output directory's small files whole: one loop for a partial writeSync, one
// "written and fsynced" file, and one atomic JSON rewrite (the temporary name from layout.ts,
// fsync, rename, then the directory fsynced): a reader, or a run after a crash, sees the old
// file or the new one, never part of one.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tmpNameOf } from './layout.js';

/** Writes all of `buf` at the descriptor's position (writeSync may write part of it). */
export function writeFully(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/** `path` written whole (created or replaced) and fsynced, not atomically: for files a journal names only afterwards. */
export function writeFileSynced(path: string, data: string | Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeFully(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `data` appended to `path` whole and fsynced (a crash may leave a torn last line: see cutTornTail). */
export function appendSynced(path: string, data: string): void {
  const fd = openSync(path, 'a');
  try {
    writeFully(fd, Buffer.from(data));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** appendSynced() off the event loop (a journal written while requests are in flight: an fsync here takes ~8 ms). */
export async function appendSyncedAsync(path: string, data: string): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `value` as indented JSON at `path`, atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = join(dirname(path), tmpNameOf(basename(path)));
  try {
    writeFileSynced(tmp, JSON.stringify(value, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    // A full disk must not leave a stray temporary file behind; the error names the file meant.
    try {
      unlinkSync(tmp);
    } catch {
      /* never made */
    }
    (e as NodeJS.ErrnoException).path ??= path;
    throw e;
  }
  try {
    const d = openSync(dirname(path), 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    /* some filesystems cannot fsync a directory; the rename is still atomic */
  }
}
