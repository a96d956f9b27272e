// RequestSpec: what every request of a job asks besides its prompt — model, system instruction,
// generation config, schema — built once from the options, and the one place those six fields
// are read: the SDK's config, the record's `hash` (resume's content check), the --cache key, the
// fingerprint a coordinator's workers check, and the words messages use for them. A record that
// asks more than its text (a whole request line, attachments, a --context) hashes that too:
// hashOf()/cacheKeyOf(); a text record's hash is what it always was.

import { hash } from 'node:crypto';
import type { Partition } from '../partition.js';
import type { InputRecord } from '../records.js';
import { compileSchema, type SchemaCheck } from '../schema.js';
import { describeEmbed, type EmbedShape } from '../embed/embed-shape.js';

/** The options that shape a request, besides the prompt. */
export interface RequestShape {
  model: string;
  system?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinkingBudget?: number;
  /** Structured output: a parsed JSON Schema object (--json-schema FILE). */
  jsonSchema?: unknown;
  /** `gempipe embed`: the request is an embedding (embed/embed-shape.ts), not generateContent. */
  embed?: EmbedShape;
}

export const REQUEST_FIELDS: ReadonlyArray<keyof RequestShape> = ['model', 'system', 'temperature', 'maxOutputTokens', 'thinkingBudget', 'jsonSchema', 'embed'];

export type InputFormat = 'text' | 'jsonl' | 'csv' | 'request';

/** How a job's lines become prompts. */
export interface InputShape {
  /** @default "text" */
  inputFormat: InputFormat;
  /** jsonl/csv: the field holding the prompt. @default "prompt" */
  promptField: string;
  /** jsonl/csv: render the prompt from fields, e.g. `Classify: {{text}}`. */
  template?: string;
  /** @default 1048576 */
  maxLineBytes: number;
  /** --partition i/N: this process does part i of N (by a hash of the id). */
  partition?: Partition;
  /** csv: the field separator (absent: a comma). */
  csvDelimiter?: string;
  /** jsonl/csv: input fields copied into the output (`NAME` or `NAME:AS`); not part of the request hash. */
  keep?: readonly string[];
  /** --attach: jsonl/csv fields naming files or URLs sent with the prompt. */
  attach?: string[];
  /** --context FILE|DIR: a shared prefix of every request (context/context.ts). */
  context?: string;
}

/** What was asked and how lines became prompts: what `verify` needs to recompute the hashes (OUT/.gempipe-job.json). */
export type JobShape = RequestShape & InputShape;
export const JOB_SHAPE_KEYS: ReadonlyArray<keyof JobShape> = [...REQUEST_FIELDS, 'inputFormat', 'promptField', 'template', 'maxLineBytes', 'partition', 'csvDelimiter', 'keep', 'attach', 'context'];

/** generateContent's config as the SDK takes it (a structural subset of @google/genai's GenerateContentConfig). */
export interface GenerationConfig {
  /** One call is one HTTP request (SPEC §3). */
  automaticContinuation: false;
  systemInstruction?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinkingConfig?: { thinkingBudget: number };
  responseMimeType?: string;
  responseJsonSchema?: unknown;
}

export interface RequestSpec {
  readonly shape: Readonly<RequestShape>;
  /** --json-schema: answers are parsed as JSON. */
  readonly expectJson: boolean;
  /** --json-schema: the compiled check (undefined: no schema), compiled on first use. */
  readonly checkJson: SchemaCheck | undefined;
  config(): GenerationConfig;
  /** The record's `hash`: 16 hex digits of SHA-256 over the canonical shape and the prompt (and an embedding's title). */
  hash(prompt: string, title?: string): string;
  /** The --cache key: the full SHA-256 (hex) over the shape, positionally, and the prompt (and an embedding's title). */
  cacheKey(prompt: string, title?: string): string;
  /**
   * A record's hash: hash(prompt) for a text record; over the prompt and what else it asks — its
   * whole request line, its attachments' SHA-256 (or URL) and type, the --context's digest —
   * for any other.
   */
  hashOf(rec: InputRecord): string;
  /** A record's --cache key, as hashOf() extends hash(). */
  cacheKeyOf(rec: InputRecord): string;
  /** 16 hex digits naming the shape plus `extra` (how to ask: retries, limits), for workers. */
  fingerprint(extra?: Record<string, unknown>): string;
  /** The shape in words: `gemini-2.5-flash, temperature 0, a system instruction`. */
  describe(): string;
}

/** Object keys sorted at every level, so that `{a,b}` and `{b,a}` serialise alike. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * What a record asks besides its prompt and the job's shape, canonically; undefined for a text
 * record (its hash stays hash(prompt), as pinned by test/request/known-hashes.test.ts).
 */
