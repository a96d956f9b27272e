// createInputReader(): many files / directories / stdin -> one object stream of InputRecords.
// Each source is one stream-chain (read stream -> byte guard -> split2 -> skip + parse), and
// at most `openFiles` of them are open at once; their records are merged as they come. Back-
// pressure: when push() returns false every open chain is paused until _read() asks again, so
// a slow consumer holds the files, not memory. A source that cannot be opened or read is
// reported (onSourceError), its chain destroyed (file closed), and the others go on.

import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { chainUnchecked } from 'stream-chain';
import { UsageError } from '../errors.js';
import { createCsvAssembler } from './csv-input.js';
import type { FieldOptions } from './fields.js';
import type { LineParser } from './line-parsers.js';
import { sourceName, type InputRecord } from '../records.js';
import { lineSplitterStages, type SplitLine } from './line-splitter.js';
import { scanLines } from '../util/scan-lines.js';

/** One input to read: `path` null means stdin. */
export interface InputSource {
  source: string;
  path: string | null;
}

/**
 * Expands the INPUT arguments (SPEC §2) into sources, in order. A directory gives its regular,
 * non-hidden files sorted by name (not recursive). Throws UsageError naming a missing input.
 */
export function resolveInputs(inputs: readonly string[]): InputSource[] {
  const out: InputSource[] = [];
  let stdinSeen = false;
  for (const input of inputs) {
    if (input === '-') {
      if (stdinSeen) throw new UsageError('`-` (stdin) is given more than once as an INPUT');
      stdinSeen = true;
      out.push({ source: 'stdin', path: null });
      continue;
    }
    let st;
    try {
      st = statSync(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`Cannot read INPUT ${input}: ${code === 'ENOENT' ? 'no such file or directory' : code}`);
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(input);
      } catch (e) {
        throw new UsageError(`Cannot list INPUT directory ${input}: ${(e as NodeJS.ErrnoException).code}`);
      }
      names.sort();
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const p = join(input, name);
        try {
          if (!statSync(p).isFile()) continue;
        } catch {
          continue; // a dangling link or a file that vanished while listing
        }
        out.push({ source: sourceName(p), path: p });
      }
    } else if (st.isFile() || st.isFIFO() || st.isCharacterDevice()) {
      out.push({ source: sourceName(input), path: input });
    } else {
      throw new UsageError(`INPUT ${input} is neither a file nor a directory`);
    }
  }
  return out;
}

export interface InputReaderOptions {
  sources: readonly InputSource[];
  stdin?: NodeJS.ReadableStream;
  /** @default 8 */
  openFiles?: number;
  maxLineBytes: number;
  parse: LineParser;
  /** --partition: lines of other parts are dropped before any parsing (not counted). */
  mine?: (source: string, line: number) => boolean;
  /** Lines already done (resume): skipped before any parsing. Counted via onSkip. */
  skip?: (source: string, line: number) => boolean;
  onSkip?: () => void;
  /** CSV input (a header row names the fields): replaces `parse`. */
  csv?: FieldOptions;
  /** Hashes what each record asks (request/spec.ts) into `hash`; none: records carry no hash. */
  hash?: (prompt: string, rec?: InputRecord) => string;
  /**
   * --attach: completes a parsed record before it is hashed (its attachments read and hashed,
   * media/resolve.ts), one record at a time per source; an attachment that cannot be read makes
   * the record invalid, never the source.
   */
  resolve?: (rec: InputRecord) => Promise<InputRecord>;
  /** Each record the reader emits (counting it; a 'data' listener would set the reader flowing). */
  onRecord?: (rec: InputRecord) => void;
  /** A source that could not be opened or read; the run goes on without it. */
  onSourceError?: (source: string, err: Error) => void;
  /** Aborting stops reading: open sources are closed and the stream ends normally. */
  signal?: AbortSignal;
}

/**
 * One source as one stream-chain: read stream -> byte guard -> split2 (numbering mapper) ->
 * skip-done + parse (one fused function). Destroying the chain destroys every stage in it,
 * the file's read stream included (stream-chain 4.4.1).
 */
