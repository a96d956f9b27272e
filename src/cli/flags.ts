// Every command's flags as data: one table per command drives commander (flags, help, defaults),
// the one validation (values.ts: kind, range, environment fallback, messages naming the flag),
// and — through test/cli/flags-readme.test.ts — the README's options table. Flags whose meaning is
// more than a value (`--rpm auto|off`, `--system @FILE`, `--json-schema`, `--thinking-budget -1`,
// `--keep a,b`) are `special`: parseOptions() reads them in code, after the table.

import { DEFAULTS } from './defaults.js';

/** `ms` / `seconds`: a bare number in that unit, or with a unit of its own (`1500ms`, `5s`, `2m`). */
export type FlagKind = 'int' | 'num' | 'choice' | 'text' | 'switch' | 'duration' | 'ms' | 'seconds' | 'name' | 'redis' | 'url' | 'address' | 'special';

export interface Flag {
  /** The raw key commander gives it (camelCase of the long flag). */
  key: string;
  /** commander's flag syntax: '-o, --out <dir>'. */
  flags: string;
  help: string;
  kind: FlagKind;
  /** The Options field it sets, when not `key`. */
  field?: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** Applied by commander and shown in --help. */
  default?: string | number;
  /** The environment variable that gives it when the flag is absent. */
  env?: string;
  /** The command refuses to run without it: the message saying so. */
  required?: string;
}

/** The queue a coordinator and its workers share when none is named. */
export const DEFAULT_QUEUE = 'gempipe';

