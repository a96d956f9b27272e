// The output directory's layout (SPEC §4, §5): the one place that names its files, so the
// writer, resume, the quota state and --dry-run agree on them.
//
//   shard-00000.jsonl ...   successes, at most --shard-size records each (SHARD_RE finds them)
//   failures.jsonl          failure records (rewritten atomically through failures.jsonl.tmp)
//   .gempipe-usage.json     --rpd: requests per Pacific day, per model
//   .gempipe-limits.json    quota limits learned per model, for the next run
//   .gempipe.lock           the run that owns the directory now (pid, host, start)

export const FAILURES_FILE = 'failures.jsonl';
export const USAGE_FILE = '.gempipe-usage.json';
export const LIMITS_FILE = '.gempipe-limits.json';
export const LOCK_FILE = '.gempipe.lock';

/** A shard's file name; group 1 is its number. */
export const SHARD_RE = /^shard-(\d{5,})\.jsonl$/;

export function shardName(n: number): string {
  return `shard-${String(n).padStart(5, '0')}.jsonl`;
}
