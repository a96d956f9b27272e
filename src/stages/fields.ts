// A record's fields -> an InputRecord, for JSONL and CSV alike: the prompt from --prompt-field or
// --template, the --keep fields copied (`NAME` or `NAME:AS`, kept under AS), the --attach fields
// taken (media/resolve.ts reads them), a missing field named in an INVALID_INPUT failure. JSONL has
// no header to check --keep against: a kept field that none of the first records has is warned
// about once (CSV checks its header: csv-header.ts).

import type { InputRecord } from '../records.js';
import { compileTemplate } from '../template.js';

/** How a record's fields become a prompt (JSONL and CSV alike). */
export interface FieldOptions {
  promptField: string;
  template?: string;
  /** `NAME` or `NAME:AS` (the input field NAME kept in the output as AS). */
  keep: readonly string[];
  /** CSV: the field separator. @default "," */
  delimiter?: string;
  /** A warning (JSONL: a --keep field none of the first records has). */
  warn?: (line: string) => void;
  /** `gempipe embed --title-field`: the field holding a document's title (a string; absent: none). */
  titleField?: string;
  /** --attach: fields naming files or URLs (a string, or in JSONL an array of them; empty: none). */
  attach?: readonly string[];
}

/** One --keep entry: the input field and the output name. */
export interface KeepSpec {
  from: string;
  to: string;
}

/** `id:ticket_id` -> {from: 'id', to: 'ticket_id'}; `lang` -> {from: 'lang', to: 'lang'}. */
export function parseKeep(keep: readonly string[]): KeepSpec[] {
  return keep.map((k) => {
    const at = k.lastIndexOf(':');
    return at > 0 ? { from: k.slice(0, at).trim(), to: k.slice(at + 1).trim() } : { from: k.trim(), to: k.trim() };
  });
}

/** Records a kept field may be absent from before JSONL input is warned about it. */
export const KEEP_WARN_AFTER = 20;

/**
 * A record's fields -> an InputRecord: the prompt from `--prompt-field` or `--template`, the
 * `--keep` fields copied; a missing field makes it invalid (an INVALID_INPUT failure naming it).
 */
export function createFieldMapper(opts: FieldOptions): (base: { id: string; source: string; line: number }, rec: Record<string, unknown>) => InputRecord {
  const { promptField, template, warn, titleField } = opts;
  const keep = parseKeep(opts.keep);
  const attach = [...(opts.attach ?? [])];
  const compiled = template !== undefined ? compileTemplate(template) : undefined;
  // JSONL: how many records in a row lacked each kept field (-1 once one had it, or it was said).
  const absent = keep.map(() => 0);
  const first: Array<string | undefined> = keep.map(() => undefined);
  return (base, rec) => {
    let prompt: string;
    if (compiled) {
      const r = compiled.render(rec);
      if ('missing' in r) {
        return { ...base, prompt: '', invalid: { message: `line ${base.line} of ${base.source} has no field "${r.missing}" used by --template` } };
      }
      prompt = r.prompt;
    } else {
      const v = rec[promptField];
      if (typeof v !== 'string' || v.trim() === '') {
        return { ...base, prompt: '', invalid: { message: `line ${base.line} of ${base.source} has no string field "${promptField}" (--prompt-field)` } };
      }
      prompt = v;
    }
    const out: InputRecord = { ...base, prompt };
    const title = titleField !== undefined ? rec[titleField] : undefined;
    if (typeof title === 'string' && title.trim() !== '') out.title = title;
    if (attach.length > 0) {
      const refs: Array<{ field: string; value: string }> = [];
      for (const field of attach) {
        const v = rec[field];
        if (v === undefined) return { ...base, prompt, invalid: { message: `line ${base.line} of ${base.source} has no field "${field}" (--attach)` } };
        const values = Array.isArray(v) ? v : [v];
        for (const x of values) {
          if (x === null || x === '') continue; // no attachment in this field
          if (typeof x !== 'string') return { ...base, prompt, invalid: { message: `line ${base.line} of ${base.source}: field "${field}" (--attach) holds ${JSON.stringify(x).slice(0, 40)}, not a path or URL` } };
          refs.push({ field, value: x });
        }
      }
      if (refs.length > 0) out.attach = refs;
    }
    if (keep.length > 0) {
      out.kept = {};
      keep.forEach((k, i) => {
        if (k.from in rec) {
          out.kept![k.to] = rec[k.from];
          absent[i] = -1;
        } else if (warn && absent[i] >= 0) {
          first[i] ??= base.id;
          if (++absent[i] === KEEP_WARN_AFTER) {
            absent[i] = -1;
            warn(`gempipe: warning: \`--keep ${k.from}\`: none of the first ${KEEP_WARN_AFTER} records has a field "${k.from}" (from ${first[i]}); check its name — JSONL has no header to check it against, so a record without it is kept without it`);
          }
        }
      });
    }
    return out;
  };
}