export const RUN_FLAGS: readonly Flag[] = [
  { key: 'out', flags: '-o, --out <dir>', help: 'output directory for shards, or - for stdout', kind: 'special', default: DEFAULTS.out },
  { key: 'openFiles', flags: '--open-files <n>', help: 'input files open at once', kind: 'int', min: 1, max: 4096, default: DEFAULTS.openFiles },
  { key: 'inputFormat', flags: '--input-format <fmt>', help: 'text: a prompt per line; jsonl: a JSON object per line; csv: a header row, then records; request: a GenerateContentRequest (or a Batch API {"key","request"} line) per line', kind: 'choice', choices: ['text', 'jsonl', 'csv', 'request'], default: DEFAULTS.inputFormat },
  { key: 'promptField', flags: '--prompt-field <name>', help: 'jsonl/csv: the field holding the prompt (default "prompt")', kind: 'text' },
  { key: 'template', flags: '--template <text>', help: "jsonl/csv: build the prompt from fields, e.g. 'Classify: {{text}}' ({{a.b}}, {{items.0}}), or @FILE", kind: 'text' },
  { key: 'keep', flags: '--keep <fields>', help: 'jsonl/csv: comma-separated input fields copied into each output record; NAME:AS keeps NAME as AS (--keep id:ticket_id)', kind: 'special' },
  { key: 'csvDelimiter', flags: '--csv-delimiter <char>', help: 'csv: the field separator, one character (; or tab)', kind: 'special', default: ',' },
  { key: 'attach', flags: '--attach <fields>', help: 'jsonl/csv: comma-separated fields naming files (relative to the input file\'s folder) or http(s) URLs, sent with the prompt (images, PDFs, audio, video)', kind: 'special' },
  { key: 'inlineMax', flags: '--inline-max <bytes>', help: '--attach: files up to this size go inline (base64), larger ones are uploaded once through the Files API; auto: 192 MiB / --concurrency, within 256 KiB-20 MiB', kind: 'special', default: 'auto' },
  { key: 'context', flags: '--context <path>', help: 'a file or folder sent first in every request; cached explicitly when above the model\'s caching minimum (deleted at the end), else a prefix for implicit caching', kind: 'text' },
  { key: 'contextTtl', field: 'contextTtlMs', flags: '--context-ttl <duration>', help: '--context: the explicit cache\'s TTL, renewed while the run lasts (what a killed run leaves billed at most)', kind: 'duration', default: '10m' },
  { key: 'contextCache', flags: '--context-cache <mode>', help: '--context: auto: an explicit cache above the model\'s minimum; off: always a prefix (implicit caching only)', kind: 'choice', choices: ['auto', 'off'], default: DEFAULTS.contextCache },
  { key: 'maxLineBytes', flags: '--max-line-bytes <n>', help: 'longer lines become INVALID_INPUT failure records', kind: 'int', min: 16, max: 1024 ** 3, default: DEFAULTS.maxLineBytes },
  { key: 'model', flags: '--model <name>', help: 'Gemini model (env GEMINI_MODEL)', kind: 'special', default: DEFAULTS.model },
  { key: 'system', flags: '--system <text>', help: 'system instruction, or @FILE to read it from a file', kind: 'special' },
  { key: 'temperature', flags: '--temperature <t>', help: 'sampling temperature, 0-2', kind: 'num', min: 0, max: 2 },
  { key: 'maxOutputTokens', flags: '--max-output-tokens <n>', help: 'cap on response tokens', kind: 'int', min: 1 },
  { key: 'thinkingBudget', flags: '--thinking-budget <n>', help: 'thinking tokens (0 off, -1 dynamic)', kind: 'special' },
  { key: 'jsonSchema', flags: '--json-schema <file>', help: 'structured output: the schema is sent, each answer validated against it (kept parsed as "json")', kind: 'special' },
  { key: 'mode', flags: '--mode <mode>', help: 'online: a request per record; batch: Gemini batch jobs at half the price, results within 24 h; auto: batch above --batch-threshold records when the deadline allows', kind: 'choice', choices: ['online', 'batch', 'auto'], default: DEFAULTS.mode },
  { key: 'batchMaxRequests', flags: '--batch-max-requests <n>', help: '--mode batch: records per batch job', kind: 'int', min: 1, max: 1_000_000, default: DEFAULTS.batchMaxRequests },
  { key: 'batchMaxMb', flags: '--batch-max-mb <n>', help: '--mode batch: megabytes of requests per job (the API takes files up to 2 GB)', kind: 'int', min: 1, max: 2000, default: DEFAULTS.batchMaxMb },
  { key: 'batchPoll', field: 'batchPollMs', flags: '--batch-poll <ms>', help: '--mode batch: first wait between polls; grows to a minute while nothing changes', kind: 'ms', min: 10, max: 3_600_000, default: DEFAULTS.batchPollMs },
  { key: 'batchThreshold', flags: '--batch-threshold <n>', help: '--mode auto: batch when more records than this are to do', kind: 'int', min: 0, max: 1_000_000_000, default: DEFAULTS.batchThreshold },
  { key: 'deadline', field: 'deadlineMs', flags: '--deadline <duration>', help: '--mode batch: what is not done by then (e.g. 6h) is sent online', kind: 'duration' },
  { key: 'fallback', flags: '--fallback <where>', help: '--mode batch: records of failed, expired or cancelled jobs go into a new batch, or online', kind: 'choice', choices: ['batch', 'online'], default: DEFAULTS.fallback },
  { key: 'batchResultWait', field: 'batchResultWaitMs', flags: '--batch-result-wait <duration>', help: '--mode batch: how long a job that reads SUCCEEDED is polled for its responses file (never resubmitted); then the run ends resumably', kind: 'duration', default: '1h' },
  { key: 'detach', flags: '--detach', help: '--mode batch: submit the jobs and exit; run the same command later to collect them', kind: 'switch' },
  { key: 'dedupe', flags: '--dedupe', help: 'send identical requests once; every record is still written, copies with "dedupedFrom"', kind: 'switch' },
  { key: 'redis', flags: '--redis <url>', help: 'share the rpm/tpm quota, its pauses and learned limits with every process using this Redis and quota id (env GEMINI_REDIS_URL)', kind: 'redis', env: 'GEMINI_REDIS_URL' },
  { key: 'quotaId', flags: '--quota-id <id>', help: 'the shared quota\'s name (default: a fingerprint of the API key, never the key, plus the model)', kind: 'name' },
  { key: 'partition', flags: '--partition <i/N>', help: 'do part i of N (by a hash of each id), into an --out of its own; `gempipe merge` joins the parts', kind: 'special' },
  { key: 'cache', flags: '--cache <path>', help: 'a persistent response cache (LMDB file): a hit is written with "cached": true and costs no request', kind: 'text' },
  { key: 'cacheAll', flags: '--cache-all', help: 'use the cache for non-deterministic requests too (without --temperature 0)', kind: 'switch' },
  { key: 'cacheTtl', field: 'cacheTtlMs', flags: '--cache-ttl <duration>', help: 'cache entries older than this (30m, 12h, 7d) are misses', kind: 'duration' },
  { key: 'schemaRetries', flags: '--schema-retries <n>', help: 'an answer that is not JSON or breaks --json-schema is asked again up to N times, then fails (INVALID_RESPONSE)', kind: 'int', min: 0, max: 20, default: DEFAULTS.schemaRetries },
  { key: 'concurrency', flags: '--concurrency <n>', help: 'most requests in flight', kind: 'int', min: 1, max: 10_000, default: DEFAULTS.concurrency },
  { key: 'rpm', flags: '--rpm <n>', help: 'requests per minute (every attempt counts); auto: find it (the default); off: no limit', kind: 'special' },
  { key: 'tpm', flags: '--tpm <n>', help: 'input tokens per minute (estimated before, corrected after)', kind: 'int', min: 1 },
  { key: 'rpd', flags: '--rpd <n>', help: 'requests per day, counted across runs into the same --out; reaching it ends the run (exit 1)', kind: 'int', min: 1 },
  { key: 'maxQuotaWait', field: 'maxQuotaWaitMs', flags: '--max-quota-wait <duration>', help: 'a quota that lets no request through for this long (429s only) ends the run, exit 1, resumable (e.g. 10m)', kind: 'duration', default: '10m' },
  { key: 'maxAttempts', flags: '--max-attempts <n>', help: 'attempts per prompt, the first included', kind: 'int', min: 1, max: 100, default: DEFAULTS.maxAttempts },
  { key: 'retryBaseDelay', field: 'retryBaseDelayMs', flags: '--retry-base-delay <ms>', help: 'first backoff ceiling in ms; doubles per attempt, with full jitter', kind: 'ms', min: 0, max: 600_000, default: DEFAULTS.retryBaseDelayMs },
  { key: 'timeout', field: 'timeoutMs', flags: '--timeout <ms>', help: 'per-attempt timeout: 5s, 1500ms, 2m (a bare number is ms)', kind: 'ms', min: 1, max: 86_400_000, default: DEFAULTS.timeoutMs },
  { key: 'baseUrl', flags: '--base-url <url>', help: 'API endpoint (env GEMINI_BASE_URL)', kind: 'url', env: 'GEMINI_BASE_URL' },
  { key: 'emulator', flags: '--emulator', help: 'run against an in-process Gemini emulator (no key needed, no cost)', kind: 'special' },
  { key: 'emulatorIfNoKey', flags: '--emulator-if-no-key', help: 'use the emulator only when no API key is set (the demo)', kind: 'special' },
  { key: 'shardSize', flags: '--shard-size <n>', help: 'records per shard', kind: 'int', min: 1, default: DEFAULTS.shardSize },
  { key: 'shardBytes', flags: '--shard-bytes <n>', help: 'also rotate a shard before it passes this size', kind: 'int', min: 1 },
  { key: 'ordered', flags: '--ordered', help: 'write records in input order (default: completion order)', kind: 'switch' },
  { key: 'format', flags: '--format <fmt>', help: 'stdout layout: jsonl, or text "<prompt> - <response>"', kind: 'choice', choices: ['jsonl', 'text'], default: DEFAULTS.format },
  { key: 'retryFailed', flags: '--retry-failed', help: 'retry the records in failures.jsonl instead of skipping them', kind: 'switch' },
  { key: 'redoChanged', flags: '--redo-changed', help: 'answer again the lines changed since their records were written (old records move to superseded.jsonl)', kind: 'switch' },
  { key: 'writeRetry', field: 'writeRetrySec', flags: '--write-retry <s>', help: 'seconds a failed write (disk full) is retried, sending paused, before the run ends resumably (exit 1)', kind: 'seconds', min: 0, max: 86_400, default: DEFAULTS.writeRetrySec },
  { key: 'overwrite', flags: '--overwrite', help: 'delete existing shards and failures.jsonl and start afresh', kind: 'switch' },
  { key: 'fsync', flags: '--fsync <policy>', help: 'none | close (fsync each file when closed) | always (after every batch)', kind: 'choice', choices: ['none', 'close', 'always'], default: DEFAULTS.fsync },
  { key: 'progressInterval', field: 'progressIntervalSec', flags: '--progress-interval <s>', help: 'seconds between status lines when stderr is not a terminal', kind: 'seconds', min: 0.1, max: 86_400, default: DEFAULTS.progressIntervalSec },
  { key: 'dryRun', flags: '--dry-run', help: 'no API calls: print the plan (records to do, tokens, duration, cost)', kind: 'switch' },
  { key: 'priceIn', flags: '--price-in <usd>', help: 'USD per million input tokens, for --dry-run\'s plan, the summary\'s cost, the report and --metrics (default: built-in table)', kind: 'num', min: 0, max: 1_000_000 },
  { key: 'priceOut', flags: '--price-out <usd>', help: 'USD per million output tokens, for --dry-run\'s plan, the summary\'s cost, the report and --metrics (default: built-in table)', kind: 'num', min: 0, max: 1_000_000 },
  { key: 'quiet', flags: '-q, --quiet', help: 'print only errors', kind: 'switch' },
  { key: 'summaryJson', flags: '--summary-json <file>', help: 'also write the end summary as JSON', kind: 'text' },
  { key: 'report', flags: '--report', help: 'write OUT/report.html when the run ends (plots of its time series, failures, cost); `gempipe report -o DIR` writes it any time', kind: 'switch' },
  { key: 'metrics', flags: '--metrics <host:port>', help: 'serve Prometheus metrics at http://HOST:PORT/metrics while it runs (:0: a free port, said on stderr)', kind: 'address' },
  { key: 'post', flags: '--post <module>', help: 'run MODULE[:export] (or builtin:wordcount) on each success record, on worker threads; its fields are merged in', kind: 'text' },
  { key: 'postWorkers', flags: '--post-workers <n>', help: 'worker threads for --post (default: cores - 1, at least 1; 0: on the event loop)', kind: 'int', min: 0, max: 256 },
  { key: 'postTimeout', field: 'postTimeoutMs', flags: '--post-timeout <ms>', help: 'per record: a --post function still running after this fails the record (POST_FAILED, answer kept)', kind: 'ms', min: 1, max: 86_400_000, default: DEFAULTS.postTimeoutMs },
  { key: 'drainTimeout', field: 'drainTimeoutSec', flags: '--drain-timeout <s>', help: 'seconds in-flight requests get to finish after SIGINT/SIGTERM', kind: 'seconds', min: 0, max: 86_400, default: DEFAULTS.drainTimeoutSec },
];

