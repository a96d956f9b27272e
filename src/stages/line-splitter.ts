// createLineSplitter(): bytes in, {line, text} objects out — one per non-blank physical line.
// It splits on raw bytes (Buffer.indexOf) and decodes each complete line once, so a multi-byte
// character cut across chunks is never mangled and invalid UTF-8 becomes U+FFFD. A line longer
// than maxLineBytes is not buffered: its bytes are counted and dropped, and one {line, tooLong}
// object stands for it — memory stays bounded whatever the input holds. Why not split2: its
// maxLength destroys the stream on the first long line and only checks a chunk's tail (see
// STYLE "Facts that bite"), and it has no line numbers; both are needed for stable ids.

import { Transform, type TransformCallback } from 'node:stream';

export interface SplitLine {
  /** 1-based physical line number, blank lines included. */
  line: number;
  /** The line's text without its terminator, BOM (first line only) or trailing CR. */
  text: string;
  /** Set instead of a meaningful `text` when the line was over the limit: its size in bytes. */
  tooLongBytes?: number;
}

export interface LineSplitterOptions {
  /** Lines longer than this (bytes, without the terminator) become {tooLongBytes}. */
  maxLineBytes: number;
  /** Emit whitespace-only lines too. @default false */
  keepBlank?: boolean;
  /** Readable-side buffer, in lines. @default 1024 */
  highWaterMark?: number;
  /**
   * A NUL byte within this many first bytes means a binary (or UTF-16) file: the stream fails
   * with an error whose code is 'EBINARY' instead of turning garbage into prompts. 0: no check.
   * @default 8192
   */
  binaryCheckBytes?: number;
}

/** The error a binary input fails with. */
export class BinaryInputError extends Error {
  readonly code = 'EBINARY';
  constructor(readonly offset: number) {
    super(`a NUL byte at offset ${offset}: a binary or UTF-16 file, not text`);
  }
}

const NL = 0x0a;

export function createLineSplitter(options: LineSplitterOptions): Transform {
  const { maxLineBytes, keepBlank = false, highWaterMark = 1024, binaryCheckBytes = 8192 } = { ...options };
  let checked = 0; // bytes looked at for NUL so far
  let parts: Buffer[] = [];
  let partLen = 0; // bytes of the current unfinished line (counted even when dropped)
  let tooLong = false;
  let lineNo = 0;

  function emit(stream: Transform, tail: Buffer | undefined): void {
    lineNo += 1;
    const total = partLen + (tail ? tail.length : 0);
    if (tooLong || total > maxLineBytes) {
      stream.push({ line: lineNo, text: '', tooLongBytes: total } satisfies SplitLine);
    } else {
      let buf: Buffer;
      if (parts.length === 0) buf = tail ?? Buffer.alloc(0);
      else buf = Buffer.concat(tail ? [...parts, tail] : parts, total);
      let text = buf.toString('utf8');
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.charCodeAt(text.length - 1) === 0x0d) text = text.slice(0, -1);
      if (keepBlank || text.trim() !== '') stream.push({ line: lineNo, text } satisfies SplitLine);
    }
    parts = [];
    partLen = 0;
    tooLong = false;
  }

  function hold(piece: Buffer): void {
    if (piece.length === 0) return;
    partLen += piece.length;
    if (tooLong) return;
    if (partLen > maxLineBytes) {
      tooLong = true;
      parts = [];
      return;
    }
    // Copy: the chunk's memory may be reused by the source (fs read pools).
    parts.push(Buffer.from(piece));
  }

  return new Transform({
    readableObjectMode: true,
    readableHighWaterMark: highWaterMark,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (checked < binaryCheckBytes) {
        const nul = chunk.subarray(0, binaryCheckBytes - checked).indexOf(0);
        if (nul !== -1) return cb(new BinaryInputError(checked + nul));
        checked += Math.min(chunk.length, binaryCheckBytes - checked);
      }
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(NL, start);
        if (nl === -1) {
          hold(chunk.subarray(start));
          break;
        }
        emit(this, chunk.subarray(start, nl));
        start = nl + 1;
      }
      cb();
    },
    flush(cb: TransformCallback) {
      if (partLen > 0 || tooLong) emit(this, undefined);
      cb();
    },
  });
}
