// The record of an embedded text: its identity, what was asked (prompt, title), the vector (or,
// with --vectors f32|npy|parquet, where it lies: `shard` and `row`), then model, usage, attempts,
// latency — the one shape every path that embeds writes (online, batch, a cache hit, a copy).
// It moves through the stages as a SuccessRecord (they read its identity only); the few readers
// of `response` are kept from it (rules.ts: no --format text) or ask isEmbedding() first.

import { copyKept, type InputRecord, type SuccessRecord, type Usage } from '../records.js';

export interface EmbeddingRecord {
  id: string;
  hash?: string;
  source: string;
  line: number;
  prompt: string;
  title?: string;
  /** The vector (JSONL output); absent once it is in a binary shard. */
  embedding?: number[];
  /** --vectors f32|npy|parquet: the file (in the output directory) and row holding the vector. */
  shard?: string;
  row?: number;
  dimensions: number;
  model: string;
  usage: Usage;
  attempts: number;
  latencyMs: number;
  [kept: string]: unknown;
}

/** What an embedding answer gives its record: from the API, the cache, or another record (dedupe). */
export interface EmbeddingAnswer {
  embedding?: number[];
  shard?: string;
  row?: number;
  /** Of a vector given by shard and row. */
  dimensions?: number;
  model: string;
  usage: Usage;
}

/** Fields an embedding record has besides a generate record's: `--keep` cannot use them. */
export const EMBED_RECORD_FIELDS: readonly string[] = ['title', 'embedding', 'shard', 'row', 'dimensions'];

export function isEmbedding(r: object): r is EmbeddingRecord {
  return 'dimensions' in r && ('embedding' in r || 'shard' in r);
}

/** The success record of an embedded input (typed as the SuccessRecord the stages move). */
export function embeddingSuccessOf(rec: InputRecord, a: EmbeddingAnswer, attempts: number, latencyMs: number, extra?: Record<string, unknown>): SuccessRecord {
  const out: EmbeddingRecord = { id: rec.id, hash: rec.hash, source: rec.source, line: rec.line, prompt: rec.prompt } as EmbeddingRecord;
  if (rec.title !== undefined) out.title = rec.title;
  if (a.embedding) out.embedding = a.embedding;
  else {
    out.shard = a.shard;
    out.row = a.row;
  }
  const dims = a.embedding?.length ?? a.dimensions ?? 0;
  Object.assign(out, { dimensions: dims }, { model: a.model, usage: a.usage, attempts, latencyMs }, extra);
  copyKept(rec, out);
  return out as unknown as SuccessRecord;
}

/**
 * --normalize: the vector scaled to unit length. Values keep 9 decimals (float32 holds about 7
 * significant digits; more would only lengthen the JSON).
 */
export function normalized(v: readonly number[]): number[] {
  let n = 0;
  for (const x of v) n += x * x;
  const k = n > 0 ? 1 / Math.sqrt(n) : 1;
  return v.map((x) => Math.round(x * k * 1e9) / 1e9);
}
