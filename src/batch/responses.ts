// A finished batch job's responses file, read into a verdict per request: an answer (the same
// success record an online run writes, plus "mode": "batch"), a permanent failure, or "ask again"
// (a retryable error, or no line for the request). Lines are matched by `key` only, in any order;
// a per-request error is a google.rpc.Status, classified by the same rule as online errors.

import type { GenerateResult } from '../gemini/client.js';
import { toResult } from '../gemini/client.js';
import { CANONICAL_STATUS, classifyStatus } from '../gemini/retry-policy.js';
import { readJsonl } from '../output/record-files.js';
import { successOf, type RecordError, type SuccessRecord } from '../records.js';
import type { RunMeter } from '../observe/run-meter.js';
import type { RequestSpec } from '../request/spec.js';
import { unusable } from '../stages/answer-check.js';
import type { RunStats } from '../stats.js';
import type { JobRecord } from './journal.js';

export type Verdict = { ok: SuccessRecord } | { fail: RecordError } | { again: RecordError };

/** A response line's verdict for its request, by another kind of answer than generateContent's (embeddings). */
export type ResponseVerdict = (rec: JobRecord, response: unknown, o: { stats: RunStats; latencyMs: number; attempts: number }) => Verdict;

type Status = { code?: number; message?: string; status?: string };

/** google.rpc.Code by name: INVALID_ARGUMENT -> 3. */
const CANONICAL_CODE: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(CANONICAL_STATUS).map(([n, name]) => [name, Number(n)]));

/** Each request of `requests` (by record id) -> its verdict; a request the file does not mention: ask again. */
export async function readResponses(path: string, requests: ReadonlyMap<string, JobRecord>, o: {
  spec: RequestSpec;
  stats: RunStats;
  /** Since the job was created (the records' latencyMs). */
  latencyMs: number;
  attempts: (id: string) => number;
  batch: string;
  /** The run's meter: these tokens are billed at the Batch API's price. */
  meter?: RunMeter;
  verdictOf?: ResponseVerdict;
}): Promise<Map<string, Verdict>> {
  const out = new Map<string, Verdict>();
  // A line is {"key", "response"} or {"key", "error"|"status": google.rpc.Status} (the docs call
  // it a status object; both names are read).
  for await (const { value: line } of readJsonl<{ key?: string; response?: unknown; error?: Status; status?: Status }>(path)) {
    const rec = line.key !== undefined ? requests.get(line.key) : undefined;
    if (!rec || out.has(rec.id)) continue;
    const bad = line.error ?? (line.response ? undefined : line.status);
    if (bad) {
      const c = classifyStatus(bad);
      const rpc = CANONICAL_CODE[c.status];
      const e: RecordError = { status: c.status, code: c.code, message: c.message, ...(rpc !== undefined ? { rpcCode: rpc } : {}) };
      out.set(rec.id, c.kind === 'retryable' ? { again: e } : { fail: e });
      continue;
    }
    if (!line.response) {
      out.set(rec.id, { fail: { status: 'UNKNOWN', code: 0, message: 'no response for this request' } });
      continue;
    }
    out.set(rec.id, o.verdictOf ? o.verdictOf(rec, line.response, { ...o, attempts: o.attempts(rec.id) }) : verdictOf(rec, toResult(line.response as never), o));
  }
  for (const id of requests.keys()) {
    if (!out.has(id)) out.set(id, { again: { status: 'MISSING', code: 0, message: `batch ${o.batch} returned no response for it` } });
  }
  return out;
}

function verdictOf(rec: JobRecord, res: GenerateResult, o: { spec: RequestSpec; stats: RunStats; latencyMs: number; attempts: (id: string) => number; meter?: RunMeter }): Verdict {
  if (res.kind === 'blocked') return { fail: { status: 'BLOCKED', code: 0, message: `${res.reason}: ${res.message}` } };
  o.stats.tokensIn += res.usage.promptTokens;
  o.stats.tokensOut += res.usage.responseTokens;
  o.stats.tokensCached += res.usage.cachedTokens ?? 0;
  o.stats.batchTokensIn += res.usage.promptTokens; // priced at the Batch API's half (observe/cost.ts)
  o.stats.batchTokensOut += res.usage.responseTokens;
  o.meter?.usage(res.usage, true);
  const u = unusable(res, o.spec.expectJson, o.spec.checkJson);
  if ('error' in u && u.error) return u.retry ? { again: u.error } : { fail: u.error };
  o.stats.succeeded++;
  const answer = { response: res.text, model: o.spec.shape.model, finishReason: res.finishReason, usage: res.usage, json: (u as { json?: unknown }).json };
  return { ok: successOf(rec, answer, o.attempts(rec.id), o.latencyMs, { mode: 'batch' }) };
}
