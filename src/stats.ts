// RunStats: the counters and clocks every stage adds to, and the summary built from them
// (SPEC §6: done / skipped / failed by status, rate, tokens, 429s, retries, where the time went).
// Plain fields, no events: stages increment them on the hot path at the cost of an add.

import { FAILURES_FILE } from './output/layout.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatCost, type RunCost } from './observe/cost.js';

export interface RunStats {
  startedAt: number;
  /** Records read from the inputs this run (not counting skipped ones). */
  read: number;
  /** Lines skipped because resume found them done. */
  skipped: number;
  /** Total records read + skipped, once the reader has reached the end (for the progress bar). */
  total?: number;
  /** Records to do, estimated at start from a line count of the inputs minus resume's done ids. */
  expected?: number;
  succeeded: number;
  /** Successes whose answer was cut at the output-token limit (finishReason MAX_TOKENS, text kept). */
  truncated: number;
  failed: number;
  failedByStatus: Record<string, number>;
  inFlight: number;
  attempts: number;
  retries: number;
  /** Retries by cause: an HTTP status ("503", "429"), "timeout", "connection", "malformed body", "invalid JSON". */
  retriesByCause: Record<string, number>;
  http429: number;
  tokensIn: number;
  tokensOut: number;
  /** Of tokensIn, those served from a context cache (usage.cachedTokens): billed at the cached rate. */
  tokensCached: number;
  /** Of tokensIn/tokensOut, those answered by Batch API jobs (billed at half). */
  batchTokensIn: number;
  batchTokensOut: number;
  /** --context: an explicit cache's tokens × the hours it lived this run (its storage bill). */
  cacheTokenHours: number;
  /** --context: the tokens of explicit caches this run created (billed once at the input price). */
  cacheCreatedTokens: number;
  /** Sum over attempts of time spent in the HTTP call. */
  apiMs: number;
  /** Sum over attempts of time spent waiting for the limiter (rate, tokens, 429 pause). */
  limiterMs: number;
  /** Sum over attempts of time spent in retry backoff sleeps. */
  backoffMs: number;
  /** Wall time the generate stage had free slots but no input to fill them. */
  readWaitMs: number;
  /** Wall time the generate stage was held because the writer had not caught up. */
  writeWaitMs: number;
  /** Time the writer spent in file writes (or stdout writes). */
  writeMs: number;
  /** Sum over records of time in the --post step (queued for a worker and running). */
  postMs: number;
  /** Records written to the output. */
  written: number;
  /** --dedupe: records copied from another record's answer (no request). */
  deduped: number;
  /** --cache: records answered from the response cache (no request). */
  cached: number;
  /** --redo-changed: records answered from an answer already in the output directory (a moved line; no request). */
  reused: number;
  /** What the answers --cache and --dedupe reused had cost when they were paid for: what this run did not pay. */
  savedTokens: { cache: { in: number; out: number }; dedupe: { in: number; out: number; ofCached: number } };
  /** Inputs that could not be read: source -> message. */
  inputErrors: Array<{ source: string; message: string }>;
  /** Output records whose ids are not in the inputs read this run (reported, never dropped). */
  orphans: number;
}

export function createStats(now = Date.now()): RunStats {
  return {
    startedAt: now, read: 0, skipped: 0, succeeded: 0, truncated: 0, failed: 0, failedByStatus: {}, inFlight: 0,
    attempts: 0, retries: 0, retriesByCause: {}, http429: 0, tokensIn: 0, tokensOut: 0, tokensCached: 0, cacheTokenHours: 0, cacheCreatedTokens: 0, apiMs: 0, limiterMs: 0,
    backoffMs: 0, readWaitMs: 0, writeWaitMs: 0, writeMs: 0, postMs: 0, written: 0, deduped: 0, cached: 0, reused: 0, inputErrors: [], orphans: 0,
    batchTokensIn: 0, batchTokensOut: 0, savedTokens: { cache: { in: 0, out: 0 }, dedupe: { in: 0, out: 0, ofCached: 0 } },
  };
}

