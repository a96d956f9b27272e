// The run's options: one typed object with its defaults in one block, and one parseOptions()
// that turns raw CLI strings into it, validating at the edge (before any file is opened or any
// request is sent) with messages that name the option and the value at fault.

import { compileTemplate } from '../template.js';
import { compileSchema } from '../schema.js';
import { parsePartition } from '../partition.js';
import type { InputFormat, InputShape, RequestShape } from '../request/spec.js';
import { UsageError } from '../errors.js';
import { RECORD_FIELDS } from '../records.js';
import { parseKeep } from '../stages/fields.js';
import { parseEmulatorExtraFlags } from '../emulator/flags-extra.js';
import type { EmulatorOptions } from '../emulator/server.js';
import { EMULATOR_FLAGS, QUEUE_FLAGS, RUN_FLAGS } from './flags.js';
import { checkFlagRules, FLAG_RULES } from './rules.js';
import { applyFlags, int, type RawOptions } from './values.js';

export type OutputFormat = 'jsonl' | 'text';
export type FsyncPolicy = 'none' | 'close' | 'always';

export type { InputFormat };

export interface Options extends RequestShape, InputShape {
  /** Files, directories or `-`. Empty: stdin if it is a pipe or a file with data, else `./inputs`. */
  inputs: string[];
  /** Output directory, or `-` for stdout. @default "outputs" */
  out: string;
  /** @default 8 */
  openFiles: number;
  /** jsonl: input fields copied into the output record. @default [] */
  keep: string[];
  /** @default 16 */
  concurrency: number;
  /** Requests per minute (--rpm N). Absent: see `adaptiveRate`. */
  rpm?: number;
  /** No --rpm (or `--rpm auto`): find the rate by AIMD; `--rpm off`: no request-rate limit. @default true */
  adaptiveRate: boolean;
  tpm?: number;
  /** Requests per day: reaching it ends the run (exit 1), counted across runs into the same --out. */
  rpd?: number;
  /** --max-quota-wait: only 429s (nothing admitted) for this long ends the run (exit 1). @default 600000 */
  maxQuotaWaitMs: number;
  /** Print the plan (to do, tokens, duration, cost) without calling the API. @default false */
  dryRun: boolean;
  /** USD per million input / output tokens for --dry-run (default: the built-in price table). */
  priceIn?: number;
  priceOut?: number;
  /** @default 6 */
  maxAttempts: number;
  /** First backoff ceiling in ms (doubles per attempt, full jitter). @default 1000 */
  retryBaseDelayMs: number;
  /** Per attempt, ms. @default 120000 */
  timeoutMs: number;
  baseUrl?: string;
  apiKey?: string;
  /** Start an in-process emulator and point the client at it. @default false */
  emulator: boolean;
  /** @default 1000 */
  shardSize: number;
  shardBytes?: number;
  /** @default false */
  ordered: boolean;
  /** @default "jsonl" */
  format: OutputFormat;
  /** @default false */
  retryFailed: boolean;
  /** @default false */
  overwrite: boolean;
  /** Lines changed since their records were written are answered again (old records to superseded.jsonl). */
  redoChanged: boolean;
  /** online: one request per record; batch: Gemini batch jobs at half price (SPEC §13). */
  mode: 'online' | 'batch' | 'auto';
  /** --mode auto: batch when more records than this are to do (and the deadline allows). */
  batchThreshold: number;
  /** --mode batch: what is not done by then is sent online. */
  deadlineMs?: number;
  /** --mode batch: records of failed/expired/cancelled jobs go online instead of into new jobs. */
  fallback: 'batch' | 'online';
  /** --mode batch: records per batch job. */
  batchMaxRequests: number;
  /** --mode batch: megabytes of requests per batch job (the API takes input files up to 2 GB). */
  batchMaxMb: number;
  /** --mode batch: the first wait between polls (it grows to a minute while nothing changes). */
  batchPollMs: number;
  /** --mode batch: submit the jobs and exit; the same command later collects them. */
  detach: boolean;
  /** --mode batch: how long a job that reads SUCCEEDED may go without a readable responses file (polled, never resubmitted). */
  batchResultWaitMs: number;
  /** `gempipe coordinator`: records go to workers through this queue, at most maxQueued at once. */
  coordinator?: { queue: string; maxQueued: number };
  /** --redis URL: the quota shared through Redis by every process with the same quota id. */
  redis?: string;
  /** --quota-id: what names the shared quota (default: a fingerprint of the key, plus the model). */
  quotaId?: string;
  /** --cache PATH: the response cache (LMDB). */
  cache?: string;
  /** Read and write the cache for non-deterministic requests too. */
  cacheAll: boolean;
  /** Cache entries older than this are misses. */
  cacheTtlMs?: number;
  /** Identical requests are sent once; the others copy the answer (dedupedFrom). */
  dedupe: boolean;
  /** Answers not JSON or not fitting --json-schema are asked again this many times. */
  schemaRetries: number;
  /** Seconds a failed write (disk full) is retried before the run ends resumably. */
  writeRetrySec: number;
  /** Seconds between status lines when stderr is not a terminal. @default 10 */
  progressIntervalSec: number;
  /** @default false */
  quiet: boolean;
  summaryJson?: string;
  /** Seconds in-flight requests get to finish after SIGINT/SIGTERM. @default 30 */
  drainTimeoutSec: number;
  /** @default "close" */
  fsync: FsyncPolicy;
  /** --post MODULE[:export] or builtin:wordcount: a function run on each success record, on worker threads. */
  post?: string;
  /** Worker threads for --post. @default cores - 1, at least 1 */
  postWorkers: number;
  /** Per record, ms. @default 60000 */
  postTimeoutMs: number;
  /** --report: OUT/report.html written when the run ends. @default false */
  report: boolean;
  /** --metrics HOST:PORT: Prometheus metrics served while the run goes. */
  metrics?: string;
  /**
   * Keep the run's time series in OUT/.gempipe-series.jsonl (and the meter --metrics reads). Not
   * a flag: GEMPIPE_SERIES=off turns it off (the bench's A/B of what recording costs). @default true
   */
  series: boolean;
  /** `gempipe embed`: texts in one batchEmbedContents call at most. @default 100 */
  textsPerCall?: number;
  /** `gempipe embed`: a call goes this long after its first text joined, full or not. @default 100 */
  callWaitMs?: number;
  /** `gempipe embed`: where vectors go: in the JSONL records, or binary shards beside a JSONL index. @default "jsonl" */
  vectors?: 'jsonl' | 'f32' | 'npy' | 'parquet';
  /** --attach: attachments up to this many bytes go inline (base64); larger ones through the Files API. Undefined: auto (media/resolve.ts inlineLimitOf). */
  inlineMax?: number;
  /** --context: the explicit cache's TTL, renewed while the run lasts. @default 600000 */
  contextTtlMs: number;
  /** --context: `auto` caches explicitly above the model's minimum; `off` sends a prefix only. @default "auto" */
  contextCache: 'auto' | 'off';
}

