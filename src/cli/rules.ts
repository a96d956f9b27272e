// The rules between flags, as data: each says when a combination cannot run and what to do
// instead. parseOptions() applies them after the values are read, and run() again for library
// callers who build Options themselves; test/cli/rules.test.ts walks the table.

import { UsageError } from '../errors.js';
import type { Options } from './options.js';

export interface FlagRule {
  when: (o: Options) => boolean;
  message: string;
}

export const FLAG_RULES: readonly FlagRule[] = [
  {
    when: (o) => o.format === 'text' && o.out !== '-',
    message: '`--format text` writes to stdout only (`-o -`): shards are always JSONL, so that resume can read the ids back',
  },
  {
    when: (o) => (o.template !== undefined || o.keep.length > 0) && o.inputFormat === 'text',
    message: '`--template`, `--prompt-field` and `--keep` need `--input-format jsonl` or `csv`',
  },
  {
    when: (o) => o.csvDelimiter !== undefined && o.csvDelimiter !== ',' && o.inputFormat !== 'csv',
    message: '`--csv-delimiter` needs `--input-format csv`',
  },
  {
    when: (o) => o.mode === 'batch' && o.out === '-',
    message: '`--mode batch` writes shards and keeps a journal of its jobs: give it `--out DIR`, not `-`',
  },
  { when: (o) => o.detach && o.mode === 'online', message: '`--detach` is for `--mode batch` (or auto)' },
  {
    when: (o) => o.inputFormat === 'request' && (o.template !== undefined || o.keep.length > 0),
    message: '`--prompt-field`, `--template` and `--keep` read jsonl/csv fields: a request line (`--input-format request`) is sent as it is',
  },
  { when: (o) => (o.attach?.length ?? 0) > 0 && o.inputFormat !== 'jsonl' && o.inputFormat !== 'csv', message: '`--attach` names fields of `--input-format jsonl` or `csv` records (a request line carries its own parts)' },
  {
    // A batch line with local files would hold their bytes or uploads made ahead: not built yet.
    when: (o) => (o.attach?.length ?? 0) > 0 && o.mode !== 'online',
    message: '`--attach` runs online (`--mode online`): Batch API lines with local attachments are not built yet; give http(s) URLs in `--input-format request` lines to batch them',
  },
  { when: (o) => (o.attach?.length ?? 0) > 0 && o.coordinator !== undefined, message: '`gempipe coordinator` hands records to workers on other machines, which cannot read local attachments: run `--attach` jobs without `coordinator`' },
  { when: (o) => o.context !== undefined && o.coordinator !== undefined, message: '`--context` is not handed to workers yet: run it without `coordinator`' },
  { when: (o) => o.inlineMax !== undefined && !(o.attach?.length), message: '`--inline-max` needs `--attach FIELD`' },
  { when: (o) => o.quotaId !== undefined && !o.redis, message: '`--quota-id` needs `--redis URL`' },
  { when: (o) => (o.cacheAll || o.cacheTtlMs !== undefined) && o.cache === undefined, message: '`--cache-all` and `--cache-ttl` need `--cache PATH`' },
  { when: (o) => o.retryFailed && o.overwrite, message: '`--retry-failed` and `--overwrite` cannot be used together' },
  { when: (o) => o.report && o.out === '-', message: '`--report` writes OUT/report.html from the time series kept in the output directory: give it `--out DIR`, not `-`' },
  { when: (o) => (o.report || o.metrics !== undefined) && o.dryRun, message: '`--report` and `--metrics` show a run; `--dry-run` sends nothing: drop them for the plan' },
  {
    when: (o) => o.out === '-' && (o.retryFailed || o.overwrite),
    message: '`--retry-failed` and `--overwrite` apply to an output directory, not to `--out -`',
  },
  {
    when: (o) => o.coordinator !== undefined && !o.redis,
    message: '`gempipe coordinator` needs `--redis URL` (or GEMINI_REDIS_URL): the Redis its workers use',
  },
  { when: (o) => o.coordinator !== undefined && o.out === '-', message: '`gempipe coordinator` writes shards: give it `--out DIR`, not `-`' },
  { when: (o) => o.coordinator !== undefined && o.dryRun, message: '`--dry-run` plans a run: drop `coordinator` for it' },
  {
    // The Batch API needs no workers: a coordinator handing batch work out would only add a hop.
    when: (o) => o.coordinator !== undefined && o.mode !== 'online',
    message: '`gempipe coordinator` hands records to workers, which ask online; `--mode batch` and `--mode auto` need no workers: run `gempipe --mode batch` (or auto) without `coordinator`',
  },
];

/** Throws the UsageError of the first rule the options break. */
export function checkFlagRules(o: Options): void {
  for (const r of FLAG_RULES) if (r.when(o)) throw new UsageError(r.message);
}
