// The output directory's layout (SPEC §4, §5, §13): the one place that names its files and their
// temporary names, so the writer, resume, batch mode, the quota state and verify agree on them
// (test/output/layout.test.ts checks that no other module spells one).
//
//   shard-00000.jsonl ...    successes, at most --shard-size records each (SHARD_RE finds them)
//   failures.jsonl           failure records
//   superseded.jsonl         --redo-changed: the old records of lines that changed
//   .gempipe.lock            the run that owns the directory now (pid, host, start)
//   .gempipe-job.json        what the last run asked (model, system, config, input format), for verify; complete: it finished
//   .gempipe-sources.json    which file each source name is (real path, device, inode): one file, one name
//   .gempipe-usage.json      --rpd: requests per Pacific day, per model
//   .gempipe-limits.json     quota limits learned per model, for the next run
//   .gempipe-stdin.spool     stdin, kept while a resumed stdin job is checked and run
//   .gempipe-reserve         zeros: space kept free during a run, given back when the disk fills
//   .gempipe-batches.json    --mode batch: the journal of the directory's batch jobs
//   .gempipe-batches/        --mode batch: each job's NNNNNN.requests.jsonl, .records.jsonl, .responses.jsonl
//   .gempipe-series.jsonl    each run's time series, a segment per run (observe/timeseries.ts)
//   report.html              gempipe report / --report: the series and failures as one offline page
//   vectors-00000.npy ...    `gempipe embed --vectors f32|npy|parquet`: the vectors, a row per record of the JSONL index
//   .vectors-00000.npy.partial  a vector shard being filled (rows as float32; renamed or converted when full)
//   .gempipe-uploads.jsonl   --attach, --context: the journal of Files API uploads, by SHA-256 (media/uploads.ts)
//   .gempipe-context.json    --context: the journal of the explicit context cache (context/context-cache.ts)
//   .NAME.tmp (NAME.tmp for a dotfile)   a file being rewritten atomically, renamed over NAME

import { join } from 'node:path';

export const FAILURES_FILE = 'failures.jsonl';
export const USAGE_FILE = '.gempipe-usage.json';
export const LIMITS_FILE = '.gempipe-limits.json';
export const LOCK_FILE = '.gempipe.lock';
export const SUPERSEDED_FILE = 'superseded.jsonl';
export const STDIN_SPOOL = '.gempipe-stdin.spool';
export const JOB_FILE = '.gempipe-job.json';
export const SOURCES_FILE = '.gempipe-sources.json';
export const RESERVE_FILE = '.gempipe-reserve';
export const JOURNAL_FILE = '.gempipe-batches.json';
export const JOBS_DIR = '.gempipe-batches';
/** --attach/--context: uploads through the Files API, appended and fsynced a line at a time. */
export const UPLOADS_FILE = '.gempipe-uploads.jsonl';
/** --context: the explicit cache this directory's runs created (name, state), rewritten atomically. */
export const CONTEXT_FILE = '.gempipe-context.json';
/** Each run's time series (observe/timeseries.ts), a segment per run. */
export const SERIES_FILE = '.gempipe-series.jsonl';
/** `gempipe report` / --report's page. */
export const REPORT_FILE = 'report.html';

/** The one temporary name of a file rewritten atomically (tmp, fsync, rename): `.NAME.tmp`. */
export function tmpNameOf(name: string): string {
  return name.startsWith('.') ? `${name}.tmp` : `.${name}.tmp`;
}

/** Temporary files of a rewrite of a record file cut short (failures.jsonl.tmp: gempipe before 2026-12). */
export const STALE_TMP_RE = /^(\.(shard-\d{5,}\.jsonl|failures\.jsonl)\.tmp|failures\.jsonl\.tmp)$/;

/** The private name a run writes its lock under before link()ing it to LOCK_FILE. */
export function lockTmpName(pid: number): string {
  return `${LOCK_FILE}.${pid}.tmp`;
}

/** A shard's file name; group 1 is its number. */
export const SHARD_RE = /^shard-(\d{5,})\.jsonl$/;

export function shardName(n: number): string {
  return `shard-${String(n).padStart(5, '0')}.jsonl`;
}

/** A batch job's files (in JOBS_DIR): the uploaded requests, the records it holds, the server's responses. */
export function batchJobFiles(dir: string, id: string): { requests: string; records: string; responses: string } {
  const base = join(dir, JOBS_DIR, id);
  return { requests: `${base}.requests.jsonl`, records: `${base}.records.jsonl`, responses: `${base}.responses.jsonl` };
}

/** `gempipe embed --vectors`: the binary formats of a vector shard. */
export type VectorFormat = 'f32' | 'npy' | 'parquet';

/** A finished vector shard's name; group 1 is its number, group 2 its format. */
export const VECTOR_RE = /^vectors-(\d{5,})\.(f32|npy|parquet)$/;

export function vectorShardName(n: number, format: VectorFormat): string {
  return `vectors-${String(n).padStart(5, '0')}.${format}`;
}

/** A vector shard still being filled: group 1 is the name it will have. */
export const PARTIAL_VECTOR_RE = /^\.(vectors-\d{5,}\.(?:f32|npy|parquet))\.partial$/;

export function partialVectorName(name: string): string {
  return `.${name}.partial`;
}

/** The temporary file of a Parquet conversion cut short (`.vectors-00000.parquet.tmp`): removed at the next start. */
export function isStaleVectorTmp(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp') && VECTOR_RE.test(name.slice(1, -4));
}