export function createSourceChain(src: InputSource, o: Pick<InputReaderOptions, 'stdin' | 'maxLineBytes' | 'parse' | 'skip' | 'onSkip' | 'hash' | 'csv' | 'mine' | 'resolve'>): Duplex {
  const { source } = src;
  let input: NodeJS.ReadableStream;
  if (src.path === null) {
    if (!o.stdin) throw new Error('no stdin stream was given');
    input = o.stdin;
  } else {
    input = createReadStream(src.path, { highWaterMark: 64 * 1024 });
  }
  // --attach: the hash waits for the attachments (an async step after the parse, in order).
  const resolve = o.resolve;
  const tail = resolve ? [async (rec: InputRecord) => {
    const r = await resolve(rec);
    if (o.hash) r.hash = o.hash(r.prompt, r);
    return r;
  }] : [];
  if (o.csv) {
    // CSV: records may span lines, so they are assembled first (csv-input.ts); the skip and the
    // hash then apply to the record, by the line it starts on.
    const finish = (rec: InputRecord): InputRecord | null => {
      if (o.mine && !o.mine(source, rec.line)) return null;
      if (o.skip?.(source, rec.line)) {
        o.onSkip?.();
        return null;
      }
      if (o.hash && !resolve) rec.hash = o.hash(rec.prompt, rec);
      return rec;
    };
    return chainUnchecked<never, InputRecord>([input, ...lineSplitterStages({ maxLineBytes: o.maxLineBytes, keepBlank: true }), createCsvAssembler(source, { ...o.csv, maxRecordBytes: o.maxLineBytes }), finish, ...tail]);
  }
  const toRecord = (l: SplitLine): InputRecord | null => {
    if (o.mine && !o.mine(source, l.line)) return null;
    if (o.skip?.(source, l.line)) {
      o.onSkip?.();
      return null;
    }
    const rec: InputRecord | null = l.tooLongBytes !== undefined
      ? {
        id: `${source}:${l.line}`, source, line: l.line, prompt: '',
        invalid: { message: `line ${l.line} of ${source} is ${l.tooLongBytes} bytes, over --max-line-bytes ${o.maxLineBytes}` },
      }
      : o.parse(source, l);
    if (rec && o.hash && !resolve) rec.hash = o.hash(rec.prompt, rec);
    return rec;
  };
  return chainUnchecked<never, InputRecord>([input, ...lineSplitterStages({ maxLineBytes: o.maxLineBytes }), toRecord, ...tail]);
}

export function createInputReader(options: InputReaderOptions): Readable {
  const opts = { ...options };
  const openFiles = opts.openFiles ?? 8;
  const pending = [...opts.sources];
  const active = new Set<Duplex>();
  let wanting = true;
  let stopped = false;

  const reader = new Readable({
    objectMode: true,
    highWaterMark: 256,
    read() {
      wanting = true;
      for (const c of active) c.resume();
      fill();
    },
    destroy(err, cb) {
      stopAll();
      cb(err);
    },
  });

  function stopAll() {
    stopped = true;
    pending.length = 0;
    for (const c of active) c.destroy();
    active.clear();
  }

  function fill() {
    while (!stopped && active.size < openFiles && pending.length > 0) open(pending.shift()!);
    if (!stopped && active.size === 0 && pending.length === 0) {
      stopped = true;
      reader.push(null);
    }
  }

  function open(src: InputSource) {
    let c: Duplex;
    try {
      c = createSourceChain(src, opts);
    } catch (err) {
      opts.onSourceError?.(src.source, err as Error);
      return;
    }
    active.add(c);
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (!active.delete(c)) return; // already closed by a stop
      if (err) {
        c.destroy();
        opts.onSourceError?.(src.source, err);
      }
      fill();
    };
    c.on('error', (err: Error) => finish(err));
    c.on('end', () => finish());
    c.on('data', (rec: InputRecord) => {
      if (stopped) return;
      opts.onRecord?.(rec);
      if (!reader.push(rec)) {
        wanting = false;
        for (const x of active) x.pause();
      }
    });
    if (!wanting) c.pause();
  }

  if (opts.signal) {
    if (opts.signal.aborted) queueMicrotask(() => endEarly());
    else opts.signal.addEventListener('abort', () => endEarly(), { once: true });
  }
  function endEarly() {
    if (stopped) return;
    stopAll();
    reader.push(null);
  }

  return reader;
}

/**
 * Counts the records (non-blank lines) of file sources with a plain byte scan, for the progress
 * bar's total before the reader gets to the end (it is back-pressured, so that can be the end
 * of the run). Undefined when a source is stdin, cannot be read, or the inputs together are
 * larger than `maxBytes` (the count would cost a noticeable second read). An estimate: a line
 * of Unicode-only whitespace counts here and not in the reader. `csv`: a line starts a record
 * only outside a quoted field (the quotes before it balance), and each file's header is not one.
 */
export async function countRecords(sources: readonly InputSource[], maxBytes = 1 << 30, signal?: AbortSignal, csv = false): Promise<number | undefined> {
  let bytes = 0;
  for (const src of sources) {
    if (src.path === null) return undefined;
    try {
      const st = statSync(src.path);
      if (!st.isFile()) return undefined;
      bytes += st.size;
    } catch {
      return undefined;
    }
  }
  if (bytes > maxBytes) return undefined;
  let n = 0;
  for (const src of sources) {
    let inFile = 0;
    let quotes = 0; // csv: double quotes seen so far in the file (odd: inside a quoted field)
    try {
      let first = true;
      await scanLines(src.path!, (data, start, end) => {
        if (signal?.aborted) return false;
        let i = start;
        if (first) {
          first = false;
          if (data[i] === 0xef && data[i + 1] === 0xbb && data[i + 2] === 0xbf) i += 3; // a BOM
        }
        const starts = quotes % 2 === 0;
        let blank = true;
        for (; i < end; i++) {
          const b = data[i];
          if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
            blank = false;
            if (!csv) break;
          }
          if (b === 0x22) quotes++;
        }
        if (!blank && starts) inFile++; // a line with something on it (csv: one that starts a record)
      });
    } catch {
      return undefined;
    }
    if (signal?.aborted) return undefined;
    n += csv ? Math.max(0, inFile - 1) : inFile;
  }
  return n;
}
