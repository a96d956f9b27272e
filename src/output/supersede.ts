// supersede(): --redo-changed moves the records of changed lines out of the shards and
// failures.jsonl into superseded.jsonl, so the shards keep exactly one record per current input
// line. Crash-safe and repeatable, file by file: the moved lines are appended to
// superseded.jsonl and fsynced, the file without them is written to `.NAME.tmp` and fsynced,
// then renamed over the original (atomic) and the directory fsynced. A crash before the rename
// leaves the original whole; the rerun finds the same lines changed and moves them again, and
// lines already in superseded.jsonl (same bytes) are not appended twice. A torn last line of
// superseded.jsonl is cut off before appending.

import { createHash } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFully } from './atomic.js';
import { FAILURES_FILE, SUPERSEDED_FILE, tmpNameOf } from './layout.js';
import { listRecordFiles } from './record-files.js';
import { scanLines } from '../util/scan-lines.js';
import { syncDir } from '../util/sync-dir.js';
import type { IdSet } from './id-set.js';
import { idOf } from './output-state.js';

const digest = (b: Buffer) => createHash('sha1').update(b).digest('base64');

/** Moves the records of `changed` ids to superseded.jsonl; returns how many left the shards. */
export async function supersede(dir: string, changed: IdSet): Promise<number> {
  const names = listRecordFiles(dir).sort(); // failures.jsonl first, as ever
  const supPath = join(dir, SUPERSEDED_FILE);
  let seen: Set<string> | undefined;
  let sup: FileHandle | undefined;
  let moved = 0;
  try {
    for (const name of names) {
      const path = join(dir, name);
      // A first pass only looks: most files hold no changed line and are left alone.
      let hits = 0;
      await scanLines(path, (data, start, end, _n, terminated) => {
        if (!terminated) return;
        const ref = idOf(data.toString('utf8', start, end));
        if (ref && changed.has(ref.source, ref.line)) hits++;
      });
      if (hits === 0) continue;
      if (!sup) {
        seen = await openSuperseded(supPath, changed);
        sup = await open(supPath, 'a');
      }
      const tmp = join(dir, tmpNameOf(name));
      const out = await open(tmp, 'w');
      try {
        let keep: Buffer[] = [];
        let away: Buffer[] = [];
        const flush = () => {
          if (keep.length) writeFully(out.fd, Buffer.concat(keep));
          if (away.length) writeFully(sup!.fd, Buffer.concat(away));
          keep = [];
          away = [];
        };
        await scanLines(path, (data, start, end, _n, terminated) => {
          if (!terminated) return; // a torn tail: resume has cut it already; never copied
          const line = Buffer.from(data.subarray(start, end + 1));
          const ref = idOf(data.toString('utf8', start, end));
          if (ref && changed.has(ref.source, ref.line)) {
            moved++;
            const d = digest(line);
            if (!seen!.has(d)) {
              seen!.add(d);
              away.push(line);
            }
          } else {
            keep.push(line);
          }
          if (keep.length + away.length >= 1024) flush();
        });
        flush();
        await sup.datasync(); // the old records are safe before they leave the shard
        await out.datasync();
      } catch (e) {
        await out.close();
        await rm(tmp, { force: true }); // the original is whole; no stray temporary file
        throw e;
      }
      await out.close();
      if ((await stat(tmp)).size === 0 && name !== FAILURES_FILE) {
        await rm(path);
        await rm(tmp);
      } else {
        await rename(tmp, path);
      }
      await syncDir(dir);
    }
  } finally {
    await sup?.close();
  }
  return moved;
}

/** Cuts a torn tail off superseded.jsonl; the digests of its lines for `changed` ids. */
async function openSuperseded(path: string, changed: IdSet): Promise<Set<string>> {
  const seen = new Set<string>();
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch {
    return seen; // none yet
  }
  try {
    let goodEnd = 0;
    await scanLines(fh, (data, start, end, next, terminated) => {
      if (!terminated) return;
      goodEnd = next;
      const ref = idOf(data.toString('utf8', start, end));
      if (ref && changed.has(ref.source, ref.line)) seen.add(digest(data.subarray(start, end + 1)));
    });
    if ((await fh.stat()).size > goodEnd) {
      await fh.truncate(goodEnd);
      await fh.datasync();
    }
  } finally {
    await fh.close();
  }
  return seen;
}
