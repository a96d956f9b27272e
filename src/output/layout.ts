// The output directory's layout (SPEC §4, §5): the one place that names its files, so the
// writer, resume, the quota state and --dry-run agree on them.
//
//   shard-00000.jsonl ...   successes, at most --shard-size records each (SHARD_RE finds them)
//   failures.jsonl          failure records (rewritten atomically through failures.jsonl.tmp)
//   .gempipe-usage.json     --rpd: requests per Pacific day, per model
//   .gempipe-limits.json    quota limits learned per model, for the next run
//   .gempipe.lock           the run that owns the directory now (pid, host, start)
//   superseded.jsonl        --redo-changed: the old records of lines that changed
//   .shard-NNNNN.jsonl.tmp  a shard being rewritten by --redo-changed (renamed over it)
//   .gempipe-stdin.spool    stdin, kept while a resumed stdin job is checked and run
//   .gempipe-job.json       what the last run asked (model, system, config, input format), for verify
//   .gempipe-reserve        zeros: space kept free during a run, given back when the disk fills

export const FAILURES_FILE = 'failures.jsonl';
export const USAGE_FILE = '.gempipe-usage.json';
export const LIMITS_FILE = '.gempipe-limits.json';
export const LOCK_FILE = '.gempipe.lock';
export const SUPERSEDED_FILE = 'superseded.jsonl';
export const STDIN_SPOOL = '.gempipe-stdin.spool';
export const JOB_FILE = '.gempipe-job.json';
export const RESERVE_FILE = '.gempipe-reserve';

/** A rewrite's temporary file: `.` + the file's name + `.tmp`. */
export const REWRITE_TMP_RE = /^\.(shard-\d{5,}\.jsonl|failures\.jsonl)\.tmp$/;
export function rewriteTmpName(name: string): string {
  return `.${name}.tmp`;
}

/** A shard's file name; group 1 is its number. */
export const SHARD_RE = /^shard-(\d{5,})\.jsonl$/;

export function shardName(n: number): string {
  return `shard-${String(n).padStart(5, '0')}.jsonl`;
}
