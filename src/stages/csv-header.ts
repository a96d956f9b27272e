// The header of each CSV input, read before anything is sent, so that a field mistake is a usage
// error (exit 2) naming the column and the header's columns, not one INVALID_INPUT failure per
// record: a --template field or --prompt-field the header lacks, a --keep name it lacks, a column
// named twice. Files are read up to their header record; stdin is read as far, and what was read
// is given back in front of the rest (a stream the reader then reads as stdin).

import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import { compileTemplate } from '../template.js';
import { parseKeep, type FieldOptions } from './fields.js';
import type { InputSource } from './read-inputs.js';

/** A header record's text -> its column names (trimmed). */
export function headerOf(text: string, delimiter = ','): string[] {
  const rows = parse(text, { relax_column_count: true, skip_empty_lines: false, delimiter }) as string[][];
  return (rows[0] ?? []).map((h) => h.trim());
}

const quotesIn = (t: string) => {
  let n = 0;
  for (let i = t.indexOf('"'); i !== -1; i = t.indexOf('"', i + 1)) n++;
  return n;
};

/**
 * The first record of CSV text as the reader assembles it (BOM and CR dropped, blank lines
 * skipped, lines joined until the quotes balance): its text; null when there is none to check
 * (empty, or a quote never closed: the reader reports that); undefined while more is needed.
 */
export function firstRecordOf(s: string, ended: boolean): string | null | undefined {
  let i = s.charCodeAt(0) === 0xfeff ? 1 : 0;
  let rec: string | undefined;
  let quotes = 0;
  for (;;) {
    const nl = s.indexOf('\n', i);
    if (nl === -1 && !ended) return undefined;
    let line = s.slice(i, nl === -1 ? s.length : nl);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (rec !== undefined) {
      rec += '\n' + line;
      quotes += quotesIn(line);
    } else if (line.trim() !== '') {
      rec = line;
      quotes = quotesIn(line);
    }
    if (rec !== undefined && quotes % 2 === 0) return rec;
    if (nl === -1) return null;
    i = nl + 1;
  }
}

/** Reads chunks until the header record is whole; `chunks` are the bytes read, to give back. */
async function readHeader(next: () => Promise<Buffer | null>, maxBytes: number): Promise<{ text: string | null; chunks: Buffer[] }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for (;;) {
    const c = await next();
    if (c) {
      chunks.push(c);
      bytes += c.length;
      if (c.includes(0)) return { text: null, chunks }; // binary: the reader skips it, naming it
    }
    const text = firstRecordOf(Buffer.concat(chunks).toString('utf8'), c === null);
    if (text !== undefined) return { text, chunks };
    if (bytes > maxBytes) return { text: null, chunks }; // over --max-line-bytes: the reader says so
  }
}

const listed = (cols: readonly string[]) => (cols.length > 30 ? [...cols.slice(0, 30), `… ${cols.length - 30} more`] : cols).join(', ');

/** Throws the UsageError of a header that cannot give what the flags ask (see the module header). */
export function checkCsvHeader(header: readonly string[], source: string, f: Pick<FieldOptions, 'promptField' | 'template' | 'keep'>): void {
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    const at = seen.get(h);
    if (at !== undefined) {
      throw new UsageError(`The CSV header of ${source} names the column "${h}" twice (columns ${at + 1} and ${i + 1}): rename one; gempipe cannot tell which is meant`);
    }
    seen.set(h, i);
  });
  const cols = `its columns: ${listed(header)}`;
  if (f.template !== undefined) {
    const missing = compileTemplate(f.template).fields.filter((x) => !seen.has(x));
    if (missing.length > 0) {
      throw new UsageError(`\`--template\` uses ${missing.map((m) => `{{${m}}}`).join(', ')}, which the CSV header of ${source} does not have (${cols})`);
    }
  } else if (!seen.has(f.promptField)) {
    throw new UsageError(`\`--prompt-field ${f.promptField}\`: the CSV header of ${source} has no column "${f.promptField}" (${cols}); name the prompt's column with --prompt-field, or build the prompt with --template`);
  }
  const keep = parseKeep(f.keep).filter((k) => !seen.has(k.from)).map((k) => k.from);
  if (keep.length > 0) throw new UsageError(`\`--keep ${keep.join(',')}\`: the CSV header of ${source} has no column ${keep.map((k) => `"${k}"`).join(', ')} (${cols})`);
}

/**
 * Checks the header of every CSV source before the run starts. Returns the stream to read as
 * stdin when stdin was one of them (the bytes read to check it, then the rest), else undefined.
 */
export async function checkCsvInputs(sources: readonly InputSource[], f: FieldOptions, o: { maxLineBytes: number; stdin?: NodeJS.ReadableStream }): Promise<NodeJS.ReadableStream | undefined> {
  let stdin: NodeJS.ReadableStream | undefined;
  for (const src of sources) {
    if (src.path === null) {
      if (!o.stdin) continue;
      const it = (o.stdin as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
      const next = async () => {
        const r = await it.next();
        return r.done ? null : Buffer.from(r.value);
      };
      const { text, chunks } = await readHeader(next, o.maxLineBytes);
      stdin = Readable.from((async function* () {
        try {
          yield* chunks;
          for (let c = await next(); c; c = await next()) yield c;
        } finally {
          await it.return?.();
        }
      })(), { objectMode: false });
      try {
        if (text !== null) checkCsvHeader(headerOf(text, f.delimiter), 'stdin', f);
      } catch (e) {
        if (e instanceof UsageError) throw e; // a header csv-parse rejects: the reader says so
      }
      continue;
    }
    let fh;
    try {
      fh = await open(src.path, 'r');
    } catch {
      continue; // the reader names an input it cannot open
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      const { text } = await readHeader(async () => {
        const { bytesRead } = await fh.read(buf, 0, buf.length);
        return bytesRead === 0 ? null : Buffer.from(buf.subarray(0, bytesRead));
      }, o.maxLineBytes);
      if (text !== null) checkCsvHeader(headerOf(text, f.delimiter), src.source, f);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      // unreadable, or a header csv-parse rejects: the reader reports it when it gets there
    } finally {
      await fh.close();
    }
  }
  return stdin;
}
