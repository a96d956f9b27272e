// The emulator's Files and Batch endpoints (SPEC §7, §13), with the real service's wire shapes so
// that @google/genai's `files` and `batches` modules work against it unchanged:
//
//   POST /upload/v1beta/files                 resumable upload, start: answers X-Goog-Upload-URL
//   POST /upload/v1beta/files?upload_id=ID    a chunk (X-Goog-Upload-Command: upload[, finalize])
//   GET  /v1beta/files/ID                     the file's metadata
//   GET  /download/v1beta/files/ID:download   its bytes (alt=media; also without /download, as the SDK asks)
//   POST /v1beta/models/M:batchGenerateContent {batch: {displayName, inputConfig: {fileName}}}
//   GET  /v1beta/batches/ID, GET /v1beta/batches, POST /v1beta/batches/ID:cancel
//
// A batch is an Operation: `metadata` holds the GenerateContentBatch (state BATCH_STATE_PENDING ->
// RUNNING -> SUCCEEDED, or FAILED / CANCELLED / EXPIRED; batchStats; output.responsesFile), `done`
// turns true at the end. Its input file is JSONL, one {"key", "request"} a line; its responses
// file one {"key", "response"} or {"key", "error": {code, message, status}} a line. Timings are
// "real" (minutes to hours) divided by `timeScale`, so a day-long batch ends in seconds in tests.
// A prompt may script the batch: [[emu:batchfail]] fails that request alone, [[emu:batch503x1]]
// fails it with a retryable 503 the first time; [[emu:batchexpire]] makes the first batch that
// holds it expire (a later one goes through); [[emu:batchjobfail]] fails every batch holding it.

import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BatchOptions {
  /** Divides the batch's pending and running times. @default 1 */
  timeScale?: number;
  /** Pending time before the scale (ms). @default 60000 */
  pendingMs?: number;
  /** Running time before the scale (ms). @default 600000 */
  runningMs?: number;
  /** The first this many batch creates are refused with a 429 (the Batch API's own limits). @default 0 */
  refuseCreates?: number;
  /** Told of each call (tests kill a client at chosen steps). */
  onEvent?: (kind: 'upload' | 'create' | 'get' | 'list' | 'download' | 'cancel') => void;
}

interface StoredFile {
  name: string;
  displayName?: string;
  mimeType: string;
  bytes: Buffer;
  createTime: string;
}

interface Batch {
  name: string;
  displayName: string;
  model: string;
  input: string;
  created: number;
  cancelled?: number;
  /** Set when it ended: the state and the responses file. */
  ended?: { state: string; file?: string; stats: { requestCount: number; successfulRequestCount: number; failedRequestCount: number } };
}

type Answer = (model: string, request: unknown) => { response: unknown } | { error: { code: number; message: string; status: string } };