/** `gempipe coordinator`: a run's flags plus the queue's (QUEUE_FLAGS). */
export const QUEUE_FLAGS: readonly Flag[] = [
  { key: 'queue', field: 'coordinator.queue', flags: '--queue <name>', help: 'the queue shared with the workers', kind: 'name', default: DEFAULT_QUEUE },
  { key: 'maxQueued', field: 'coordinator.maxQueued', flags: '--max-queued <n>', help: 'records queued or being answered at once (back-pressure)', kind: 'int', min: 1, max: 100_000, default: 256 },
];
export const COORDINATOR_FLAGS: readonly Flag[] = [...RUN_FLAGS, ...QUEUE_FLAGS];

/** `gempipe embed`'s own flags (SPEC §17); its command takes these, the run's that apply, and the queue's. */
export const EMBED_FLAGS: readonly Flag[] = [
  { key: 'taskType', field: 'embed.taskType', flags: '--task-type <type>', help: 'what the vectors are for: RETRIEVAL_DOCUMENT, RETRIEVAL_QUERY, SEMANTIC_SIMILARITY, CLASSIFICATION, CLUSTERING, QUESTION_ANSWERING, FACT_VERIFICATION, CODE_RETRIEVAL_QUERY', kind: 'choice', choices: ['TASK_TYPE_UNSPECIFIED', 'RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY'] },
  { key: 'dimensions', field: 'embed.dimensions', flags: '--dimensions <n>', help: 'values per vector (outputDimensionality; the model\'s full size when absent: 3072 for gemini-embedding-001)', kind: 'int', min: 1, max: 3072 },
  { key: 'normalize', field: 'embed.normalize', flags: '--normalize', help: 'scale each vector to unit length (the docs advise it when --dimensions cuts the vector)', kind: 'switch' },
  { key: 'titleField', field: 'embed.titleField', flags: '--title-field <name>', help: 'jsonl/csv with --task-type RETRIEVAL_DOCUMENT: the field holding each document\'s title', kind: 'text' },
  { key: 'textsPerCall', flags: '--texts-per-call <n>', help: 'texts in one batchEmbedContents call at most (the API takes 100)', kind: 'int', min: 1, max: 100, default: 100 },
  { key: 'callWait', field: 'callWaitMs', flags: '--call-wait <ms>', help: 'a call goes this long after its first text joined it, full or not', kind: 'int', min: 1, max: 60_000, default: 100 },
  { key: 'vectors', flags: '--vectors <format>', help: 'jsonl: each record holds its vector; f32, npy, parquet: binary shards (vectors-NNNNN.*) beside a JSONL index (shard, row)', kind: 'choice', choices: ['jsonl', 'f32', 'npy', 'parquet'], default: 'jsonl' },
  { key: 'coordinator', flags: '--coordinator', help: 'be a coordinator (needs --redis): `gempipe worker`s embed the texts', kind: 'special' },
];

