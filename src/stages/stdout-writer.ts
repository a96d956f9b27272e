// createStdoutWriter(): output records in, one line each on a byte stream (stdout) out —
// JSONL or the `--format text` layout, nothing else. Records are batched (_writev) into one
// write and the callback waits for the stream to accept it, so a slow reader (`| jq`) holds
// the pipeline. A closed pipe (`| head`) fails the write with EPIPE, which tears the pipeline
// down (nothing more is asked) and which job/outcome.ts and createPipeline() read as a quiet,
// successful end (SPEC §4); the stream's own 'error' event for it is never left unhandled.

import { Writable } from 'node:stream';
import type { OutputFormat } from '../cli/options.js';
import { formatJsonLine, formatTextLine, type OutputRecord } from '../records.js';
import type { RunStats } from '../stats.js';

export interface StdoutWriterOptions {
  stream: NodeJS.WritableStream;
  /** @default "jsonl" */
  format?: OutputFormat;
  stats?: RunStats;
  /** @default 256 */
  highWaterMark?: number;
}

/** A write to a closed pipe (`| head`), however deep in causes it was wrapped. */
export function isClosedPipe(err: unknown): boolean {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let i = 0; i < 4 && e; i++) {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return true;
    e = e.cause as typeof e;
  }
  return false;
}

const hushed = new WeakSet<object>();
/**
 * A closed pipe also reaches the byte stream's 'error' event (asynchronously, possibly after
 * the pipeline ended): with no listener that is an uncaught exception. Only that error is
 * hushed; any other one is thrown as before when no one else listens.
 */
function hushClosedPipe(stream: NodeJS.WritableStream): void {
  if (hushed.has(stream)) return;
  hushed.add(stream);
  stream.on('error', (e: unknown) => {
    if (!isClosedPipe(e) && stream.listenerCount('error') === 1) throw e;
  });
}

/** The writers createStdoutWriter() made: createPipeline() ends quietly when one meets a closed pipe. */
export const stdoutWriters = new WeakSet<Writable>();

export function createStdoutWriter(options: StdoutWriterOptions): Writable {
  const o = { format: 'jsonl' as OutputFormat, ...options };
  const fmt = o.format === 'text' ? formatTextLine : formatJsonLine;
  hushClosedPipe(o.stream);
  const w = new Writable({
    objectMode: true,
    highWaterMark: o.highWaterMark ?? 256,
    writev(chunks, cb) {
      const t = Date.now();
      let text = '';
      for (const c of chunks) text += fmt(c.chunk as OutputRecord);
      let called = false;
      const done = (err?: Error | null) => {
        if (called) return;
        called = true;
        if (o.stats && !err) {
          o.stats.writeMs += Date.now() - t;
          o.stats.written += chunks.length;
        }
        cb(err ?? null);
      };
      try {
        o.stream.write(text, (err) => done(err));
      } catch (err) {
        done(err as Error);
      }
    },
  });
  stdoutWriters.add(w);
  return w;
}
