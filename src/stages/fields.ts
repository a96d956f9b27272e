// A record's fields -> an InputRecord, for JSONL and CSV alike: the prompt from --prompt-field or
// --template, the --keep fields copied, the --attach fields taken (media/resolve.ts reads them),
// a missing field named in an INVALID_INPUT failure.

import type { InputRecord } from '../records.js';
import { compileTemplate } from '../template.js';

/** How a record's fields become a prompt (JSONL and CSV alike). */
export interface FieldOptions {
  promptField: string;
  template?: string;
  keep: readonly string[];
  /** --attach: fields naming files or URLs (a string, or in JSONL an array of them; empty: none). */
  attach?: readonly string[];
}

/**
 * A record's fields -> an InputRecord: the prompt from `--prompt-field` or `--template`, the
 * `--keep` fields copied; a missing field makes it invalid (an INVALID_INPUT failure naming it).
 */
export function createFieldMapper(opts: FieldOptions): (base: { id: string; source: string; line: number }, rec: Record<string, unknown>) => InputRecord {
  const { promptField, template, keep, attach } = { ...opts, keep: [...opts.keep], attach: [...(opts.attach ?? [])] };
  const compiled = template !== undefined ? compileTemplate(template) : undefined;
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
      for (const k of keep) if (k in rec) out.kept[k] = rec[k];
    }
    return out;
  };
}