import { DEFAULTS } from './defaults.js';
export { DEFAULTS, type RawOptions };

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface ParseContext {
  /** `gempipe coordinator`: its flags too (COORDINATOR_FLAGS); no API key needed (its workers ask Gemini). */
  coordinator?: boolean;
  env: Record<string, string | undefined>;
  /** Reads a file named by an option value (`--system @FILE`, `--json-schema FILE`). */
  readFile: (path: string) => string;
}

/**
 * Validates raw CLI values into Options. Throws UsageError naming the option.
 * Never touches the network; reads only files an option names.
 */
export function parseOptions(raw: RawOptions, positional: string[], ctx: ParseContext): Options {
  const has = (k: string) => raw[k] !== undefined && raw[k] !== false;
  const readOptFile = (name: string, path: string) => {
    try {
      return ctx.readFile(path);
    } catch (e) {
      throw new UsageError(`Cannot read the file given to \`--${name}\`: ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };

  const o: Options = {
    ...DEFAULTS,
    keep: [],
    inputs: [...positional],
    out: str(raw.out) ?? DEFAULTS.out,
    model: str(raw.model) ?? ctx.env.GEMINI_MODEL ?? DEFAULTS.model,
    apiKey: ctx.env.GEMINI_API_KEY || ctx.env.GOOGLE_API_KEY || undefined,
  };
  if (o.out === '') throw new UsageError('Expected `--out` to be a directory or `-`, got an empty string');
  if (o.model.trim() === '') throw new UsageError('Expected `--model` to be a model name, got an empty string');
  // Every plain value flag, from the table (flags.ts): its kind, range, environment variable, message.
  applyFlags(RUN_FLAGS, raw, o as unknown as Record<string, unknown>, ctx.env);
  if (ctx.coordinator) applyFlags(QUEUE_FLAGS, raw, o as unknown as Record<string, unknown>, ctx.env, true);

  if (has('keep')) o.keep = String(raw.keep).split(',').map((s) => s.trim()).filter(Boolean);
  checkKeep(o.keep);
  if (has('csvDelimiter')) {
    const d = csvDelimiterOf(String(raw.csvDelimiter));
    if (d !== ',') o.csvDelimiter = d; // the default stays unset: the job file names only a choice
  }
  if (has('promptField') && o.inputFormat === 'text') throw new UsageError(FLAG_RULES[1].message);
  if (has('promptField') && o.inputFormat === 'request') throw new UsageError('`--prompt-field`, `--template` and `--keep` read jsonl/csv fields: a request line (`--input-format request`) is sent as it is');
  if (has('attach')) {
    o.attach = String(raw.attach).split(',').map((s) => s.trim()).filter(Boolean);
    if (o.attach.length === 0) throw new UsageError('Expected `--attach` to name one or more fields (comma-separated), got an empty list');
  }
  if (has('inlineMax') && String(raw.inlineMax).trim() !== 'auto') {
    const m = /^(\d+)\s*(k|kib|m|mib)?$/i.exec(String(raw.inlineMax).trim());
    const n = m ? Number(m[1]) * ({ k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2 }[(m[2] ?? '').toLowerCase()] ?? 1) : NaN;
    if (!Number.isSafeInteger(n) || n > 100 * 1024 ** 2) throw new UsageError(`Expected \`--inline-max\` to be \`auto\` or a size in bytes up to 100 MiB (e.g. 4194304, 512k, 4M), got \`${String(raw.inlineMax)}\``);
    o.inlineMax = n;
  }
  if (o.template !== undefined) {
    if (o.template.startsWith('@')) o.template = readOptFile('template', o.template.slice(1)).replace(/\r?\n$/, '');
    compileTemplate(o.template); // a malformed one is a usage error now, not a failure per line
  }
  if (has('system')) {
    const s = String(raw.system);
    o.system = s.startsWith('@') ? readOptFile('system', s.slice(1)) : s;
  }
  if (has('thinkingBudget')) {
    const v = String(raw.thinkingBudget).trim();
    o.thinkingBudget = v === '-1' ? -1 : int('thinking-budget', v, 0);
  }
  if (has('jsonSchema')) {
    const path = String(raw.jsonSchema);
    const text = readOptFile('json-schema', path);
    try {
      o.jsonSchema = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`The file given to \`--json-schema\` is not valid JSON: ${path} (${(e as Error).message})`);
    }
    if (typeof o.jsonSchema !== 'object' || o.jsonSchema === null || Array.isArray(o.jsonSchema)) {
      throw new UsageError(`The file given to \`--json-schema\` must hold a JSON object: ${path}`);
    }
    compileSchema(o.jsonSchema as object, path); // not valid JSON Schema: a usage error now
  }
  if (has('partition')) o.partition = parsePartition(String(raw.partition));
  if (has('rpm')) {
    const v = String(raw.rpm).trim().toLowerCase();
    if (v === 'auto') o.adaptiveRate = true;
    else if (v === 'off') o.adaptiveRate = false;
    else {
      if (!/^\d+$/.test(v)) throw new UsageError(`Expected \`--rpm\` to be an integer >= 1, \`auto\` or \`off\`, got \`${String(raw.rpm)}\``);
      o.rpm = int('rpm', raw.rpm, 1);
      o.adaptiveRate = false;
    }
  }
  if (ctx.env.GEMPIPE_SERIES === 'off') o.series = false;
  o.emulator = raw.emulator === true || (raw.emulatorIfNoKey === true && !o.apiKey);
  // The in-process emulator has no quota to find: without an explicit --rpm, do not ramp up.
  if (o.emulator && !has('rpm')) o.adaptiveRate = false;
  checkFlagRules(o);

  if (!o.apiKey && !o.emulator && !o.dryRun && !ctx.coordinator) {
    throw new UsageError('No API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass `--emulator` to run against the local emulator');
  }
  return o;
}