/** The run's flags that mean nothing to an embedding request. */
// Attachments, request lines and --context shape a generate request: an embedding has none of them.
const GENERATE_ONLY = new Set(['system', 'temperature', 'maxOutputTokens', 'thinkingBudget', 'jsonSchema', 'schemaRetries', 'format', 'cacheAll', 'attach', 'inlineMax', 'context', 'contextTtl', 'contextCache']);

/** `gempipe embed`: the run's flags that apply (--model's default the embedding model), its own, the queue's. */
export const EMBED_COMMAND_FLAGS: readonly Flag[] = [
  ...RUN_FLAGS.filter((f) => !GENERATE_ONLY.has(f.key)).map((f) => (f.key === 'model' ? { ...f, default: 'gemini-embedding-001' } : f)),
  ...EMBED_FLAGS,
  ...QUEUE_FLAGS,
];

/** `gempipe worker`. */
export const WORKER_FLAGS: readonly Flag[] = [
  { key: 'redis', flags: '--redis <url>', help: 'the coordinator\'s Redis (env GEMINI_REDIS_URL)', kind: 'redis', env: 'GEMINI_REDIS_URL', required: '`gempipe worker` needs `--redis URL` (or GEMINI_REDIS_URL): the coordinator\'s Redis' },
  { key: 'queue', flags: '--queue <name>', help: 'the coordinator\'s --queue', kind: 'name', default: DEFAULT_QUEUE },
  { key: 'concurrency', flags: '--concurrency <n>', help: 'records answered at once', kind: 'int', min: 1, max: 10_000, default: 16 },
  { key: 'lockMs', flags: '--lock-ms <ms>', help: 'a job whose worker is silent this long goes to another worker', kind: 'ms', min: 500, max: 3_600_000, default: 30_000 },
  { key: 'baseUrl', flags: '--base-url <url>', help: 'API endpoint (env GEMINI_BASE_URL)', kind: 'url', env: 'GEMINI_BASE_URL' },
  { key: 'emulator', flags: '--emulator', help: 'answer with an in-process emulator (tests, demos)', kind: 'switch' },
  { key: 'metrics', flags: '--metrics <host:port>', help: 'serve this worker\'s Prometheus metrics at http://HOST:PORT/metrics (:0: a free port, said on stderr)', kind: 'address' },
];

