// The run's options: one typed object with its defaults in one block, and one parseOptions()
// that turns raw CLI strings into it, validating at the edge (before any file is opened or any
// request is sent) with messages that name the option and the value at fault.

import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';
import type { EmulatorOptions } from './emulator/server.js';

export type InputFormat = 'text' | 'jsonl';
export type OutputFormat = 'jsonl' | 'text';
export type FsyncPolicy = 'none' | 'close' | 'always';

export interface Options {
  /** Files, directories or `-`. Empty: stdin if not a terminal, else `./inputs`. */
  inputs: string[];
  /** Output directory, or `-` for stdout. @default "outputs" */
  out: string;
  /** @default 8 */
  openFiles: number;
  /** @default "text" */
  inputFormat: InputFormat;
  /** jsonl: the field holding the prompt. @default "prompt" */
  promptField: string;
  /** jsonl: render the prompt from fields, e.g. `Classify: {{text}}`. */
  template?: string;
  /** jsonl: input fields copied into the output record. @default [] */
  keep: string[];
  /** @default 1048576 */
  maxLineBytes: number;
  /** @default "gemini-flash-latest" */
  model: string;
  system?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinkingBudget?: number;
  /** Parsed JSON schema from --json-schema FILE. */
  jsonSchema?: unknown;
  /** @default 16 */
  concurrency: number;
  /** Requests per minute (--rpm N). Absent: see `adaptiveRate`. */
  rpm?: number;
  /** No --rpm (or `--rpm auto`): find the rate by AIMD; `--rpm off`: no request-rate limit. @default true */
  adaptiveRate: boolean;
  tpm?: number;
  /** Requests per day: reaching it ends the run (exit 1), counted across runs into the same --out. */
  rpd?: number;
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
}

export const DEFAULTS = {
  out: 'outputs',
  openFiles: 8,
  inputFormat: 'text',
  promptField: 'prompt',
  keep: [] as string[],
  maxLineBytes: 1024 * 1024,
  model: 'gemini-flash-latest',
  concurrency: 16,
  adaptiveRate: true,
  dryRun: false,
  maxAttempts: 6,
  retryBaseDelayMs: 1000,
  timeoutMs: 120_000,
  emulator: false,
  shardSize: 1000,
  ordered: false,
  format: 'jsonl',
  retryFailed: false,
  overwrite: false,
  progressIntervalSec: 10,
  quiet: false,
  drainTimeoutSec: 30,
  fsync: 'close',
  postWorkers: Math.max(1, availableParallelism() - 1),
  postTimeoutMs: 60_000,
} as const satisfies Partial<Options>;

/** Raw option values as the CLI parser hands them over: strings, booleans, or absent. */
export type RawOptions = Record<string, string | boolean | string[] | undefined>;

function int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const s = String(v).trim();
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`Expected \`--${name}\` to be an integer ${range}, got \`${String(v)}\``);
  }
  return n;
}

