// The one reader of line files read back (shards, failures.jsonl, batch journals and responses,
// the progress total, --dry-run's history): the file in 1 MiB chunks cut at a line end. scanLines()
// calls a visitor with each line's bytes (the hot path: resume scans every record); readLines()
// yields each line's text for readers that await between lines. A last line without a newline
// comes with `terminated: false`. Memory: one chunk plus the longest line.

import { open, type FileHandle } from 'node:fs/promises';

const CHUNK = 1 << 20;

export type LineVisitor = (data: Buffer, start: number, end: number, nextOffset: number, terminated: boolean) => void | boolean;

/**
 * The file as chunks holding whole lines: `data` (a reused buffer: copy what you keep, and use it
 * before asking for the next chunk) from file offset `pos`; the last chunk may be a `tail`
 * without a newline.
 */
async function* lineChunks(fh: FileHandle): AsyncGenerator<{ data: Buffer; pos: number; tail: boolean }> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer | null = null;
  let pos = 0; // file offset of data[0]
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos + (carry?.length ?? 0));
    if (bytesRead === 0) break;
    const data: Buffer = carry ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const end = data.lastIndexOf(0x0a) + 1;
    if (end > 0) yield { data: data.subarray(0, end), pos, tail: false };
    // The unfinished line (copied: buf is reused) waits for the next read.
    carry = end < data.length ? Buffer.from(data.subarray(end)) : null;
    pos += end;
  }
  if (carry) yield { data: carry, pos, tail: true };
}

/** Calls `onLine` with each line's bytes (buffer, start, end) and the offset past its newline; false stops. */
export async function scanLines(file: string | FileHandle, onLine: LineVisitor): Promise<{ bytes: number }> {
  const fh = typeof file === 'string' ? await open(file, 'r') : file;
  try {
    let bytes = 0;
    for await (const { data, pos, tail } of lineChunks(fh)) {
      bytes = pos + data.length;
      if (tail) {
        onLine(data, 0, data.length, bytes, false);
        break;
      }
      for (let start = 0; start < data.length; ) {
        const nl = data.indexOf(0x0a, start);
        if (onLine(data, start, nl, pos + nl + 1, true) === false) return { bytes: pos + nl + 1 };
        start = nl + 1;
      }
    }
    return { bytes };
  } finally {
    if (typeof file === 'string') await fh.close();
  }
}

/** Each line's text, in order; `terminated` false for a last line without a newline. */
export async function* readLines(path: string): AsyncGenerator<{ text: string; terminated: boolean }> {
  const fh = await open(path, 'r');
  try {
    for await (const { data, tail } of lineChunks(fh)) {
      if (tail) {
        yield { text: data.toString('utf8'), terminated: false };
        break;
      }
      for (let start = 0; start < data.length; ) {
        const nl = data.indexOf(0x0a, start);
        yield { text: data.toString('utf8', start, nl), terminated: true };
        start = nl + 1;
      }
    }
  } finally {
    await fh.close();
  }
}