export function extraOf(rec: InputRecord, contextDigest?: string): string | undefined {
  if (rec.request === undefined && !rec.media?.length && contextDigest === undefined) return undefined;
  const extra: Record<string, unknown> = {};
  if (rec.request !== undefined) extra.request = rec.request;
  // The bytes (or the URL) and their type: not how they travel (inline or uploaded).
  if (rec.media?.length) extra.media = rec.media.map((m) => [m.field, m.sha256 ?? `url:${m.url}`, m.mimeType ?? null]);
  if (contextDigest !== undefined) extra.context = contextDigest;
  return JSON.stringify(canonical(extra));
}

export function requestSpecOf(o: RequestShape, job: { contextDigest?: string } = {}): RequestSpec {
  const shape = { model: o.model } as RequestShape;
  for (const k of REQUEST_FIELDS) if (o[k] !== undefined) (shape as unknown as Record<string, unknown>)[k] = o[k];
  // Two serialisations, both on users' disks and so fixed (test/request/known-hashes.test.ts):
  // records' hashes take the canonical object; cache keys a positional array.
  // An embedding adds its shape (and never equals a generate hash); a generate request's stay as they were.
  const embed = shape.embed ? { embed: shape.embed } : {};
  const hashHead = JSON.stringify(canonical({
    model: shape.model, system: shape.system ?? null, temperature: shape.temperature ?? null,
    maxOutputTokens: shape.maxOutputTokens ?? null, thinkingBudget: shape.thinkingBudget ?? null,
    schema: shape.jsonSchema ?? null, ...embed,
  })) + '\u0000';
  const cacheHead = JSON.stringify([shape.model, shape.system ?? null, shape.temperature ?? null, shape.maxOutputTokens ?? null, shape.thinkingBudget ?? null, shape.jsonSchema ?? null, ...(shape.embed ? [canonical(shape.embed)] : [])]) + '\u0000';
  // A title (--title-field) is part of what an embedding asks; none leaves the hash as the prompt's alone.
  const titled = (prompt: string, title?: string) => (title === undefined ? prompt : `${prompt}\u0000title\u0000${title}`);
  let check: SchemaCheck | undefined | null = null;
  return {
    shape,
    expectJson: shape.jsonSchema !== undefined,
    get checkJson() {
      if (check === null) check = shape.jsonSchema !== undefined ? compileSchema(shape.jsonSchema as object) : undefined;
      return check;
    },
    config() {
      const c: GenerationConfig = { automaticContinuation: false };
      if (shape.system !== undefined) c.systemInstruction = shape.system;
      if (shape.temperature !== undefined) c.temperature = shape.temperature;
      if (shape.maxOutputTokens !== undefined) c.maxOutputTokens = shape.maxOutputTokens;
      if (shape.thinkingBudget !== undefined) c.thinkingConfig = { thinkingBudget: shape.thinkingBudget };
      if (shape.jsonSchema !== undefined) {
        c.responseMimeType = 'application/json';
        c.responseJsonSchema = shape.jsonSchema;
      }
      return c;
    },
    // crypto.hash (one shot, Node >= 20.12): 0.49 µs a prompt here, against 1.27 µs for createHash().
    hash: (prompt, title) => hash('sha256', hashHead + titled(prompt, title), 'hex').slice(0, 16),
    cacheKey: (prompt, title) => hash('sha256', cacheHead + titled(prompt, title), 'hex'),
    hashOf(rec) {
      const extra = extraOf(rec, job.contextDigest);
      const p = titled(rec.prompt, rec.title);
      return extra === undefined ? hash('sha256', hashHead + p, 'hex').slice(0, 16) : hash('sha256', hashHead + p + '\u0000' + extra, 'hex').slice(0, 16);
    },
    cacheKeyOf(rec) {
      const extra = extraOf(rec, job.contextDigest);
      return hash('sha256', cacheHead + titled(rec.prompt, rec.title) + (extra === undefined ? '' : '\u0000' + extra), 'hex');
    },
    fingerprint: (extra = {}) => hash('sha256', JSON.stringify(canonical({ ...shape, ...extra })), 'hex').slice(0, 16),
    describe() {
      const parts = [shape.model];
      if (shape.system !== undefined) parts.push('a system instruction');
      if (shape.temperature !== undefined) parts.push(`temperature ${shape.temperature}`);
      if (shape.maxOutputTokens !== undefined) parts.push(`at most ${shape.maxOutputTokens} output tokens`);
      if (shape.thinkingBudget !== undefined) parts.push(`thinking budget ${shape.thinkingBudget}`);
      if (shape.jsonSchema !== undefined) parts.push('a JSON schema');
      if (shape.embed) parts.push(describeEmbed(shape.embed));
      return parts.join(', ');
    },
  };
}