/** `gempipe report -o DIR`. */
export const REPORT_FLAGS: readonly Flag[] = [
  { key: 'out', flags: '-o, --out <dir>', help: 'the output directory of the run(s)', kind: 'text', default: DEFAULTS.out },
  { key: 'text', flags: '--text', help: 'print the report for a terminal instead of writing report.html', kind: 'switch' },
  { key: 'maxPoints', flags: '--max-points <n>', help: 'points per chart across the job (fewer: a smaller file)', kind: 'int', min: 10, max: 1_000_000, default: 2000 },
];

/** `gempipe merge -o OUT DIR...`. */
export const MERGE_FLAGS: readonly Flag[] = [
  { key: 'out', flags: '-o, --out <dir>', help: 'the merged directory (new or empty)', kind: 'text', required: '`gempipe merge` needs `-o OUT`: the merged directory (new or empty)' },
  { key: 'shardSize', flags: '--shard-size <n>', help: 'records per shard', kind: 'int', min: 1, default: 1000 },
  { key: 'allowPartial', flags: '--allow-partial', help: 'merge though the directories are not every finished part of one job, saying what is missing', kind: 'switch' },
];

/** `gempipe batches list|cancel`. */
export const BATCHES_FLAGS: readonly Flag[] = [
  { key: 'out', flags: '-o, --out <dir>', help: 'the output directory', kind: 'text', default: DEFAULTS.out },
  { key: 'baseUrl', flags: '--base-url <url>', help: 'API endpoint (env GEMINI_BASE_URL)', kind: 'url', env: 'GEMINI_BASE_URL' },
];

