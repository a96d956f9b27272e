// The emulator's Batch API (SPEC §7, §13), with the real service's wire shapes so that
// @google/genai's `batches` module works against it unchanged:
//
//   POST   /v1beta/models/M:batchGenerateContent   {batch: {displayName, inputConfig: {fileName} | {requests: {requests: [...]}}}}
//   POST   /v1beta/models/M:asyncBatchEmbedContent the same for embedding requests
//   GET    /v1beta/batches/ID        the Operation;  GET /v1beta/batches?pageSize&pageToken: newest first
//   POST   /v1beta/batches/ID:cancel {};  DELETE /v1beta/batches/ID {}
//
// A batch is an Operation whose `metadata` is the GenerateContentBatch: state BATCH_STATE_PENDING ->
// RUNNING -> SUCCEEDED, or FAILED / CANCELLED / EXPIRED (the SDK maps these to JOB_STATE_*);
// batchStats with int64 counts as strings and zero counts left out; output.responsesFile (a file
// of {"key", "response"} or {"key", "error": google.rpc.Status} lines, in shuffled order, as the
// service promises no order) or output.inlinedResponses (in request order). `displayName` is
// required; a line that is not JSON is refused at create (400 naming the line); creates beyond
// the Batch API's limits get its 429. Timings are "real" (minutes to hours) divided by
// `timeScale`. A job may read SUCCEEDED before its responses can be read (`resultLagMs`). Each
// request's text may script its fate (faults.ts: batchfail, batch13x2, batchexpire, batchjobfail).

import type { ServerResponse } from 'node:http';
import { batchFaultOf } from './faults.js';
import type { FilesService } from './files.js';
import { fileGone } from './files.js';
import { httpErrorOfRpc, invalidArgument, invalidJson, rpcCodeOfHttp, rpcStatus, type GoogleError, type RpcStatus } from './google-errors.js';
import { pageOf } from './paging.js';
import { BATCH_CREATE_429 } from './quota.js';
import { normalize } from './request.js';
import { TYPES, type Batch, type BatchAnswer, type BatchKind, type BatchOptions, type BatchService, type Item, type ModelCheck } from './batch-types.js';
import { seededRandom } from '../util/seeded-random.js';

export type { BatchAnswer, BatchKind, BatchOptions, BatchService, ModelCheck } from './batch-types.js';

let seq = 0;
const newId = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

/** All the text of a request, for scripts (generate: its parts; embed: its content's parts). */
function textOf(request: unknown): string {
  const r = request as { contents?: Array<{ parts?: Array<{ text?: string }> }>; content?: { parts?: Array<{ text?: string }> } } | undefined;
  const contents = r?.contents ?? (r?.content ? [r.content] : []);
  return contents.flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('');
}