export interface BatchService {
  /** Handles the request if it is one of these endpoints; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, origin: string): boolean;
  readonly stats: { uploads: number; batchesCreated: number; downloads: number };
}

let seq = 0;
const id = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

export function createBatchService(o: BatchOptions, answer: Answer): BatchService {
  const scale = o.timeScale ?? 1;
  const pendingMs = (o.pendingMs ?? 60_000) / scale;
  const runningMs = (o.runningMs ?? 600_000) / scale;
  const files = new Map<string, StoredFile>();
  const uploads = new Map<string, { meta: { displayName?: string; mimeType: string }; chunks: Buffer[] }>();
  const batches = new Map<string, Batch>();
  const stats = { uploads: 0, batchesCreated: 0, downloads: 0 };
  const expired = new Set<string>();
  let refused = 0;
  const seen503 = new Map<string, number>();
  const event = (k: Parameters<NonNullable<BatchOptions['onEvent']>>[0]) => o.onEvent?.(k);

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(text);
  };
  const notFound = (res: ServerResponse, what: string) => json(res, 404, { error: { code: 404, message: `${what} not found.`, status: 'NOT_FOUND' } });
  const fileJson = (f: StoredFile) => ({
    name: f.name, displayName: f.displayName, mimeType: f.mimeType, sizeBytes: String(f.bytes.length),
    createTime: f.createTime, updateTime: f.createTime, expirationTime: new Date(Date.parse(f.createTime) + 48 * 3_600_000).toISOString(),
    sha256Hash: '', uri: `https://generativelanguage.googleapis.com/v1beta/${f.name}`, state: 'ACTIVE', source: 'UPLOADED',
  });

  /** Runs the batch to its end (once its running time is over). */
  function finish(b: Batch): void {
    if (b.ended) return;
    const input = files.get(b.input);
    const lines = input ? input.bytes.toString('utf8').split('\n').filter((l) => l.trim() !== '') : [];
    const text = input?.bytes.toString('utf8') ?? '';
    const expiring = lines.filter((l) => l.includes('[[emu:batchexpire]]') && !expired.has(l.replace(/"key":"[^"]*",?/, '')));
    if (expiring.length > 0) {
      for (const l of expiring) expired.add(l.replace(/"key":"[^"]*",?/, ''));
      b.ended = { state: 'BATCH_STATE_EXPIRED', stats: { requestCount: lines.length, successfulRequestCount: 0, failedRequestCount: 0 } };
      return;
    }
    if (text.includes('[[emu:batchjobfail]]')) {
      b.ended = { state: 'BATCH_STATE_FAILED', stats: { requestCount: lines.length, successfulRequestCount: 0, failedRequestCount: lines.length } };
      return;
    }
    let ok = 0;
    let failed = 0;
    const out: string[] = [];
    for (const line of lines) {
      let item: { key?: string; request?: unknown };
      try {
        item = JSON.parse(line) as typeof item;
      } catch {
        failed++;
        out.push(JSON.stringify({ error: { code: 400, message: 'Invalid JSON in the input file.', status: 'INVALID_ARGUMENT' } }));
        continue;
      }
      const once503 = line.includes('[[emu:batch503x1]]') ? (seen503.get(line.replace(/"key":"[^"]*",?/, '')) ?? 0) : -1;
      if (once503 >= 0) seen503.set(line.replace(/"key":"[^"]*",?/, ''), once503 + 1);
      const a = once503 === 0 ? { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } : answer(b.model, item.request);
      if ('error' in a) failed++;
      else ok++;
      out.push(JSON.stringify({ key: item.key, ...a }));
    }
    const f: StoredFile = { name: `files/batch-${id()}`, displayName: `${b.name} responses`, mimeType: 'application/jsonl', bytes: Buffer.from(out.join('\n') + '\n'), createTime: new Date().toISOString() };
    files.set(f.name, f);
    b.ended = { state: 'BATCH_STATE_SUCCEEDED', file: f.name, stats: { requestCount: lines.length, successfulRequestCount: ok, failedRequestCount: failed } };
  }

  function view(b: Batch): unknown {
    const now = Date.now();
    if (!b.ended && b.cancelled !== undefined) b.ended = { state: 'BATCH_STATE_CANCELLED', stats: { requestCount: 0, successfulRequestCount: 0, failedRequestCount: 0 } };
    if (!b.ended && now >= b.created + pendingMs + runningMs) finish(b);
    const state = b.ended?.state ?? (now >= b.created + pendingMs ? 'BATCH_STATE_RUNNING' : 'BATCH_STATE_PENDING');
    const total = files.get(b.input)?.bytes.toString('utf8').split('\n').filter((l) => l.trim() !== '').length ?? 0;
    const stats = b.ended?.stats ?? { requestCount: total, successfulRequestCount: 0, failedRequestCount: 0 };
    const metadata = {
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      model: `models/${b.model}`, displayName: b.displayName, name: b.name,
      inputConfig: { fileName: b.input },
      createTime: new Date(b.created).toISOString(), updateTime: new Date(now).toISOString(),
      ...(b.ended ? { endTime: new Date(now).toISOString() } : {}),
      batchStats: { requestCount: String(stats.requestCount), successfulRequestCount: String(stats.successfulRequestCount), failedRequestCount: String(stats.failedRequestCount), pendingRequestCount: String(b.ended ? 0 : total) },
      state,
      ...(b.ended?.file ? { output: { responsesFile: b.ended.file } } : {}),
    };
    return {
      name: b.name, metadata,
      ...(b.ended ? { done: true } : {}),
      ...(b.ended?.file ? { response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput', responsesFile: b.ended.file } } : {}),
      ...(b.ended && b.ended.state !== 'BATCH_STATE_SUCCEEDED' ? { error: { code: b.ended.state === 'BATCH_STATE_CANCELLED' ? 1 : 4, message: `The batch ended ${b.ended.state.replace('BATCH_STATE_', '').toLowerCase()}.` } } : {}),
    };
  }

  return {
    stats,
    handle(req, res, url, body, origin) {
      const p = url.pathname;
      // Resumable upload: start, then chunks.
      if (req.method === 'POST' && p === '/upload/v1beta/files') {
        const uploadId = url.searchParams.get('upload_id');
        if (!uploadId) {
          let meta: { file?: { displayName?: string; mimeType?: string } } = {};
          try {
            meta = JSON.parse(body.toString('utf8') || '{}') as typeof meta;
          } catch {
            /* no metadata */
          }
          const u = id();
          uploads.set(u, { meta: { displayName: meta.file?.displayName, mimeType: meta.file?.mimeType ?? String(req.headers['x-goog-upload-header-content-type'] ?? 'application/octet-stream') }, chunks: [] });
          json(res, 200, {}, { 'x-goog-upload-url': `${origin}/upload/v1beta/files?upload_id=${u}`, 'x-goog-upload-status': 'active' });
          return true;
        }
        const up = uploads.get(uploadId);
        if (!up) {
          notFound(res, `Upload ${uploadId}`);
          return true;
        }
        up.chunks.push(body);
        const command = String(req.headers['x-goog-upload-command'] ?? '');
        if (!command.includes('finalize')) {
          json(res, 200, {}, { 'x-goog-upload-status': 'active' });
          return true;
        }
        uploads.delete(uploadId);
        const f: StoredFile = { name: `files/${id()}`, displayName: up.meta.displayName, mimeType: up.meta.mimeType, bytes: Buffer.concat(up.chunks), createTime: new Date().toISOString() };
        files.set(f.name, f);
        stats.uploads++;
        event('upload');
        json(res, 200, { file: fileJson(f) }, { 'x-goog-upload-status': 'final' });
        return true;
      }
      // The documented URL is /download/v1beta/…; @google/genai 2.32 asks /v1beta/…:download?alt=media.
      let m = /^(?:\/download)?\/v1beta\/(files\/[^/:]+):download$/.exec(p);
      if (req.method === 'GET' && m) {
        const f = files.get(m[1]);
        if (!f) notFound(res, `File ${m[1]}`);
        else {
          stats.downloads++;
          event('download');
          res.writeHead(200, { 'content-type': f.mimeType, 'content-length': String(f.bytes.length) });
          res.end(f.bytes);
        }
        return true;
      }
      m = /^\/v1beta\/(files\/[^/:]+)$/.exec(p);
      if (req.method === 'GET' && m) {
        const f = files.get(m[1]);
        if (!f) notFound(res, `File ${m[1]}`);
        else json(res, 200, fileJson(f));
        return true;
      }
      m = /^\/v1beta\/models\/([^/:]+):batchGenerateContent$/.exec(p);
      if (req.method === 'POST' && m) {
        let spec: { batch?: { displayName?: string; inputConfig?: { fileName?: string } } };
        try {
          spec = JSON.parse(body.toString('utf8')) as typeof spec;
        } catch {
          json(res, 400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
          return true;
        }
        const input = spec.batch?.inputConfig?.fileName;
        if (!input || !files.has(input)) {
          json(res, 400, { error: { code: 400, message: `Input file ${input ?? '(none)'} not found: give batch.inputConfig.fileName of an uploaded JSONL file.`, status: 'INVALID_ARGUMENT' } });
          return true;
        }
        if (refused < (o.refuseCreates ?? 0)) {
          refused++;
          json(res, 429, { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'You have reached the limit of concurrent batch jobs for this model. Please wait for some to finish.' } });
          return true;
        }
        const b: Batch = { name: `batches/${id()}`, displayName: spec.batch?.displayName ?? '', model: decodeURIComponent(m[1]), input, created: Date.now() };
        batches.set(b.name, b);
        stats.batchesCreated++;
        event('create');
        json(res, 200, view(b));
        return true;
      }
      m = /^\/v1beta\/(batches\/[^/:]+)(:cancel)?$/.exec(p);
      if (m) {
        const b = batches.get(m[1]);
        if (!b) notFound(res, `Batch ${m[1]}`);
        else if (m[2] && req.method === 'POST') {
          if (!b.ended) b.cancelled = Date.now();
          event('cancel');
          json(res, 200, {});
        } else if (req.method === 'GET') {
          event('get');
          json(res, 200, view(b));
        }
        else return false;
        return true;
      }
      if (req.method === 'GET' && p === '/v1beta/batches') {
        event('list');
        json(res, 200, { operations: [...batches.values()].map(view) });
        return true;
      }
      return false;
    },
  };
}
