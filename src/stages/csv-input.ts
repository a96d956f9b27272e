// --input-format csv: records assembled from the splitter's numbered lines and parsed by
// csv-parse (the CSV project's parser: RFC 4180 quoting, doubled quotes, a BOM). A record ends
// at a line where the double quotes seen so far balance (quotes inside a quoted field are
// doubled, so the count is even exactly when no field is open); it keeps the number of the line
// it starts on, so an id is still `source:line`. The first record is the header: its fields name
// the columns. A row with another number of fields, one csv-parse rejects, one longer than
// --max-line-bytes, or a quote still open at the end of the file becomes an INVALID_INPUT
// failure naming the line; the rest of the file goes on. A CRLF inside a quoted field is read as
// LF (the splitter strips CR). Blank lines between records are skipped (they count). The header
// itself is checked against the flags before the run starts (csv-header.ts).

import { parse } from 'csv-parse/sync';
import { flushable, many, none } from 'stream-chain';
import type { InputRecord } from '../records.js';
import type { SplitLine } from './line-splitter.js';
import { createFieldMapper, type FieldOptions } from './fields.js';

export function createCsvAssembler(source: string, o: FieldOptions & { maxRecordBytes: number }) {
  const toRecord = createFieldMapper(o);
  let header: string[] | undefined;
  let pending: { line: number; text: string; quotes: number } | undefined;

  const invalid = (line: number, message: string): InputRecord => ({ id: `${source}:${line}`, source, line, prompt: '', invalid: { message } });

  function complete(line: number, text: string): InputRecord | undefined {
    let rows: string[][];
    try {
      rows = parse(text, { relax_column_count: true, skip_empty_lines: false, delimiter: o.delimiter ?? ',' }) as string[][];
    } catch (e) {
      return invalid(line, `line ${line} of ${source} is not valid CSV: ${(e as Error).message.replace(/^Invalid Record Length: /, '')}`);
    }
    const row = rows[0] ?? [];
    if (!header) {
      header = row.map((h) => h.trim());
      return undefined;
    }
    if (rows.length !== 1 || row.length !== header.length) {
      return invalid(line, `line ${line} of ${source} has ${rows.length === 1 ? row.length : 'a broken number of'} field(s), the header ${header.length}`);
    }
    const rec: Record<string, unknown> = {};
    header.forEach((h, i) => (rec[h] = row[i]));
    return toRecord({ id: `${source}:${line}`, source, line }, rec);
  }

  const quotesIn = (t: string) => {
    let n = 0;
    for (let i = t.indexOf('"'); i !== -1; i = t.indexOf('"', i + 1)) n++;
    return n;
  };

  return flushable((l: SplitLine | typeof none) => {
    if (l === none) {
      if (!pending) return none;
      const p = pending;
      pending = undefined;
      return invalid(p.line, `line ${p.line} of ${source} opens a quoted field that is not closed by the end of the file`);
    }
    const out: InputRecord[] = [];
    if (l.tooLongBytes !== undefined) {
      if (pending) out.push(invalid(pending.line, `the record starting on line ${pending.line} of ${source} has a line over --max-line-bytes ${o.maxRecordBytes} (line ${l.line})`));
      else out.push(invalid(l.line, `line ${l.line} of ${source} is ${l.tooLongBytes} bytes, over --max-line-bytes ${o.maxRecordBytes}`));
      pending = undefined;
      return many(out);
    }
    if (!pending) {
      if (l.text.trim() === '') return none; // a blank line between records
      pending = { line: l.line, text: l.text, quotes: quotesIn(l.text) };
    } else {
      pending.text += '\n' + l.text;
      pending.quotes += quotesIn(l.text);
    }
    if (pending.quotes % 2 === 0) {
      const p = pending;
      pending = undefined;
      const rec = complete(p.line, p.text);
      return rec ?? none;
    }
    if (Buffer.byteLength(pending.text) > o.maxRecordBytes) {
      const p = pending;
      pending = undefined;
      return invalid(p.line, `the record starting on line ${p.line} of ${source} runs past --max-line-bytes ${o.maxRecordBytes} bytes with a quoted field still open (a quote not closed?)`);
    }
    return none;
  });
}
