// A record's fields -> an InputRecord, for JSONL and CSV alike: the prompt from --prompt-field or
// --template, the --keep fields copied, a missing field named in an INVALID_INPUT failure.

import type { InputRecord } from '../records.js';
import { compileTemplate } from '../template.js';

/** How a record's fields become a prompt (JSONL and CSV alike). */
export interface FieldOptions {
  promptField: string;
  template?: string;
  keep: readonly string[];
  /** `gempipe embed --title-field`: the field holding a document's title (a string; absent: none). */
  titleField?: string;
}

/**
 * A record's fields -> an InputRecord: the prompt from `--prompt-field` or `--template`, the
 * `--keep` fields copied; a missing field makes it invalid (an INVALID_INPUT failure naming it).
 */
export function createFieldMapper(opts: FieldOptions): (base: { id: string; source: string; line: number }, rec: Record<string, unknown>) => InputRecord {
  const { promptField, template, keep, titleField } = { ...opts, keep: [...opts.keep] };
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
    const title = titleField !== undefined ? rec[titleField] : undefined;
    if (typeof title === 'string' && title.trim() !== '') out.title = title;
    if (keep.length > 0) {
      out.kept = {};
      for (const k of keep) if (k in rec) out.kept[k] = rec[k];
    }
    return out;
  };
}
