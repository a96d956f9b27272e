// --input-format request: each line a whole GenerateContentRequest (contents with roles, a
// systemInstruction, generationConfig, safetySettings, tools, ...) or a Batch API input line
// {"key": ..., "request": {...}} — so a batch file a user already has runs as it is. The request
// is kept as given, with its top-level and generationConfig keys under their JSON names (the
// service takes `generation_config` too; the merge with the command line needs one spelling);
// its text is the record's prompt; the key is kept. A line that is neither is an INVALID_INPUT
// failure naming what is wrong, the line and the file; the run goes on.

import type { InputRecord } from '../records.js';
import type { LineParser } from '../stages/line-parsers.js';

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[camel(k)] = v;
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a request's contents, or undefined. */
function contentsProblem(contents: unknown): string | undefined {
  if (!Array.isArray(contents) || contents.length === 0) return '"contents" must be a non-empty array of turns';
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i] as unknown;
    if (!isObject(c)) return `"contents[${i}]" must be an object ({"role", "parts"})`;
    if (c.role !== undefined && typeof c.role !== 'string') return `"contents[${i}].role" must be a string ("user" or "model")`;
    if (!Array.isArray(c.parts) || c.parts.length === 0) return `"contents[${i}].parts" must be a non-empty array`;
    const bad = (c.parts as unknown[]).findIndex((p) => !isObject(p) || Object.keys(p).length === 0);
    if (bad >= 0) return `"contents[${i}].parts[${bad}]" must be a part object ({"text"}, {"inlineData"}, {"fileData"}, ...)`;
  }
  return undefined;
}

/** The text of a request's turns (thoughts left out), one turn a line: the record's `prompt`. */
export function textOfRequest(request: Record<string, unknown>): string {
  const turns: string[] = [];
  for (const c of (request.contents as Array<{ parts?: Array<Record<string, unknown>> }> | undefined) ?? []) {
    const t = (c.parts ?? []).filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text as string).join('');
    if (t) turns.push(t);
  }
  return turns.join('\n');
}

/** The parser of request lines; `model` (--model): a line naming another model is refused. */
export function createRequestParser(model?: string): LineParser {
  const bare = (m: string) => m.replace(/^models\//, '');
  return (source, l) => {
    const base = { id: `${source}:${l.line}`, source, line: l.line };
    let key: string | undefined;
    // A bad line keeps its key too, when it has one: its failure record says which request it was.
    const invalid = (message: string): InputRecord => ({ ...base, prompt: '', invalid: { message: `line ${l.line} of ${source} ${message}` }, ...(key !== undefined ? { key } : {}) });
    let obj: unknown;
    try {
      obj = JSON.parse(l.text);
    } catch (e) {
      return invalid(`is not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(obj)) return invalid('is not a JSON object');
    let raw: unknown = obj;
    if ('request' in obj) {
      // The Batch API's input line; its key (a string; a number is taken as its digits).
      if (obj.key !== undefined && typeof obj.key !== 'string' && typeof obj.key !== 'number') return invalid('has a "key" that is not a string');
      key = obj.key === undefined ? undefined : String(obj.key);
      raw = obj.request;
      if (!isObject(raw)) return invalid('has a "request" that is not a JSON object (a GenerateContentRequest)');
    } else if (!('contents' in obj)) {
      return invalid('is neither a GenerateContentRequest (it has no "contents") nor a Batch API line ({"key", "request"})');
    }
    const request = camelKeys(raw as Record<string, unknown>);
    const problem = contentsProblem(request.contents);
    if (problem) return invalid(`has a bad request: ${problem}`);
    if (request.generationConfig !== undefined) {
      if (!isObject(request.generationConfig)) return invalid('has a "generationConfig" that is not an object');
      request.generationConfig = camelKeys(request.generationConfig);
    }
    if (request.systemInstruction !== undefined && !isObject(request.systemInstruction) && typeof request.systemInstruction !== 'string') {
      return invalid('has a "systemInstruction" that is neither a Content ({"parts"}) nor text');
    }
    if (typeof request.systemInstruction === 'string') request.systemInstruction = { parts: [{ text: request.systemInstruction }] };
    if (request.model !== undefined) {
      // One model a job: its quota, price and records' `model` are that model's.
      if (typeof request.model !== 'string' || (model !== undefined && bare(request.model) !== bare(model))) {
        return invalid(`asks for model ${JSON.stringify(request.model)}, not this run's --model ${model}: give such lines a run of their own`);
      }
      delete request.model;
    }
    const rec: InputRecord = { ...base, prompt: textOfRequest(request), request };
    if (key !== undefined) rec.key = key;
    return rec;
  };
}
