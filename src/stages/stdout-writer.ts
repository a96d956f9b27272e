// createStdoutWriter(): output records in, one line each on a byte stream (stdout) out —
// JSONL or the `--format text` layout, nothing else. Records are batched (_writev) into one
// write and the callback waits for the stream to accept it, so a slow reader (`| jq`) holds
// the pipeline. A closed pipe (`| head`) fails the write with EPIPE, which job/outcome.ts
// reads as a quiet, successful end (SPEC §4).

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

export function createStdoutWriter(options: StdoutWriterOptions): Writable {
  const o = { format: 'jsonl' as OutputFormat, ...options };
  const fmt = o.format === 'text' ? formatTextLine : formatJsonLine;
  return new Writable({
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
}
