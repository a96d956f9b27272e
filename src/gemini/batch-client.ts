// The Gemini Files and Batch endpoints (SPEC §13) through @google/genai, as the small interface
// batch mode and `gempipe batches` use (a test gives a fake one): upload an input file, create,
// look up, list (every page) and cancel batch jobs, download a responses file. Two calls skip the
// SDK: a job's counts (@google/genai 2.32's BatchJob leaves metadata.batchStats out) and the
// download (2.32's files.download pipes the body with no error handler: a connection cut mid-body
// kills the process with an unhandled 'error' event, measured).

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiError, GoogleGenAI } from '@google/genai';
import { classifyError } from './retry-policy.js';

/** Where the Gemini API is when no --base-url (or GEMINI_BASE_URL) says otherwise. */
export const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

export interface BatchState {
  /** JOB_STATE_…; JOB_STATE_NOT_FOUND for a job the server no longer knows. */
  state: string;
  /** The responses file (files/…) of a job that succeeded. */
  dest?: string;
  /** "6200 ok, 3 failed, 3797 pending", when asked for and the server says. */
  counts?: string;
}

export interface BatchService {
  /** The base URL it talks to (never the key): the journal keeps it with each job. */
  readonly endpoint?: string;
  /** Uploads a JSONL input file; its name on the server (files/…). */
  upload(path: string, displayName: string): Promise<string>;
  /** Creates a batch job over an uploaded file. */
  create(model: string, file: string, displayName: string): Promise<{ name: string; createTime?: string }>;
  get(name: string, o?: { counts?: boolean }): Promise<BatchState>;
  /** The server's batch jobs, newest first as it lists them, every page (nextPageToken). */
  list(): AsyncIterable<{ name?: string; displayName?: string; createTime?: string; state?: string }>;
  cancel(name: string): Promise<void>;
  /**
   * Downloads a file (a job's responses) to `path`; `not-found` when the service does not show it
   * (404, or its 403 "… or it may not exist": a job can read SUCCEEDED before its file is there).
   */
  download(file: string, path: string): Promise<void | 'not-found'>;
}

/** The terminal states of a batch job. */
export const BATCH_ENDED = new Set(['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', 'JOB_STATE_NOT_FOUND']);
/** The states whose requests are asked again: the only ones (a SUCCEEDED job is never redone). */
export const BATCH_REDONE = new Set(['JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED']);

/**
 * A batchStats as the service writes it — int64 counts as strings, a zero count left out — in
 * words. Pending, when left out, is what the other counts leave of requestCount (zero once done).
 */
export function countsOf(st: Record<string, unknown> | undefined): string | undefined {
  if (!st || typeof st !== 'object') return undefined;
  const n = (k: string) => {
    const v = Number(st[k] ?? 0);
    return Number.isFinite(v) && v >= 0 ? v : 0;
  };
  const ok = n('successfulRequestCount');
  const failed = n('failedRequestCount');
  const pending = st.pendingRequestCount !== undefined ? n('pendingRequestCount') : Math.max(0, n('requestCount') - ok - failed);
  return `${ok} ok, ${failed} failed, ${pending} pending`;
}

export function createBatchService(conn: { apiKey?: string; baseUrl?: string }): BatchService {
  const ai = new GoogleGenAI({ apiKey: conn.apiKey, httpOptions: conn.baseUrl ? { baseUrl: conn.baseUrl } : undefined });
  const base = (conn.baseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, '');
  const headers = { 'x-goog-api-key': conn.apiKey ?? '' };

  async function counts(name: string): Promise<string | undefined> {
    if (!conn.apiKey) return undefined;
    try {
      const r = await fetch(`${base}/v1beta/${name}`, { headers });
      return countsOf(((await r.json()) as { metadata?: { batchStats?: Record<string, unknown> } }).metadata?.batchStats);
    } catch {
      return undefined; // counts are a nicety
    }
  }

  return {
    endpoint: base,
    async upload(path, displayName) {
      const file = await ai.files.upload({ file: path, config: { mimeType: 'application/jsonl', displayName } });
      return file.name!;
    },
    async create(model, file, displayName) {
      const b = await ai.batches.create({ model, src: file, config: { displayName } });
      return { name: b.name!, createTime: b.createTime };
    },
    async get(name, o = {}) {
      let b;
      try {
        b = await ai.batches.get({ name });
      } catch (e) {
        // A job the server no longer knows (deleted, or an emulator that restarted).
        if ((e as { status?: number }).status === 404) return { state: 'JOB_STATE_NOT_FOUND' };
        throw e;
      }
      return { state: String(b.state), dest: b.dest?.fileName, counts: o.counts ? await counts(name) : undefined };
    },
    async *list() {
      // The pager asks for the next page (nextPageToken) when one page is done.
      for await (const b of await ai.batches.list({ config: { pageSize: 100 } })) if (b) yield b;
    },
    async cancel(name) {
      await ai.batches.cancel({ name });
    },
    async download(file, path) {
      // The URL the SDK asks (the documented one has a /download prefix; the service answers both).
      const r = await fetch(`${base}/v1beta/${file}:download?alt=media`, { headers });
      if (!r.ok || !r.body) {
        const err = new ApiError({ status: r.status, message: await r.text().catch(() => '') });
        const c = classifyError(err);
        // Absent or not yet there; a key the service refuses is still a whole-run fault.
        if (r.status === 404 || (r.status === 403 && (c.kind !== 'fatal' || c.fatalCode === 'PERMISSION_DENIED'))) return 'not-found';
        throw err;
      }
      await pipeline(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), createWriteStream(path));
    },
  };
}
