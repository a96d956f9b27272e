// The record shapes that flow between stages and land in the output (SPEC §4).
// Identity fields come first in every output record so a line's id is readable at a glance
// and resume can rely on `id` alone.

import { normalize } from 'node:path';

/**
 * The name a file source goes by in ids: the path as given, normalised, so that `./x.txt`,
 * `x.txt` and `a/../x.txt` are one source (resume matches them). It is not made absolute:
 * `x.txt` and `/home/me/x.txt` stay two sources. Ids written before this rule read back
 * through the same function (resume/output-state.ts).
 */
export function sourceName(path: string): string {
  return path === 'stdin' ? path : normalize(path);
}

/** One prompt read from an input: what the reader emits. */
export interface InputRecord {
  /** `<source>:<line>` — stable across runs; resume relies on it. */
  id: string;
  /** What was asked, hashed (request/spec.ts): resume skips an id only when this matches. */
  hash?: string;
  source: string;
  /** 1-based physical line number. */
  line: number;
  prompt: string;
  /** Input fields copied into the output (`--keep`, jsonl inputs). */
  kept?: Record<string, unknown>;
  /** Set when the line itself is bad (too long, not JSON): it becomes a failure record. */
  invalid?: { message: string };
  /** `gempipe embed --title-field`: the document's title, sent with its text and hashed with it. */
  title?: string;
  /** --input-format request: the line's GenerateContentRequest (REST JSON; see request/line-request.ts). */
  request?: Record<string, unknown>;
  /** --input-format request: the Batch API line's `key`, kept in the output record. */
  key?: string;
  /** --attach: what the attachment fields name, as read (the reader resolves them into `media`). */
  attach?: Array<{ field: string; value: string }>;
  /** --attach: the attachments, resolved: what the request hash covers and what the request sends. */
  media?: MediaRef[];
}

/** One attachment of a record (--attach), resolved by media/resolve.ts. */
export interface MediaRef {
  /** The input field that named it. */
  field: string;
  /** A local file: its path (relative to the input file's folder, resolved). */
  path?: string;
  /** An http(s) URL, handed to the service as it is (never downloaded by gempipe). */
  url?: string;
  /** From the content's first bytes (a URL: from its name, if it says). */
  mimeType?: string;
  /** A local file: hex SHA-256 of its bytes (what the record's hash covers) and its size. */
  sha256?: string;
  size?: number;
  /** How it goes: base64 in the request, uploaded once through the Files API, or a URL. */
  via: 'inline' | 'file' | 'url';
}

export interface Usage {
  promptTokens: number;
  /** Billed output: the answer's tokens plus the thoughts'. */
  responseTokens: number;
  totalTokens: number;
  /** Of responseTokens, the thinking model's thoughts (when the API reports them). */
  thoughtsTokens?: number;
  /**
   * Of promptTokens, those served from a context cache — an explicit one (--context) or the
   * service's implicit caching of a repeated prefix — billed at the cached rate
   * (usageMetadata.cachedContentTokenCount; absent when none).
   */
  cachedTokens?: number;
}

export interface SuccessRecord {
  id: string;
  hash?: string;
  source: string;
  line: number;
  prompt: string;
  response: string;
  model: string;
  finishReason: string;
  usage: Usage;
  attempts: number;
  latencyMs: number;
  json?: unknown;
  [kept: string]: unknown;
}

export interface RecordError {
  /** BLOCKED, INVALID_INPUT, RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED, ... */
  status: string;
  /** HTTP status where there was one, else 0. */
  code: number;
  message: string;
  /** Batch Mode: the canonical code (google.rpc.Code) of a per-request google.rpc.Status, e.g. 3 for INVALID_ARGUMENT. */
  rpcCode?: number;
}

export interface FailureRecord {
  id: string;
  hash?: string;
  source: string;
  line: number;
  prompt: string;
  attempts: number;
  error: RecordError;
  [kept: string]: unknown;
}

export type OutputRecord = SuccessRecord | FailureRecord;