/** `gempipe cache prune PATH`. */
export const CACHE_PRUNE_FLAGS: readonly Flag[] = [
  { key: 'olderThan', field: 'olderThanMs', flags: '--older-than <duration>', help: 'e.g. 30d, 12h; 0s empties the cache', kind: 'duration', min: 0, required: '`gempipe cache prune PATH` needs `--older-than DURATION` (e.g. 30d; `0s` empties the cache)' },
];

/** `gempipe emulator`'s flags; `field` is where parseEmulatorOptions() puts the value. */
export const EMULATOR_FLAGS: readonly Flag[] = [
  { key: 'port', flags: '--port <p>', help: 'port (0: a free one)', kind: 'int', min: 0, max: 65_535, default: 8089 },
  { key: 'latencyMs', flags: '--latency-ms <ms>', help: 'latency per response', kind: 'num', min: 0, max: 3_600_000, default: 0 },
  { key: 'jitterMs', flags: '--jitter-ms <ms>', help: 'extra uniform random latency', kind: 'num', min: 0, max: 3_600_000, default: 0 },
  { key: 'rpm', flags: '--rpm <n>', help: 'requests per minute before answering 429 + RetryInfo', kind: 'int', min: 1 },
  { key: 'tpm', flags: '--tpm <n>', help: 'input tokens per minute before answering 429', kind: 'int', min: 1 },
  { key: 'rpd', flags: '--rpd <n>', help: 'requests per day before a per-day 429', kind: 'int', min: 1 },
  { key: 'errorRate', flags: '--error-rate <f>', help: 'fraction of requests answered 503', kind: 'num', min: 0, max: 1, default: 0 },
  { key: 'seed', flags: '--seed <s>', help: 'seed for jitter and random errors', kind: 'int', min: 0, default: 1 },
  { key: 'quotaMode', field: 'quota.mode', flags: '--quota-mode <mode>', help: 'how --rpm/--tpm are enforced', kind: 'choice', choices: ['bucket', 'fixed-window', 'sliding-window'], default: 'bucket' },
  { key: 'burstMs', field: 'quota.burstMs', flags: '--burst-ms <ms>', help: 'bucket: capacity, in ms of the rate', kind: 'num', min: 1, max: 3_600_000, default: 1000 },
  { key: 'windowMs', field: 'quota.windowMs', flags: '--window-ms <ms>', help: 'windows: length in ms (before --time-scale)', kind: 'num', min: 1, max: 86_400_000, default: 60_000 },
  { key: 'timeScale', field: 'quota.timeScale', flags: '--time-scale <x>', help: 'divides --window-ms (60 makes a minute window one second)', kind: 'num', min: 0.001, max: 1_000_000, default: 1 },
  { key: 'quotaValue', flags: '--quota-value', help: 'quota 429s name their limit (QuotaFailure quotaValue, "limit: N")', kind: 'switch' },
  { key: 'capacity429Rate', flags: '--capacity-429-rate <f>', help: 'fraction of requests answered a 429 without details (shared capacity)', kind: 'num', min: 0, max: 1, default: 0 },
  { key: 'limitZero', flags: '--limit-zero', help: 'no quota for the model: every request is a 429 with "limit: 0"', kind: 'switch' },
  { key: 'locationError', flags: '--location-error', help: 'every request: 400 FAILED_PRECONDITION "User location is not supported"', kind: 'switch' },
  { key: 'thinking', flags: '--thinking', help: 'every model thinks (thoughtsTokenCount; thought parts with includeThoughts); default: as the real model does', kind: 'switch' },
  { key: 'batchTimeScale', flags: '--batch-time-scale <x>', help: 'Batch endpoints: pending 1 min and running 10 min, divided by this', kind: 'num', min: 0.001, max: 10_000_000, default: 1 },
  { key: 'refuseAfter', flags: '--refuse-after <n>', help: 'stop listening after N requests (connections are then refused)', kind: 'int', min: 0 },
];

/** The long flag's name, for messages: `--open-files`. */
export function flagName(f: Flag): string {
  return /--([a-z0-9-]+)/.exec(f.flags)![1];
}
