// The record files of an output directory, listed in one way (shards in number order, then
// failures.jsonl), and any JSONL file of ours read back in one way: its whole lines parsed, a
// torn last line (a crash mid-write: resume cuts it off) not served as data.

import { readdirSync } from 'node:fs';
import { OutputStateError } from '../errors.js';
import { truncate } from 'node:fs/promises';
import { readLines, scanLines } from '../util/scan-lines.js';
import { FAILURES_FILE, SHARD_RE } from './layout.js';

/** The names of a directory's record files: shards by number, then failures.jsonl; [] when it does not exist. */
export function listRecordFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const shards = names.map((n) => SHARD_RE.exec(n)).filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => m[0]);
  return names.includes(FAILURES_FILE) ? [...shards, FAILURES_FILE] : shards;
}

/** Whether a directory holds any record file. */
export function holdsRecords(dir: string): boolean {
  return listRecordFiles(dir).length > 0;
}

/** Cuts a line a crash left unfinished off the end of a file we append to; false when there was none. */
export async function cutTornTail(path: string): Promise<boolean> {
  let whole = 0;
  const { bytes } = await scanLines(path, (_d, _s, _e, next, terminated) => {
    if (terminated) whole = next;
  });
  if (whole === bytes) return false;
  await truncate(path, whole);
  return true;
}

/** Each whole line of a JSONL file, parsed, with its number; blank lines skipped. A line that is not JSON: OutputStateError naming it. */
export async function* readJsonl<T = unknown>(path: string): AsyncGenerator<{ value: T; line: number; text: string }> {
  let line = 0;
  for await (const l of readLines(path)) {
    line++;
    if (!l.terminated) break; // torn: never data
    if (l.text.trim() === '') continue;
    let value: T;
    try {
      value = JSON.parse(l.text) as T;
    } catch (e) {
      throw new OutputStateError(`${path} line ${line} is not valid JSON (${(e as Error).message}): fix or move it, then rerun`);
    }
    yield { value, line, text: l.text };
  }
}
