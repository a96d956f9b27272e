// A GenerateContentRequest as the service reads it. The service parses JSON into protos, so it
// takes a field under its JSON name or its proto name (`generationConfig` and
// `generation_config`, `max_output_tokens`, `response_mime_type`, …): normalize() renames every
// snake_case field to its JSON name, except where the JSON is the user's own data (a
// responseJsonSchema, a function call's args, a function response, a batch line's metadata, the
// property names of a schema). The text helpers read a conversation the way the answers need it.

export interface Part {
  text?: string;
  thought?: boolean;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: { mimeType?: string; fileUri?: string };
  functionCall?: unknown;
  functionResponse?: unknown;
}

export interface Content {
  role?: string;
  parts?: Part[];
}

export interface ThinkingConfig {
  thinkingBudget?: number;
  includeThoughts?: boolean;
  thinkingLevel?: string;
}

export interface GenerationConfig {
  maxOutputTokens?: number;
  responseMimeType?: string;
  responseSchema?: unknown;
  responseJsonSchema?: unknown;
  thinkingConfig?: ThinkingConfig;
  temperature?: number;
  candidateCount?: number;
  stopSequences?: string[];
}

export interface GenerateRequest {
  model?: string;
  contents?: Content[];
  systemInstruction?: Content;
  generationConfig?: GenerationConfig;
  cachedContent?: string;
  tools?: unknown[];
  toolConfig?: unknown;
  safetySettings?: unknown[];
}

/** Fields whose value is the user's JSON, kept exactly as sent. */
const VERBATIM = new Set(['responseJsonSchema', 'parametersJsonSchema', 'args', 'response', 'metadata', 'labels', 'example', 'default']);

const camel = (k: string) => (k.includes('_') && !k.startsWith('@') && !k.startsWith('$') ? k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()) : k);

/** The request with every proto field name under its JSON name (a new object; the input is untouched). */
export function normalize<T = GenerateRequest>(value: unknown): T {
  return norm(value) as T;
}

function norm(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(norm);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const ck = camel(k);
    if (VERBATIM.has(ck)) out[ck] = val;
    else if (ck === 'properties' && val && typeof val === 'object' && !Array.isArray(val)) {
      // A schema's property names are the user's; their schemas are protos again.
      out[ck] = Object.fromEntries(Object.entries(val as Record<string, unknown>).map(([name, s]) => [name, norm(s)]));
    } else out[ck] = norm(val);
  }
  return out;
}

const partsText = (c: Content | undefined) => (c?.parts ?? []).filter((p) => !p.thought).map((p) => p.text ?? '').join('');

/** Every text of the conversation, joined: what scripts and per-prompt counters key on. */
export function promptOf(r: GenerateRequest): string {
  return (r.contents ?? []).map(partsText).join('');
}

/** The system instruction's text ('' when none). */
export function systemOf(r: GenerateRequest): string {
  return partsText(r.systemInstruction);
}

/** The conversation's turns as [role, text] (a turn without a role is the user's). */
export function turnsOf(r: GenerateRequest): Array<{ role: string; text: string; parts: Part[] }> {
  return (r.contents ?? []).map((c) => ({ role: c.role ?? 'user', text: partsText(c), parts: c.parts ?? [] }));
}

/** The last user turn's text: what an answer is about. */
export function lastUserText(r: GenerateRequest): string {
  const turns = turnsOf(r);
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === 'user') return turns[i].text;
  return turns.length ? turns[turns.length - 1].text : '';
}