export interface Summary {
  outcome: 'completed' | 'interrupted' | 'fatal';
  exitCode: number;
  done: number;
  succeeded: number;
  /** Successes cut at the output-token limit (finishReason MAX_TOKENS). */
  truncated: number;
  /** --dedupe: records copied from an identical request's answer. */
  deduped: number;
  /** --cache: records answered from the response cache. */
  cached: number;
  /** --redo-changed: records answered from an answer already in the output directory. */
  reused: number;
  /** gempipe coordinator: records and failures per worker (host:pid). */
  workers?: Record<string, { records: number; failed: number }>;
  /**
   * --mode batch: the jobs this run created on the server and the requests in them (`attempts`
   * counts only requests sent one by one); the jobs still out at the end and their requests.
   */
  batch?: { jobs: number; requests: number; leftJobs: number; leftRequests: number; detached: boolean };
  skipped: number;
  failed: number;
  failedByStatus: Record<string, number>;
  inputErrors: Array<{ source: string; message: string }>;
  orphans: number;
  /** Failure records left in the output directory by earlier runs (not asked this run). */
  failedEarlier: number;
  wallMs: number;
  recordsPerSec: number;
  tokensIn: number;
  tokensOut: number;
  /** Of tokensIn, served from a context cache (billed at the cached rate). */
  tokensCached: number;
  attempts: number;
  retries: number;
  retriesByCause: Record<string, number>;
  http429: number;
  /** Where the time went. `*Ms` are summed over concurrent attempts; `avgInFlight` = apiMs / wall. */
  time: {
    apiMs: number;
    limiterMs: number;
    backoffMs: number;
    readWaitMs: number;
    writeWaitMs: number;
    writeMs: number;
    postMs: number;
    avgInFlight: number;
  };
  /** This process's own cost: CPU time (user + system) and peak resident memory. */
  process: { cpuUserMs: number; cpuSystemMs: number; cpuUsPerRecord: number; peakRssMB: number; eventLoopDelayP99Ms?: number };
  /** What was learned about the quota this run, in words ("the server says: ..."). */
  limits?: string[];
  /** What the run cost and saved, priced as --dry-run prices (observe/cost.ts runCost()); or why it is unknown. */
  cost?: RunCost;
  /** --report: the report.html written at the end. */
  report?: string;
  error?: string;
}


/** The main thread's event-loop delay over the run: what a CPU-heavy step on it costs everyone. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
/** Starts measuring the event loop's delay (run() calls it at its start). */
export function watchEventLoop(): void {
  loopDelay.reset();
  loopDelay.enable();
}

/** One more failed record, by status. */
export function countFailure(s: RunStats, status: string): void {
  s.failed++;
  s.failedByStatus[status] = (s.failedByStatus[status] ?? 0) + 1;
}

export function summarize(s: RunStats, outcome: Summary['outcome'], exitCode: number, now = Date.now(), error?: string, failedEarlier = 0): Summary {
  loopDelay.disable();
  const wallMs = Math.max(1, now - s.startedAt);
  const done = s.succeeded + s.failed;
  const r = (x: number) => Math.round(x);
  return {
    outcome, exitCode, done, succeeded: s.succeeded, truncated: s.truncated, skipped: s.skipped, failed: s.failed, deduped: s.deduped, cached: s.cached, reused: s.reused,
    failedByStatus: { ...s.failedByStatus }, inputErrors: [...s.inputErrors], orphans: s.orphans, failedEarlier,
    wallMs, recordsPerSec: Math.round((done / wallMs) * 1000 * 10) / 10,
    tokensIn: s.tokensIn, tokensOut: s.tokensOut, tokensCached: s.tokensCached, attempts: s.attempts, retries: s.retries,
    retriesByCause: { ...s.retriesByCause }, http429: s.http429,
    time: {
      apiMs: r(s.apiMs), limiterMs: r(s.limiterMs), backoffMs: r(s.backoffMs), readWaitMs: r(s.readWaitMs),
      writeWaitMs: r(s.writeWaitMs), writeMs: r(s.writeMs), postMs: r(s.postMs), avgInFlight: Math.round((s.apiMs / wallMs) * 10) / 10,
    },
    process: { ...processCost(done), ...(loopDelay.count > 0 ? { eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10 } : {}) },
    ...(error ? { error } : {}),
  };
}

function processCost(done: number): Summary['process'] {
  const cpu = process.cpuUsage();
  const ru = process.resourceUsage();
  return {
    cpuUserMs: Math.round(cpu.user / 1000),
    cpuSystemMs: Math.round(cpu.system / 1000),
    cpuUsPerRecord: done > 0 ? Math.round((cpu.user + cpu.system) / done) : 0,
    peakRssMB: Math.round(ru.maxRSS / 1024),
  };
}