/**
 * --keep NAME or NAME:AS: a kept field named like a record field would be dropped (the record's
 * own wins), so such a name must be kept under another (`--keep id:ticket_id`); two kept under one
 * name would overwrite each other.
 */
export function checkKeep(keep: readonly string[]): void {
  const specs = parseKeep(keep);
  const bad = keep.find((k, i) => specs[i].from === '' || specs[i].to === '');
  if (bad !== undefined) throw new UsageError(`Expected \`--keep\` to be NAME or NAME:AS, comma-separated, got \`${bad}\``);
  const taken = specs.filter((k) => RECORD_FIELDS.includes(k.to));
  if (taken.length > 0) {
    const names = taken.map((k) => k.to).join(',');
    const example = taken[0].from === taken[0].to ? `\`--keep ${taken[0].from}:input_${taken[0].from}\`` : 'another AS';
    throw new UsageError(`\`--keep ${names}\`: ${taken.length > 1 ? 'these are' : 'that is'} the name of a field every output record has (${RECORD_FIELDS.join(', ')}); keep it under another name, e.g. ${example}`);
  }
  const seen = new Set<string>();
  for (const k of specs) {
    if (seen.has(k.to)) throw new UsageError(`\`--keep\` keeps two fields as "${k.to}": give each its own name (NAME:AS)`);
    seen.add(k.to);
  }
}

/** --csv-delimiter: one character (`\t` or `tab` for a tab), not a quote or a line break. */
export function csvDelimiterOf(v: string): string {
  const d = v === '\\t' || v.toLowerCase() === 'tab' ? '\t' : v;
  if ([...d].length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw new UsageError(`Expected \`--csv-delimiter\` to be one character (e.g. ';', or 'tab'), not a quote or a line break, got \`${v}\``);
  }
  return d;
}

/** The `emulator` sub-command's options, validated with the same messages as a run's. */
export function parseEmulatorOptions(raw: RawOptions): EmulatorOptions {
  const o: Record<string, unknown> = { quota: {} };
  applyFlags(EMULATOR_FLAGS, raw, o);
  Object.assign(o, parseEmulatorExtraFlags(raw));
  return o as EmulatorOptions;
}