export function createBatchService(o: BatchOptions, files: FilesService, answer: BatchAnswer, checkModel: ModelCheck): BatchService {
  const scale = o.timeScale ?? 1;
  const pendingMs = (o.pendingMs ?? 60_000) / scale;
  const runningMs = (o.runningMs ?? 600_000) / scale;
  const lagMs = (o.resultLagMs ?? 0) / scale;
  const batches = new Map<string, Batch>();
  const stats = { batchesCreated: 0, deleted: 0, refused: 0 };
  const expired = new Set<string>(); // request texts whose first job expired
  const tries = new Map<string, number>(); // request -> jobs that held it, for batchNNxK scripts
  const event = (k: Parameters<NonNullable<BatchOptions['onEvent']>>[0]) => o.onEvent?.(k);

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, e: GoogleError) => json(res, e.code, { error: e });

  /** A per-request error in the shape the options ask for. */
  function perRequest(s: RpcStatus, http?: number): unknown {
    if (o.errorShape !== 'http') return s;
    const e = httpErrorOfRpc(s);
    return http ? { ...e, code: http } : e;
  }

  /** The answer (or error) for one request of a job that has run. */
  function outcome(b: Batch, it: Item): { response: unknown } | { error: unknown } {
    if (it.request === undefined || it.request === null || typeof it.request !== 'object') {
      return { error: perRequest(rpcStatus(3, 'Request is missing or is not an object.')) };
    }
    const f = batchFaultOf(it.text);
    if (f) {
      const id = JSON.stringify(it.request);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      if (n <= f.times) {
        const code = f.http ? rpcCodeOfHttp(f.http) : f.code;
        const s = f.code === 3 && f.times === Infinity ? rpcStatus(3, 'Request contains an invalid argument. (emulated per-request failure)') : rpcStatus(code);
        return { error: perRequest(s, f.http) };
      }
    }
    const a = answer(b.kind, b.model, it.request);
    if ('error' in a) return { error: perRequest(rpcStatus(rpcCodeOfHttp(a.error.code), a.error.message), a.error.code) };
    return { response: a.response };
  }

  /** Runs the batch to its end (once its running time is over). */
  function finish(b: Batch, now: number): void {
    if (b.ended) return;
    const end = { at: now, readyAt: now + lagMs, ok: 0, failed: 0 };
    const scriptKey = (it: Item) => it.text;
    const expiring = b.items.filter((it) => it.text.includes('[[emu:batchexpire]]') && !expired.has(scriptKey(it)));
    if (expiring.length > 0) {
      for (const it of expiring) expired.add(scriptKey(it));
      b.ended = { ...end, state: 'BATCH_STATE_EXPIRED' };
      return;
    }
    if (b.items.some((it) => it.text.includes('[[emu:batchjobfail]]'))) {
      b.ended = { ...end, state: 'BATCH_STATE_FAILED' };
      return;
    }
    const results = b.items.map((it) => {
      const r = outcome(b, it);
      if ('error' in r) end.failed++;
      else end.ok++;
      return { it, r };
    });
    if (b.inline) {
      b.ended = { ...end, state: 'BATCH_STATE_SUCCEEDED', inline: results.map(({ it, r }) => ({ ...r, ...(it.metadata !== undefined ? { metadata: it.metadata } : {}) })) };
      return;
    }
    // The service promises no order in a responses file: a seeded shuffle per job.
    const lines = results.map(({ it, r }) => JSON.stringify({ ...(it.key !== undefined ? { key: it.key } : {}), ...r }));
    if (o.shuffle !== false) {
      const rnd = seededRandom((o.seed ?? 1) * 7919 + b.seq);
      for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [lines[i], lines[j]] = [lines[j], lines[i]];
      }
    }
    // Stored now, readable (files.get, download) only once the lag is over.
    const f = files.put(Buffer.from(lines.join('\n') + '\n'), 'application/jsonl', `${b.name} responses`, { prefix: 'batch-', visibleAt: end.readyAt });
    b.ended = { ...end, state: 'BATCH_STATE_SUCCEEDED', file: f.name };
  }

  const iso = (ms: number) => new Date(ms).toISOString();

  function view(b: Batch): Record<string, unknown> {
    const now = Date.now();
    if (!b.ended && b.cancelled !== undefined) b.ended = { state: 'BATCH_STATE_CANCELLED', at: b.cancelled, readyAt: b.cancelled, ok: 0, failed: 0 };
    if (!b.ended && now >= b.created + pendingMs + runningMs) finish(b, b.created + pendingMs + runningMs);
    const e = b.ended;
    const state = e?.state ?? (now >= b.created + pendingMs ? 'BATCH_STATE_RUNNING' : 'BATCH_STATE_PENDING');
    const ready = e !== undefined && now >= e.readyAt;
    // int64 counts are strings on the wire, and a zero count is left out.
    const count = (k: string, n: number) => (n > 0 ? { [k]: String(n) } : {});
    const batchStats = {
      ...count('requestCount', b.items.length),
      ...count('successfulRequestCount', e?.ok ?? 0),
      ...count('failedRequestCount', e?.failed ?? 0),
      ...count('pendingRequestCount', e ? 0 : b.items.length),
    };
    let output: Record<string, unknown> | undefined;
    if (e?.state === 'BATCH_STATE_SUCCEEDED' && (ready || o.resultLagMode === 'not-found')) {
      output = e.file ? { responsesFile: e.file } : { inlinedResponses: { inlinedResponses: e.inline } };
    }
    const metadata = {
      '@type': TYPES[b.kind].batch,
      model: `models/${b.model}`, displayName: b.displayName, name: b.name,
      inputConfig: b.inputConfig,
      createTime: iso(b.created), updateTime: iso(e ? e.at : now >= b.created + pendingMs ? b.created + pendingMs : b.created),
      ...(e ? { endTime: iso(e.at) } : {}),
      batchStats, state,
      ...(output ? { output } : {}),
    };
    const error = e && e.state !== 'BATCH_STATE_SUCCEEDED'
      ? { code: e.state === 'BATCH_STATE_CANCELLED' ? 1 : e.state === 'BATCH_STATE_EXPIRED' ? 4 : 13, message: `The batch ended ${e.state.replace('BATCH_STATE_', '').toLowerCase()}.` }
      : undefined;
    return {
      name: b.name, metadata,
      ...(e ? { done: true } : {}),
      ...(output ? { response: { '@type': TYPES[b.kind].output, ...output } } : {}),
      ...(error ? { error } : {}),
    };
  }

  /** The requests a create names, or the 400 (403 for a missing file) the service answers. */
  function itemsOf(inputConfig: { fileName?: string; requests?: { requests?: Array<{ request?: unknown; metadata?: unknown }> } } | undefined): { items: Item[]; inline: boolean } | GoogleError {
    if (inputConfig?.fileName !== undefined) {
      const f = files.get(inputConfig.fileName);
      if (!f) return fileGone(inputConfig.fileName);
      const items: Item[] = [];
      const lines = f.bytes.toString('utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i].replace(/\r$/, '');
        if (line.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch (err) {
          return invalidArgument(`Invalid JSON in the input file ${inputConfig.fileName}, line ${i + 1}: ${(err as Error).message}`);
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          return invalidArgument(`Invalid request in the input file ${inputConfig.fileName}, line ${i + 1}: each line must be a JSON object {"key": ..., "request": {...}}.`);
        }
        const { key, request } = parsed as { key?: unknown; request?: unknown };
        const req = request === undefined ? undefined : normalize(request);
        items.push({ key: key === undefined ? undefined : String(key), request: req, text: textOf(req) });
      }
      if (items.length === 0) return invalidArgument(`The input file ${inputConfig.fileName} holds no requests.`);
      return { items, inline: false };
    }
    const list = inputConfig?.requests?.requests;
    if (Array.isArray(list)) {
      if (list.length === 0) return invalidArgument('* batch.input_config.requests.requests: at least one request is required.');
      return { items: list.map((x) => ({ request: x.request, metadata: x.metadata, text: textOf(x.request) })), inline: true };
    }
    return invalidArgument('* batch.input_config: exactly one of file_name or requests must be set.');
  }

  return {
    stats,
    async handle(req, res, url, body) {
      const p = url.pathname;
      let m = /^\/(v1beta|v1alpha)\/models\/([^/:]+):(batchGenerateContent|asyncBatchEmbedContent)$/.exec(p);
      if (req.method === 'POST' && m) {
        const kind: BatchKind = m[3] === 'batchGenerateContent' ? 'generate' : 'embed';
        const model = decodeURIComponent(m[2]);
        let spec: { batch?: { displayName?: string; inputConfig?: Parameters<typeof itemsOf>[0] } };
        try {
          spec = normalize(JSON.parse(body.toString('utf8') || '{}'));
        } catch (err) {
          fail(res, invalidJson((err as Error).message));
          return true;
        }
        const bad = checkModel(kind, model, m[1]);
        if (bad) {
          fail(res, bad);
          return true;
        }
        if (!spec.batch?.displayName) {
          fail(res, invalidArgument('* batch.display_name: display_name is required.'));
          return true;
        }
        const input = itemsOf(spec.batch.inputConfig);
        if ('code' in input) {
          fail(res, input);
          return true;
        }
        if (o.prefetch && kind === 'generate') await Promise.all(input.items.map((it) => (it.request ? o.prefetch!(it.request) : undefined)));
        if (stats.refused < (o.refuseCreates ?? 0)) {
          stats.refused++;
          fail(res, o.refuseError ?? BATCH_CREATE_429);
          return true;
        }
        const b: Batch = {
          name: `batches/${newId()}`, seq: stats.batchesCreated, kind, displayName: spec.batch.displayName, model,
          inputConfig: spec.batch.inputConfig, items: input.items, inline: input.inline, created: Date.now(),
        };
        batches.set(b.name, b);
        stats.batchesCreated++;
        event('create');
        json(res, 200, view(b));
        return true;
      }
      m = /^\/(?:v1beta|v1alpha)\/(batches\/[^/:]+)(:cancel)?$/.exec(p);
      if (m) {
        const b = batches.get(m[1]);
        const method = req.method;
        if ((m[2] && method !== 'POST') || (!m[2] && method !== 'GET' && method !== 'DELETE')) return false;
        if (!b) {
          fail(res, { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' });
          return true;
        }
        if (m[2]) {
          if (!b.ended) b.cancelled = Date.now();
          event('cancel');
          json(res, 200, {});
        } else if (method === 'GET') {
          event('get');
          json(res, 200, view(b));
        } else {
          batches.delete(b.name);
          stats.deleted++;
          event('delete');
          json(res, 200, {});
        }
        return true;
      }
      if (req.method === 'GET' && /^\/(v1beta|v1alpha)\/batches$/.test(p)) {
        event('list');
        const all = [...batches.values()].sort((a, b) => b.seq - a.seq);
        const page = pageOf(all, url.searchParams, { size: 50, max: 1000 }, (b) => -b.seq);
        if ('error' in page) fail(res, page.error);
        else json(res, 200, page.items.length ? { operations: page.items.map(view), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
        return true;
      }
      return false;
    },
  };
}
