// scanLines(): the one byte-level line scanner for files we read back (shards, failures.jsonl,
// the progress total, --dry-run's history). It reads a file in 1 MiB chunks and calls `onLine`
// with each line's bytes as (buffer, start, end) — the buffer is reused, so copy what you keep
// — and the file offset just past the line's newline. A last line without a newline is passed
// with `terminated: false`. `onLine` returning false stops the scan. Memory: one chunk plus the
// longest line.

import { open, type FileHandle } from 'node:fs/promises';

const CHUNK = 1 << 20;

export type LineVisitor = (data: Buffer, start: number, end: number, nextOffset: number, terminated: boolean) => void | boolean;

export async function scanLines(file: string | FileHandle, onLine: LineVisitor): Promise<{ bytes: number }> {
  const fh = typeof file === 'string' ? await open(file, 'r') : file;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer | null = null;
    let pos = 0; // file offset of data[0]
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos + (carry?.length ?? 0));
      if (bytesRead === 0) break;
      const data: Buffer = carry ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl === -1) break;
        if (onLine(data, start, nl, pos + nl + 1, true) === false) return { bytes: pos + nl + 1 };
        start = nl + 1;
      }
      // The unfinished line (copied: buf is reused) waits for the next read.
      carry = start < data.length ? Buffer.from(data.subarray(start)) : null;
      pos += start;
    }
    if (carry) onLine(carry, 0, carry.length, pos + carry.length, false);
    return { bytes: pos + (carry?.length ?? 0) };
  } finally {
    if (typeof file === 'string') await fh.close();
  }
}
