// --template: a prompt built from a JSONL (or CSV) record's fields. `{{name}}` reads a field,
// `{{user.name}}` a nested one, `{{items.0}}` an array element. A string is inserted as it is,
// anything else as JSON. A missing (or null) field is not guessed at: the record becomes an
// INVALID_INPUT failure naming the field. Compiled once; rendering is a walk over the parts.

import { UsageError } from './errors.js';

type Part = string | { path: string[]; name: string };

export interface Template {
  /** The prompt, or the first field the record lacks. */
  render(rec: Record<string, unknown>): { prompt: string } | { missing: string };
  /** The fields it reads (top-level names), e.g. for a CSV header check. */
  readonly fields: string[];
}

const FIELD = /\{\{\s*([^{}\s]+)\s*\}\}/g;

export function compileTemplate(text: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(FIELD)) {
    parts.push(text.slice(last, m.index));
    const name = m[1];
    const path = name.split('.');
    if (path.some((p) => p === '')) throw new UsageError(`\`--template\`: \`{{${name}}}\` is not a field path (use {{a}}, {{a.b}} or {{items.0}})`);
    parts.push({ path, name });
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  const literal = parts.filter((p): p is string => typeof p === 'string').join('');
  if (literal.includes('{{') || literal.includes('}}')) {
    const at = literal.includes('{{') ? '{{' : '}}';
    throw new UsageError(`\`--template\` has a \`${at}\` that is not part of a {{field}}: ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)}`);
  }
  const fields = [...new Set(parts.filter((p): p is Exclude<Part, string> => typeof p !== 'string').map((p) => p.path[0]))];
  return {
    fields,
    render(rec) {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        let v: unknown = rec;
        for (const k of p.path) {
          if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, k)) {
            v = undefined;
            break;
          }
          v = (v as Record<string, unknown>)[k];
        }
        if (v === undefined || v === null) return { missing: p.name };
        out += typeof v === 'string' ? v : JSON.stringify(v);
      }
      return { prompt: out };
    },
  };
}
