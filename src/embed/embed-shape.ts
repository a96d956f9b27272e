// What an embedding request asks besides its text (SPEC §17): the task type, the output size,
// unit length, and which input field gives a document its title. Part of the request's shape
// (request/spec.ts), so it enters the record's hash, the --cache key and a worker's fingerprint;
// the grouping of texts into calls does not (it changes no vector).

/** gemini-embedding-001: the current Gemini embedding model (ai.google.dev embeddings docs, read 2026-12). */
export const EMBED_MODEL = 'gemini-embedding-001';

/** The API's cap on texts in one batchEmbedContents call (a 101st is a 400). */
export const MAX_TEXTS_PER_CALL = 100;

/** The TaskType values the API takes (google.ai.generativelanguage.v1beta.TaskType). */
export const TASK_TYPES = ['TASK_TYPE_UNSPECIFIED', 'RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY'] as const;

export interface EmbedShape {
  /** --task-type: what the vectors are for (the API's TaskType). */
  taskType?: string;
  /** --dimensions: outputDimensionality (Matryoshka: the first N values of the full vector). */
  dimensions?: number;
  /** --normalize: each vector scaled to unit length after it arrives (the docs advise it below 3072). */
  normalize?: boolean;
  /** --title-field: the JSONL/CSV field whose value is the document's title (RETRIEVAL_DOCUMENT only). */
  titleField?: string;
}

/** The shape in words, for `describe()`: `embeddings, RETRIEVAL_DOCUMENT, 768 dimensions, normalized`. */
export function describeEmbed(e: EmbedShape): string {
  const parts = ['embeddings'];
  if (e.taskType) parts.push(e.taskType);
  if (e.dimensions) parts.push(`${e.dimensions} dimensions`);
  if (e.normalize) parts.push('normalized');
  if (e.titleField) parts.push(`titles from "${e.titleField}"`);
  return parts.join(', ');
}

/** The grouping and output defaults of `gempipe embed` (not part of the request: they change no vector). */
export const EMBED_DEFAULTS = {
  textsPerCall: MAX_TEXTS_PER_CALL,
  callWaitMs: 100,
  vectors: 'jsonl',
} as const;
