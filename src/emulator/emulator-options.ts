// startEmulator()'s options, their defaults (JSDoc), and one validateEmulatorOptions() that
// checks them before anything listens, with messages that name the option (a UsageError, so the
// `gempipe emulator` sub-command turns a bad flag into exit 2 with that message).

import { UsageError } from '../errors.js';
import type { GoogleError } from './google-errors.js';
import type { LimitStep, QuotaShape, RetryInfoStyle } from './quota.js';

export type BatchEventKind = 'upload' | 'create' | 'get' | 'list' | 'download' | 'cancel' | 'delete' | 'file-get' | 'file-list' | 'file-delete';

export interface EmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default 0 */
  latencyMs?: number;
  /** Uniform extra latency in [0, jitterMs). @default 0 */
  jitterMs?: number;
  /**
   * The only API key accepted (any other: 400 API_KEY_INVALID). Without it any key is accepted
   * except one that starts with `invalid`. No key at all is always the service's 403.
   */
  apiKey?: string;
  /** Requests per minute; excess: 429 (enforced as `quota` says). */
  rpm?: number;
  /** Input tokens per minute; excess: 429. */
  tpm?: number;
  /** Requests per day; excess: a per-day 429. */
  rpd?: number;
  /** How rpm/tpm are enforced: bucket (default, 1 s of burst), fixed or sliding windows. */
  quota?: QuotaShape;
  /** The rpm limit over time (`atMs` since the start, divided by quota.timeScale like windows): halve it mid-run, restore it. */
  limitSchedule?: LimitStep[];
  /** The tpm limit over time, as limitSchedule. */
  tpmSchedule?: LimitStep[];
  /** How quota 429s write RetryInfo: whole seconds rounded up as Google does, floor, exact, {fixed: s}, none. @default "whole" */
  retryInfo?: RetryInfoStyle;
  /** Quota 429s name their limit (QuotaFailure quotaValue, "limit: N" in the message). @default false */
  quotaValue?: boolean;
  /** Fraction of admitted requests answered a 429 without details (shared capacity), seeded. @default 0 */
  capacity429Rate?: number;
  /** The project has no quota for the model: every request is a 429 with "limit: 0". */
  limitZero?: boolean;
  /** Every request: 400 FAILED_PRECONDITION "User location is not supported for the API use." */
  locationError?: boolean;
  /**
   * Thinking: true, every generate model thinks (thoughtsTokenCount; thought parts only with
   * includeThoughts); false, none does; absent, each as the real model does (2.5+ Flash and Pro
   * think by default, Flash-Lite when given a budget, 2.0 never). @default undefined
   */
  thinking?: boolean;
  /** After this many generateContent requests the server stops listening: connections are refused. */
  refuseAfter?: number;
  /** Fraction of requests answered 503, from a seeded generator. @default 0 */
  errorRate?: number;
  /** Seeds jitter, random errors, shared-capacity 429s and the order of batch responses. @default 1 */
  seed?: number;
  /** Keep per-prompt success counts (tests: "never answered twice"). @default false */
  trackPrompts?: boolean;
  /** Keep a log of every request (arrival ms, status). @default false */
  log?: boolean;
  /** Called for every generateContent request on arrival (tests: "never sent again"). */
  onRequest?: (prompt: string) => void;
  /** Called each time a successful answer is sent. */
  onAnswer?: (prompt: string) => void;
  /** The Batch endpoints' clock: a batch's minutes-to-hours divided by this. @default 1 */
  batchTimeScale?: number;
  /** How long a new batch stays PENDING (service ms, divided by batchTimeScale). @default 60000 */
  batchPendingMs?: number;
  /** Time between a batch reading SUCCEEDED and its responses being readable (service ms, divided by batchTimeScale). @default 0 */
  batchResultLagMs?: number;
  /** During that lag the job's output is `absent`, or named but `not-found` (403 on reading it). @default "absent" */
  batchResultLagMode?: 'absent' | 'not-found';
  /** Responses files in a seeded shuffled order, as the service promises none. @default true */
  batchShuffle?: boolean;
  /** Per-request batch errors as google.rpc.Status (`rpc`, the service's) or HTTP-shaped (`http`, the emulator's old shape). @default "rpc" */
  batchErrorShape?: 'rpc' | 'http';
  /** The first this many batch creates are answered 429 (the Batch API's limits). */
  batchRefuseCreates?: number;
  /** The body of those 429s. @default the service's quota 429 with a Help link */
  batchRefuseError?: GoogleError;
  /** The Files API's clock (48 h lifetime, video processing). @default batchTimeScale */
  filesTimeScale?: number;
  /** The cachedContents clock: every TTL divided by this. @default batchTimeScale */
  cacheTimeScale?: number;
  /** Implicit caching: a repeated long prefix is reported as cachedContentTokenCount (caches.ts has the rule). @default true */
  implicitCache?: boolean;
  /** Fetch http(s) fileData URIs to hash their bytes, as the service fetches them (false: the URL stands for its bytes). @default true */
  fetchFileUris?: boolean;
  /** Told of each Files/Batch call (tests). */
  onBatchEvent?: (kind: BatchEventKind) => void;
}

