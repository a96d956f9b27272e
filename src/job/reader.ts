// The job's reader: the input reader over the job's sources with everything a run adds — the
// resume skip, --partition and a runner's own filter, the request hash, the count of what was
// read, a source that cannot be read named on stderr — and the progress bar's total, estimated
// by a byte scan before the back-pressured reader gets to the end.

import type { Readable } from 'node:stream';
import type { Options } from '../cli/options.js';
import { inPartition } from '../partition.js';
import type { RequestSpec } from '../request/spec.js';
import { recordReading } from '../request/reading.js';
import { countRecords, createInputReader, type InputReaderOptions, type InputSource } from '../stages/read-inputs.js';
import { writeErrorText } from '../stages/rotating-writer.js';
import type { RunStats } from '../stats.js';

/** How lines become records: the parser (text, jsonl, request), CSV's fields, --attach's resolver, and the hash; `warn`: JSONL's --keep warning. */
export function lineReading(o: Options, spec: RequestSpec, warn?: (line: string) => void): Pick<InputReaderOptions, 'parse' | 'csv' | 'hash' | 'resolve' | 'maxLineBytes'> {
  return { ...recordReading(o, spec, warn), maxLineBytes: o.maxLineBytes };
}

export function openJobReader(j: {
  options: Options;
  spec: RequestSpec;
  sources: readonly InputSource[];
  stdin: NodeJS.ReadableStream;
  stats: RunStats;
  /** Stops reading (the stop control's `reading`). */
  signal: AbortSignal;
  openFiles: number;
  /** Resume: done lines, skipped and counted. */
  skip?: (source: string, line: number) => boolean;
  /** Records already done (for the total's estimate). */
  done: number;
  mine?: (source: string, line: number) => boolean;
  shout: (line: string) => void;
  /** A warning, unless --quiet (JSONL: a --keep field the first records lack). */
  say?: (line: string) => void;
  /** Said (whatever --quiet) when the reader ends having found no record at all: stdin was an empty pipe. */
  emptyStdinNote?: string;
}): Readable {
  const { options: o, stats } = j;
  const part = o.partition ? inPartition(o.partition) : undefined;
  const extra = j.mine;
  const mine = part && extra ? (s: string, l: number) => part(s, l) && extra(s, l) : part ?? extra;
  const reader = createInputReader({
    ...lineReading(o, j.spec, j.say),
    sources: j.sources,
    stdin: j.stdin,
    openFiles: j.openFiles,
    mine,
    skip: j.skip,
    onSkip: () => stats.skipped++,
    // Counted as emitted: a 'data' listener here would set the reader flowing before the
    // pipeline is attached, and whatever it read meanwhile would be lost.
    onRecord: () => stats.read++,
    onSourceError: (source, err) => {
      const code = (err as NodeJS.ErrnoException).code;
      const message = code === 'ENOENT' ? 'the file vanished before it was read' : code === 'EISDIR' ? 'is a directory' : code === 'EBINARY' ? err.message : code ? writeErrorText(code) : err.message;
      stats.inputErrors.push({ source, message });
      j.shout(code === 'EBINARY'
        ? `gempipe: error: skipped input ${source}: ${message} (give text files, one prompt a line, UTF-8)`
        : `gempipe: error: cannot read input ${source}: ${message}; its prompts are not done (rerun to resume)`);
    },
    signal: j.signal,
  });
  if (!o.quiet && !o.dryRun) {
    // The progress bar's total before the (back-pressured) reader reaches the end.
    void countRecords(j.sources, undefined, j.signal, o.inputFormat === 'csv').then((n) => {
      if (n !== undefined) stats.expected = Math.max(0, Math.round(n / (o.partition?.count ?? 1)) - j.done);
    });
  }
  reader.on('end', () => {
    if (!j.signal.aborted) stats.total = stats.read + stats.skipped;
    if (!j.signal.aborted && j.emptyStdinNote && stats.read + stats.skipped === 0) j.shout(j.emptyStdinNote);
  });
  return reader;
}