function num(name: string, v: unknown, min: number, max: number): number {
  const s = String(v).trim();
  const n = s === '' ? NaN : Number(s);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`Expected \`--${name}\` to be a number from ${min} to ${max}, got \`${String(v)}\``);
  }
  return n;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    throw new UsageError(`Expected \`--${name}\` to be one of ${allowed.join(', ')}, got \`${String(v)}\``);
  }
  return v as T;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface ParseContext {
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
    baseUrl: str(raw.baseUrl) ?? (ctx.env.GEMINI_BASE_URL || undefined),
  };
  if (o.out === '') throw new UsageError('Expected `--out` to be a directory or `-`, got an empty string');
  if (o.model.trim() === '') throw new UsageError('Expected `--model` to be a model name, got an empty string');

  if (has('openFiles')) o.openFiles = int('open-files', raw.openFiles, 1, 4096);
  if (has('inputFormat')) o.inputFormat = oneOf('input-format', raw.inputFormat, ['text', 'jsonl'] as const);
  if (has('promptField')) o.promptField = String(raw.promptField);
  if (has('template')) o.template = String(raw.template);
  if (has('keep')) o.keep = String(raw.keep).split(',').map((s) => s.trim()).filter(Boolean);
  if ((o.template !== undefined || o.keep.length > 0 || has('promptField')) && o.inputFormat !== 'jsonl') {
    throw new UsageError('`--template`, `--prompt-field` and `--keep` need `--input-format jsonl`');
  }
  if (has('maxLineBytes')) o.maxLineBytes = int('max-line-bytes', raw.maxLineBytes, 16, 1024 ** 3);
  if (has('system')) {
    const s = String(raw.system);
    o.system = s.startsWith('@') ? readOptFile('system', s.slice(1)) : s;
  }
  if (has('temperature')) o.temperature = num('temperature', raw.temperature, 0, 2);
  if (has('maxOutputTokens')) o.maxOutputTokens = int('max-output-tokens', raw.maxOutputTokens, 1);
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
  }
  if (has('concurrency')) o.concurrency = int('concurrency', raw.concurrency, 1, 10_000);
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
  if (has('tpm')) o.tpm = int('tpm', raw.tpm, 1);
  if (has('rpd')) o.rpd = int('rpd', raw.rpd, 1);
  o.dryRun = raw.dryRun === true;
  if (has('priceIn')) o.priceIn = num('price-in', raw.priceIn, 0, 1_000_000);
  if (has('priceOut')) o.priceOut = num('price-out', raw.priceOut, 0, 1_000_000);
  if (has('maxAttempts')) o.maxAttempts = int('max-attempts', raw.maxAttempts, 1, 100);
  if (has('retryBaseDelay')) o.retryBaseDelayMs = int('retry-base-delay', raw.retryBaseDelay, 0, 600_000);
  if (has('timeout')) o.timeoutMs = int('timeout', raw.timeout, 1);
  if (o.baseUrl !== undefined) {
    try {
      const u = new URL(o.baseUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new UsageError(`Expected \`--base-url\` (or GEMINI_BASE_URL) to be an http(s) URL, got \`${o.baseUrl}\``);
    }
  }
  o.emulator = raw.emulator === true || (raw.emulatorIfNoKey === true && !o.apiKey);
  // The in-process emulator has no quota to find: without an explicit --rpm, do not ramp up.
  if (o.emulator && !has('rpm')) o.adaptiveRate = false;
  if (has('shardSize')) o.shardSize = int('shard-size', raw.shardSize, 1);
  if (has('shardBytes')) o.shardBytes = int('shard-bytes', raw.shardBytes, 1);
  o.ordered = raw.ordered === true;
  if (has('format')) o.format = oneOf('format', raw.format, ['jsonl', 'text'] as const);
  o.retryFailed = raw.retryFailed === true;
  o.overwrite = raw.overwrite === true;
  if (o.retryFailed && o.overwrite) throw new UsageError('`--retry-failed` and `--overwrite` cannot be used together');
  if (o.out === '-' && (o.retryFailed || o.overwrite)) {
    throw new UsageError('`--retry-failed` and `--overwrite` apply to an output directory, not to `--out -`');
  }
  if (has('progressInterval')) o.progressIntervalSec = num('progress-interval', raw.progressInterval, 0.1, 86_400);
  o.quiet = raw.quiet === true;
  if (has('summaryJson')) o.summaryJson = String(raw.summaryJson);
  if (has('drainTimeout')) o.drainTimeoutSec = num('drain-timeout', raw.drainTimeout, 0, 86_400);
  if (has('fsync')) o.fsync = oneOf('fsync', raw.fsync, ['none', 'close', 'always'] as const);
  if (has('post')) o.post = String(raw.post);
  if (has('postWorkers')) o.postWorkers = int('post-workers', raw.postWorkers, 0, 256);
  if (has('postTimeout')) o.postTimeoutMs = int('post-timeout', raw.postTimeout, 1, 86_400_000);

  if (!o.apiKey && !o.emulator && !o.dryRun) {
    throw new UsageError('No API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass `--emulator` to run against the local emulator');
  }
  return o;
}

/** The `emulator` sub-command's options, validated with the same messages as a run's. */
export function parseEmulatorOptions(raw: RawOptions): EmulatorOptions {
  const has = (k: string) => raw[k] !== undefined && raw[k] !== false;
  const opt = <T>(k: string, f: (v: unknown) => T): T | undefined => (has(k) ? f(raw[k]) : undefined);
  return {
    port: opt('port', (v) => int('port', v, 0, 65_535)),
    latencyMs: opt('latencyMs', (v) => num('latency-ms', v, 0, 3_600_000)),
    jitterMs: opt('jitterMs', (v) => num('jitter-ms', v, 0, 3_600_000)),
    rpm: opt('rpm', (v) => int('rpm', v, 1)),
    tpm: opt('tpm', (v) => int('tpm', v, 1)),
    rpd: opt('rpd', (v) => int('rpd', v, 1)),
    errorRate: opt('errorRate', (v) => num('error-rate', v, 0, 1)),
    seed: opt('seed', (v) => int('seed', v, 0)),
    quota: {
      mode: opt('quotaMode', (v) => oneOf('quota-mode', v, ['bucket', 'fixed-window', 'sliding-window'] as const)),
      burstMs: opt('burstMs', (v) => num('burst-ms', v, 1, 3_600_000)),
      windowMs: opt('windowMs', (v) => num('window-ms', v, 1, 86_400_000)),
      timeScale: opt('timeScale', (v) => num('time-scale', v, 0.001, 1_000_000)),
    },
    quotaValue: raw.quotaValue === true,
    capacity429Rate: opt('capacity429Rate', (v) => num('capacity-429-rate', v, 0, 1)),
    limitZero: raw.limitZero === true,
    locationError: raw.locationError === true,
    thinking: raw.thinking === true,
    refuseAfter: opt('refuseAfter', (v) => int('refuse-after', v, 0)),
  };
}