/** The fields gempipe writes into output records: `--keep` cannot use these names. */
export const RECORD_FIELDS: readonly string[] = [
  'id', 'hash', 'source', 'line', 'prompt', 'response', 'model', 'finishReason', 'usage', 'attempts', 'latencyMs', 'json', 'error', 'dedupedFrom', 'cached', 'mode',
  'reusedFrom',
];

/** Copies an input's kept fields (--keep) into its output record, never over a record field. */
export function copyKept(rec: InputRecord, out: Record<string, unknown>): void {
  if (rec.key !== undefined && !('key' in out)) out.key = rec.key;
  if (rec.media?.length && !('attachments' in out)) out.attachments = rec.media.map(attachmentOf);
  if (rec.kept) for (const k in rec.kept) if (!(k in out)) out[k] = rec.kept[k];
}

/** An attachment as the output record names it: the field, what it was (bytes by SHA-256, or the URL), its type, how it went. */
export function attachmentOf(m: MediaRef): Record<string, unknown> {
  return { field: m.field, ...(m.sha256 ? { sha256: m.sha256 } : { url: m.url }), ...(m.mimeType ? { mimeType: m.mimeType } : {}), via: m.via };
}

/** What an answer gives its success record: from the API, the cache, or another record (dedupe). */
export interface Answer {
  response: string;
  model: string;
  finishReason: string;
  usage: Usage;
  /** --json-schema: the parsed answer. */
  json?: unknown;
}

/** The usage of an answer that cost nothing (a cache hit, a dedupe copy). */
export const NO_USAGE: Readonly<Usage> = Object.freeze({ promptTokens: 0, responseTokens: 0, totalTokens: 0 });

/**
 * The success record of an input: its identity, the answer, attempts and latency, the parsed
 * `json`, then `extra` fields (dedupedFrom, cached, mode) and the kept ones — the one shape every
 * path that answers a record writes (generate, cache, dedupe, batch).
 */
export function successOf(rec: InputRecord, answer: Answer, attempts: number, latencyMs: number, extra?: Record<string, unknown>): SuccessRecord {
  const out: SuccessRecord = {
    id: rec.id, hash: rec.hash, source: rec.source, line: rec.line, prompt: rec.prompt,
    response: answer.response, model: answer.model, finishReason: answer.finishReason, usage: answer.usage, attempts, latencyMs,
  };
  if (answer.json !== undefined) out.json = answer.json;
  Object.assign(out, extra);
  copyKept(rec, out);
  return out;
}

/** The failure record of a line that is itself bad (too long, not JSON, a field missing): INVALID_INPUT. */
export function invalidFailureOf(rec: InputRecord, extra?: Record<string, unknown>): FailureRecord {
  return failureOf(rec, 0, { status: 'INVALID_INPUT', code: 0, message: rec.invalid?.message ?? 'invalid input' }, extra);
}

/**
 * The failure record of an input: its identity, the attempts, the error, then `extra` fields
 * (dedupedFrom, mode) and the kept ones — the one shape every path that fails a record writes.
 */
export function failureOf(rec: InputRecord, attempts: number, error: RecordError, extra?: Record<string, unknown>): FailureRecord {
  const out: FailureRecord = { id: rec.id, hash: rec.hash, source: rec.source, line: rec.line, prompt: rec.prompt, attempts, error, ...extra };
  copyKept(rec, out);
  return out;
}

/** A failure has an `error` (a POST_FAILED one also keeps the paid `response`). */
export function isFailure(r: OutputRecord): r is FailureRecord {
  return (r as FailureRecord).error !== undefined;
}

/** The `--format text` layout: `<prompt> - <response>`, newlines inside escaped. */
export function formatTextLine(r: OutputRecord): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\r?\n/g, '\\n');
  const right = isFailure(r) ? `[${r.error.status}] ${r.error.message}` : r.response;
  return `${esc(r.prompt)} - ${esc(right)}\n`;
}

export function formatJsonLine(r: OutputRecord): string {
  return JSON.stringify(r) + '\n';
}