function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The human summary printed on stderr at the end of a run. */
export function formatSummary(x: Summary): string {
  const lines: string[] = [];
  const head = x.batch?.detached && x.outcome === 'completed' ? 'gempipe: detached' : x.outcome === 'completed' ? 'gempipe: done' : x.outcome === 'interrupted' ? 'gempipe: interrupted' : 'gempipe: stopped';
  lines.push(`${head} — ${x.succeeded} succeeded, ${x.failed} failed, ${x.skipped} skipped (already done) in ${fmtMs(x.wallMs)} (${x.recordsPerSec} records/s)`);
  const fails = Object.entries(x.failedByStatus).map(([k, v]) => `${k} ${v}`).join(', ');
  if (fails) lines.push(`  failed by status: ${fails}`);
  if (x.cached > 0) lines.push(`  ${x.cached} record(s) answered from the --cache (no request sent)`);
  if (x.reused > 0) lines.push(`  ${x.reused} record(s) reused an answer already in the output directory (lines moved: the same request; no request sent)`);
  if (x.deduped > 0) lines.push(`  ${x.deduped} record(s) answered by --dedupe from an identical request's answer (no request sent)`);
  if (x.truncated > 0) lines.push(`  ${x.truncated} answer(s) cut at the output-token limit (finishReason MAX_TOKENS; kept as successes)`);
  for (const l of x.limits ?? []) lines.push(`  ${l}`);
  for (const [w, t] of Object.entries(x.workers ?? {})) lines.push(`  worker ${w}: ${t.records} record(s)${t.failed ? `, ${t.failed} failed` : ''} (${Math.round((t.records / x.wallMs) * 10_000) / 10}/s)`);
  for (const e of x.inputErrors) lines.push(`  unreadable input: ${e.source}: ${e.message}`);
  if (x.orphans > 0) lines.push(`  ${x.orphans} output record(s) have ids not in the current inputs (kept, not dropped)`);
  if (x.failedEarlier > 0) lines.push(`  ${x.failedEarlier} failure record(s) from earlier runs are still in ${FAILURES_FILE}: rerun with --retry-failed to ask them again`);
  const b = x.batch;
  if (b) lines.push(`  batch: ${b.jobs} job(s) created with ${b.requests} request(s) (at the batch price)`);
  if (b && b.leftJobs > 0) lines.push(`  ${b.detached ? 'left running' : 'still out'}: ${b.leftJobs} batch job(s) holding ${b.leftRequests} request(s) — run the same command again to write their records`);
  lines.push(`  tokens: ${x.tokensIn} in${x.tokensCached > 0 ? ` (${x.tokensCached} of them cached)` : ''}, ${x.tokensOut} out; requests: ${x.attempts}${b ? ` online, ${b.requests} in batch jobs` : ''} (${x.retries} retries, ${x.http429} answered 429)`);
  if (x.cost) lines.push(`  ${formatCost(x.cost, x.cached, x.deduped)}`);
  const causes = Object.entries(x.retriesByCause).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ×${v}`).join(', ');
  if (causes) lines.push(`  retried after: ${causes}`);
  const wall = x.wallMs;
  const pct = (ms: number) => `${Math.round((ms / wall) * 100)}%`;
  const t = x.time;
  lines.push('  where the time went (summed over concurrent requests; % of wall time):');
  lines.push(`    waiting on the API     ${fmtMs(t.apiMs).padStart(10)}  (${t.avgInFlight} in flight on average)`);
  lines.push(`    waiting on the limiter ${fmtMs(t.limiterMs).padStart(10)}  (rate limits and 429 pauses)`);
  lines.push(`    in retry backoff       ${fmtMs(t.backoffMs).padStart(10)}`);
  lines.push(`    starved for input      ${fmtMs(t.readWaitMs).padStart(10)}  ${pct(t.readWaitMs)} of wall time with free slots and nothing read`);
  lines.push(`    held by the writer     ${fmtMs(t.writeWaitMs).padStart(10)}  ${pct(t.writeWaitMs)} of wall time`);
  lines.push(`    writing                ${fmtMs(t.writeMs).padStart(10)}  ${pct(t.writeMs)} of wall time`);
  if (t.postMs > 0) lines.push(`    post-processing (--post) ${fmtMs(t.postMs).padStart(8)}  (summed over records, on worker threads)`);
  const p = x.process;
  lines.push(`  this process: CPU ${fmtMs(p.cpuUserMs)} user + ${fmtMs(p.cpuSystemMs)} system${x.done > 0 ? ` (${p.cpuUsPerRecord} µs a record)` : ''}, peak RSS ${p.peakRssMB} MB${p.eventLoopDelayP99Ms !== undefined ? `, event-loop delay p99 ${p.eventLoopDelayP99Ms} ms` : ''}`);
  if (x.report) lines.push(`  report: ${x.report}`);
  if (x.error) lines.push(`  error: ${x.error}`);
  return lines.join('\n') + '\n';
}
