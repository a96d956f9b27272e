// How a split line becomes an InputRecord: text (the line is the prompt), JSONL (a JSON object;
// the prompt from a field or a template, --keep fields copied, --attach fields taken) or a whole
// request (request/line-request.ts); parserOf() picks the parser (and CSV's fields) from a job's
// input shape, for the run and for verify alike.

import type { InputRecord } from '../records.js';
import { createRequestParser } from '../request/line-request.js';
import type { InputFormat } from '../request/spec.js';
import { createFieldMapper, type FieldOptions } from './fields.js';
import type { SplitLine } from './line-splitter.js';

/** Turns one split line into an InputRecord (text or jsonl), or null to drop it. */
export type LineParser = (source: string, l: SplitLine) => InputRecord | null;

/** The text format: each non-blank line is one prompt. */
export const parseTextLine: LineParser = (source, l) => ({
  id: `${source}:${l.line}`,
  source,
  line: l.line,
  prompt: l.text,
});

/**
 * The jsonl format: each line a JSON object; the prompt is a field or a `{{field}}` template;
 * `keep` fields are copied into the output. A bad line becomes an invalid record, not an error.
 */
export function createJsonlParser(opts: FieldOptions): LineParser {
  const toRecord = createFieldMapper(opts);
  return (source, l) => {
    const base = { id: `${source}:${l.line}`, source, line: l.line };
    let obj: unknown;
    try {
      obj = JSON.parse(l.text);
    } catch (e) {
      return { ...base, prompt: '', invalid: { message: `line ${l.line} of ${source} is not valid JSON: ${(e as Error).message}` } };
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return { ...base, prompt: '', invalid: { message: `line ${l.line} of ${source} is not a JSON object` } };
    }
    return toRecord(base, obj as Record<string, unknown>);
  };
}

/**
 * The parser of a job's input format, and CSV's fields (CSV records are assembled, then mapped).
 * `warn`: JSONL's warning about a --keep field the first records lack (the run's reader passes it).
 */
export function parserOf(shape: { inputFormat?: InputFormat; promptField?: string; template?: string; keep?: readonly string[]; csvDelimiter?: string; embed?: { titleField?: string }; attach?: readonly string[]; model?: string }, warn?: (line: string) => void): { parse: LineParser; csv?: FieldOptions } {
  const fields = { promptField: shape.promptField ?? 'prompt', template: shape.template, keep: shape.keep ?? [], titleField: shape.embed?.titleField, attach: shape.attach ?? [] };
  return {
    parse: shape.inputFormat === 'jsonl' ? createJsonlParser({ ...fields, warn }) : shape.inputFormat === 'request' ? createRequestParser(shape.model) : parseTextLine,
    csv: shape.inputFormat === 'csv' ? { ...fields, delimiter: shape.csvDelimiter } : undefined,
  };
}
