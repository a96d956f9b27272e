// findChangedLines(): before anything is sent, the current inputs are checked against what the
// output directory holds (SPEC §10). Each source with records in the directory is read up to
// its last written line, through the same chain the run reads with (split2, the parser, the
// request hash); a line whose hash differs from its record's is changed. Records without a hash
// (older gempipe) are trusted. Sources without records are not read here.

import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { listRecordFiles } from './record-files.js';
import type { InputRecord } from '../records.js';
import { hash32, keptHash32 } from './line-hashes.js';
import { createSourceChain, type InputReaderOptions, type InputSource } from '../stages/read-inputs.js';
import { scanLines } from '../util/scan-lines.js';
import { IdSet } from './id-set.js';
import { idOf, type OutputState } from './output-state.js';

export interface ChangedLines {
  ids: IdSet;
  count: number;
  /** Lines with a record that the file no longer has (deleted from its end, or blank now): moved away by --redo-changed, else reported as orphans. */
  gone: IdSet;
  /** The first changed line met, with its current prompt; `keptOnly`: it asks the same, only its --keep fields differ. */
  first?: { id: string; source: string; line: number; prompt: string; kept?: Record<string, unknown>; keptOnly: boolean };
}

export async function findChangedLines(
  sources: readonly InputSource[],
  state: Pick<OutputState, 'succeeded' | 'failed' | 'hashes' | 'kept'>,
  o: Pick<InputReaderOptions, 'stdin' | 'maxLineBytes' | 'parse' | 'hash' | 'csv' | 'resolve'>,
  /** --keep's output names: a line whose kept fields differ from its record's is changed too (state.kept). */
  keptNames: readonly string[] = [],
): Promise<ChangedLines> {
  const out: ChangedLines = { ids: new IdSet(), count: 0, gone: new IdSet() };
  for (const src of sources) {
    const last = Math.max(state.succeeded.lastLine(src.source), state.failed.lastLine(src.source));
    if (last === 0) continue;
    let chain: Duplex;
    try {
      chain = createSourceChain(src, o);
    } catch {
      continue; // cannot be opened: the reader reports it
    }
    const present = new Uint8Array(last + 1); // lines the file still has a record on
    try {
      for await (const rec of chain as AsyncIterable<InputRecord>) {
        if (rec.line > last) break;
        present[rec.line] = 1;
        const old = state.hashes.get(src.source, rec.line);
        const sameAsk = old === 0 || old === hash32(rec.hash);
        const sameKept = !state.kept || state.kept.get(src.source, rec.line) === keptHash32(rec.kept, keptNames);
        if (sameAsk && sameKept) continue;
        if (!state.succeeded.has(src.source, rec.line) && !state.failed.has(src.source, rec.line)) continue;
        out.ids.add(src.source, rec.line);
        out.count++;
        out.first ??= { id: rec.id, source: src.source, line: rec.line, prompt: rec.prompt, kept: rec.kept, keptOnly: sameAsk };
      }
      for (let l = 1; l <= last; l++) {
        if (!present[l] && (state.succeeded.has(src.source, l) || state.failed.has(src.source, l))) out.gone.add(src.source, l);
      }
    } catch {
      /* unreadable part-way: the reader reports it */
    } finally {
      chain.destroy();
    }
  }
  return out;
}

/** The record written for `source:line` (a shard or failures.jsonl), if found. */
export async function writtenRecord(dir: string, source: string, line: number): Promise<Record<string, unknown> | undefined> {
  const names = listRecordFiles(dir).sort(); // failures.jsonl first, as ever
  for (const name of names) {
    let found: Record<string, unknown> | undefined;
    await scanLines(join(dir, name), (data, start, end, _next, terminated) => {
      if (!terminated) return;
      const text = data.toString('utf8', start, end);
      const ref = idOf(text);
      if (ref?.source === source && ref.line === line) {
        found = JSON.parse(text) as Record<string, unknown>;
        return false;
      }
    });
    if (found !== undefined) return found;
  }
  return undefined;
}

/** `ticket was "A", now "B"`: the kept fields a record and its line disagree on. */
export function keptDifference(written: Record<string, unknown> | undefined, now: Record<string, unknown> | undefined, names: readonly string[]): string {
  const show = (o: Record<string, unknown> | undefined, n: string) => (o && n in o ? quoteAt(JSON.stringify(o[n]).replace(/^"|"$/g, ''), 0, 30) : 'absent');
  return names.filter((n) => show(written, n) !== show(now, n)).map((n) => `${n} was ${show(written, n)}, now ${show(now, n)}`).join('; ');
}

/**
 * `"…the part of it…"` for a message: `max` characters from a little before `from` (where an
 * old and a new prompt first differ), so two long prompts that differ late do not read alike.
 */
export function quoteAt(text: string, from = 0, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const start = from > 20 ? from - 20 : 0;
  const part = flat.slice(start, start + max);
  return JSON.stringify(`${start > 0 ? '…' : ''}${part}${start + max < flat.length ? '…' : ''}`);
}

/** Where two texts (whitespace runs flattened, as quoteAt shows them) first differ. */
export function firstDifference(a: string, b: string): number {
  const x = a.replace(/\s+/g, ' ').trim();
  const y = b.replace(/\s+/g, ' ').trim();
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}
