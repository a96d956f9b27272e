// The Gemini Files and Batch endpoints (SPEC §13) through @google/genai, as the small interface
// batch mode and `gempipe batches` use (a test gives a fake one): upload an input file, create,
// look up, list and cancel batch jobs, download a responses file. A job's counts are read from its
// REST resource directly: @google/genai 2.32's BatchJob leaves metadata.batchStats out.

import { GoogleGenAI } from '@google/genai';

export interface BatchState {
  /** JOB_STATE_…; JOB_STATE_NOT_FOUND for a job the server no longer knows. */
  state: string;
  /** The responses file (files/…) of a job that succeeded. */
  dest?: string;
  /** "6200 ok, 3 failed, 3797 pending", when asked for and the server says. */
  counts?: string;
}

export interface BatchService {
  /** Uploads a JSONL input file; its name on the server (files/…). */
  upload(path: string, displayName: string): Promise<string>;
  /** Creates a batch job over an uploaded file. */
  create(model: string, file: string, displayName: string): Promise<{ name: string; createTime?: string }>;
  get(name: string, o?: { counts?: boolean }): Promise<BatchState>;
  /** The server's batch jobs, newest first as it lists them. */
  list(): AsyncIterable<{ name?: string; displayName?: string; createTime?: string }>;
  cancel(name: string): Promise<void>;
  /** Downloads a file (a job's responses) to `path`. */
  download(file: string, path: string): Promise<void>;
}

/** The terminal states of a batch job. */
export const BATCH_ENDED = new Set(['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', 'JOB_STATE_NOT_FOUND']);

export function createBatchService(conn: { apiKey?: string; baseUrl?: string }): BatchService {
  const ai = new GoogleGenAI({ apiKey: conn.apiKey, httpOptions: conn.baseUrl ? { baseUrl: conn.baseUrl } : undefined });

  async function counts(name: string): Promise<string | undefined> {
    if (!conn.apiKey) return undefined;
    try {
      const base = (conn.baseUrl ?? 'https://generativelanguage.googleapis.com').replace(/\/$/, '');
      const r = await fetch(`${base}/v1beta/${name}`, { headers: { 'x-goog-api-key': conn.apiKey } });
      const st = ((await r.json()) as { metadata?: { batchStats?: Record<string, string> } }).metadata?.batchStats;
      return st ? `${Number(st.successfulRequestCount ?? 0)} ok, ${Number(st.failedRequestCount ?? 0)} failed, ${Number(st.pendingRequestCount ?? 0)} pending` : undefined;
    } catch {
      return undefined; // counts are a nicety
    }
  }

  return {
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
      for await (const b of await ai.batches.list({ config: { pageSize: 100 } })) yield b;
    },
    async cancel(name) {
      await ai.batches.cancel({ name });
    },
    async download(file, path) {
      await ai.files.download({ file, downloadPath: path });
    },
  };
}
