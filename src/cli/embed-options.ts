// `gempipe embed`'s options: the run's parseOptions() (the flags that apply, the same messages),
// then the embedding's own flags into `embed` (the request's shape) and the rules between them.
// Embeddings are deterministic, so --cache is used without --temperature 0.

import { EMBED_RECORD_FIELDS } from '../embed/embed-record.js';
import { UsageError } from '../errors.js';
import { EMBED_FLAGS } from './flags.js';
import { parseOptions, type Options, type ParseContext, type RawOptions } from './options.js';
import { applyFlags } from './values.js';

/** The rules between embed's flags, as data (walked by test/embed/embed-parts.test.ts). */
export const EMBED_RULES: ReadonlyArray<{ when: (o: Options) => boolean; message: string }> = [
  { when: (o) => o.vectors !== undefined && o.vectors !== 'jsonl' && o.out === '-', message: '`--vectors f32|npy|parquet` writes binary shards beside a JSONL index: give `--out DIR`, not `-`' },
  { when: (o) => o.embed?.titleField !== undefined && o.inputFormat === 'text', message: '`--title-field` reads a field: it needs `--input-format jsonl` or `csv`' },
  { when: (o) => o.embed?.titleField !== undefined && o.embed.taskType !== 'RETRIEVAL_DOCUMENT', message: '`--title-field` needs `--task-type RETRIEVAL_DOCUMENT`: the API uses a title only for documents' },
  { when: (o) => o.inputFormat === 'request', message: '`--input-format request` reads whole generate requests; `gempipe embed` takes text, jsonl or csv' },
  { when: (o) => o.keep.some((k) => EMBED_RECORD_FIELDS.includes(k)), message: `\`--keep\`: ${EMBED_RECORD_FIELDS.join(', ')} are fields of every embedding record; rename the input field` },
];

export function parseEmbedOptions(raw: RawOptions, positional: string[], ctx: ParseContext): Options {
  const o = parseOptions(raw, positional, { ...ctx, coordinator: raw.coordinator === true });
  applyFlags(EMBED_FLAGS, raw, o as unknown as Record<string, unknown>, ctx.env);
  o.embed ??= {};
  if (o.cache !== undefined) o.cacheAll = true;
  for (const r of EMBED_RULES) if (r.when(o)) throw new UsageError(r.message);
  return o;
}