function fail(name: string, expected: string, got: unknown): never {
  throw new UsageError(`Expected \`${name}\` to be ${expected}, got \`${typeof got === 'object' ? JSON.stringify(got) : String(got)}\``);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function range(o: Record<string, unknown>, name: string, min: number, max: number, integer = false, shown = name): void {
  const v = o[name];
  if (v === undefined) return;
  if (!isNum(v) || v < min || v > max || (integer && !Number.isInteger(v))) fail(shown, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, v);
}

function schedule(name: string, s: unknown, needsStart: boolean): void {
  if (s === undefined) return;
  if (!Array.isArray(s) || s.length === 0) fail(name, 'a non-empty list of {atMs, perMinute}', s);
  let last = -1;
  for (const step of s as Array<Record<string, unknown>>) {
    if (!step || !isNum(step.atMs) || step.atMs < 0 || step.atMs < last) fail(name, 'steps with atMs >= 0, in order', step);
    if (!isNum(step.perMinute) || step.perMinute < 1) fail(name, 'steps with perMinute >= 1', step);
    last = step.atMs as number;
  }
  if (needsStart && (s as LimitStep[])[0].atMs !== 0) fail(name, 'a schedule whose first step is at 0 (or give a base limit with it)', s);
}

/** Throws a UsageError naming the first option that is out of range. */
export function validateEmulatorOptions(options: EmulatorOptions): void {
  const o = options as Record<string, unknown>;
  range(o, 'port', 0, 65_535, true);
  range(o, 'latencyMs', 0, 3_600_000);
  range(o, 'jitterMs', 0, 3_600_000);
  range(o, 'rpm', 1, 1e12, true);
  range(o, 'tpm', 1, 1e15, true);
  range(o, 'rpd', 1, 1e12, true);
  range(o, 'errorRate', 0, 1);
  range(o, 'capacity429Rate', 0, 1);
  range(o, 'seed', 0, 2 ** 32 - 1, true);
  range(o, 'refuseAfter', 0, 1e12, true);
  range(o, 'batchTimeScale', 0.000001, 1e12);
  range(o, 'filesTimeScale', 0.000001, 1e12);
  range(o, 'cacheTimeScale', 0.000001, 1e12);
  range(o, 'batchResultLagMs', 0, 1e12);
  range(o, 'batchRefuseCreates', 0, 1e9, true);
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) fail('apiKey', 'a non-empty string', options.apiKey);
  if (options.batchResultLagMode !== undefined && !['absent', 'not-found'].includes(options.batchResultLagMode)) fail('batchResultLagMode', '"absent" or "not-found"', options.batchResultLagMode);
  if (options.batchErrorShape !== undefined && !['rpc', 'http'].includes(options.batchErrorShape)) fail('batchErrorShape', '"rpc" or "http"', options.batchErrorShape);
  const r = options.retryInfo;
  if (r !== undefined && !(typeof r === 'string' && ['whole', 'floor', 'exact', 'none'].includes(r))
    && !(typeof r === 'object' && r !== null && isNum(r.fixed) && r.fixed >= 0)) {
    fail('retryInfo', '"whole", "floor", "exact", "none" or {fixed: seconds}', r);
  }
  const q = options.quota ?? {};
  if (q.mode !== undefined && !['bucket', 'fixed-window', 'sliding-window'].includes(q.mode)) fail('quota.mode', '"bucket", "fixed-window" or "sliding-window"', q.mode);
  range(q as Record<string, unknown>, 'burstMs', 1, 3_600_000, false, 'quota.burstMs');
  range(q as Record<string, unknown>, 'windowMs', 1, 86_400_000, false, 'quota.windowMs');
  range(q as Record<string, unknown>, 'timeScale', 0.000001, 1e9, false, 'quota.timeScale');
  schedule('limitSchedule', options.limitSchedule, options.rpm === undefined);
  schedule('tpmSchedule', options.tpmSchedule, options.tpm === undefined);
}
