// Embeddings (SPEC §17), as the service computes them for the emulator's purposes: a
// deterministic vector per (text, task type, title), so a test proves each vector went with its
// text. The full vector (3,072 dimensions for gemini-embedding-001) has unit length;
// `outputDimensionality` keeps its first N values, not renormalised — as the service's truncated
// (Matryoshka) embeddings are, which is why its docs tell users to normalise them. A text past the
// model's input limit (2,048 tokens) is cut there silently, as the service does.
//
//   embedContent        {content, taskType?, title?, outputDimensionality?} -> {embedding: {values}}
//   batchEmbedContents  {requests: [...]} (at most 100)                     -> {embeddings: [{values}]}

import { createHash } from 'node:crypto';
import { countTokens } from './answer.js';
import { invalidArgument, type GoogleError } from './google-errors.js';
import type { ModelInfo } from './models.js';
import type { Content } from './request.js';

export interface EmbedRequest {
  model?: string;
  content?: Content;
  taskType?: string;
  title?: string;
  outputDimensionality?: number;
}

/** The service's cap on requests in one batchEmbedContents call. */
export const MAX_BATCH_EMBED = 100;

export const TASK_TYPES = new Set(['TASK_TYPE_UNSPECIFIED', 'RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY']);

const textOf = (c: Content | undefined) => (c?.parts ?? []).map((p) => p.text ?? '').join('');

/** The deterministic unit vector of `dims` values for a text (seeded by its SHA-256). */
export function embeddingOf(text: string, dims: number, taskType = 'TASK_TYPE_UNSPECIFIED', title = ''): number[] {
  const seed = createHash('sha256').update(`${taskType}\u0000${title}\u0000${text}`).digest();
  const out = new Array<number>(dims);
  // xorshift128 from the digest: cheap, deterministic, spread over [-1, 1).
  let a = seed.readUInt32LE(0) | 1, b = seed.readUInt32LE(4), c = seed.readUInt32LE(8), d = seed.readUInt32LE(12);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const t = a ^ (a << 11);
    a = b; b = c; c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    const v = d / 2147483648 - 1;
    out[i] = v;
    norm += v * v;
  }
  const k = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dims; i++) out[i] = Math.round(out[i] * k * 1e8) / 1e8;
  return out;
}

/** One embedContent request's answer, or the 400 the service gives it; `at` names it in messages. */
export function embedOne(m: ModelInfo, r: EmbedRequest, at = ''): { embedding: { values: number[] } } | { error: GoogleError } {
  const full = m.embeddingDims ?? 3072;
  const text = textOf(r.content);
  if (!r.content || (r.content.parts ?? []).length === 0) return { error: invalidArgument(`* ${at}EmbedContentRequest.content: contents is not specified\n`) };
  if (r.taskType !== undefined && !TASK_TYPES.has(r.taskType)) {
    return { error: invalidArgument(`Invalid value at '${at ? at.replace(/\.$/, '') + '.' : ''}task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "${r.taskType}"`) };
  }
  const dims = r.outputDimensionality ?? full;
  if (!Number.isInteger(dims) || dims < 1 || dims > full) {
    return { error: invalidArgument(`* ${at}EmbedContentRequest.output_dimensionality: output_dimensionality must be between 1 and ${full}, got ${String(r.outputDimensionality)}.`) };
  }
  // Past the input limit the service truncates silently.
  const kept = countTokens(text) > m.inputTokenLimit ? text.slice(0, m.inputTokenLimit * 4) : text;
  const values = embeddingOf(kept, full, r.taskType ?? 'TASK_TYPE_UNSPECIFIED', r.taskType === 'RETRIEVAL_DOCUMENT' ? r.title ?? '' : '');
  return { embedding: { values: dims === full ? values : values.slice(0, dims) } };
}

/** The text an embed request carries (for scripts and token counts). */
export function embedText(r: EmbedRequest): string {
  return textOf(r.content);
}
