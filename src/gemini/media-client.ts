// The Files API (attachments and --context files) and cachedContents (--context's explicit cache)
// through @google/genai, as the small interfaces media/uploads.ts and context/ use (tests give
// fakes). A file or cache the service no longer has (deleted, expired: its 403, or a 404) reads
// as undefined; every other error is thrown as the SDK throws it. The SDK reads an upload from
// its path in 8 MiB chunks: an upload never holds the file.

import { GoogleGenAI, type CachedContent, type File as SdkFile } from '@google/genai';

export interface RemoteFile {
  /** files/ID */
  name: string;
  uri: string;
  displayName?: string;
  mimeType?: string;
  sizeBytes?: number;
  /** Hex SHA-256 of the bytes the service holds (it writes it base64-encoded). */
  sha256?: string;
  /** PROCESSING, ACTIVE or FAILED. */
  state: string;
  /** When the service drops it (ms since the epoch; files live 48 hours). */
  expiresAt?: number;
  /** Why processing failed. */
  error?: string;
}

export interface FilesApi {
  upload(path: string, o: { mimeType: string; displayName: string }): Promise<RemoteFile>;
  /** The file, or undefined when the service no longer has it. */
  get(name: string): Promise<RemoteFile | undefined>;
  list(): AsyncIterable<RemoteFile>;
  delete(name: string): Promise<void>;
}

export interface CacheInfo {
  /** cachedContents/ID */
  name: string;
  displayName?: string;
  model?: string;
  expiresAt?: number;
  /** Its tokens (usageMetadata.totalTokenCount). */
  tokens?: number;
}

export interface CachesApi {
  /** contents and systemInstruction as REST Content objects. */
  create(o: { model: string; contents: unknown[]; systemInstruction?: unknown; ttlSec: number; displayName: string }): Promise<CacheInfo>;
  get(name: string): Promise<CacheInfo | undefined>;
  /** A new TTL from now; undefined when the cache is gone. */
  update(name: string, ttlSec: number): Promise<CacheInfo | undefined>;
  delete(name: string): Promise<void>;
  list(): AsyncIterable<CacheInfo>;
}

/** The service's "no such file / cache" (403 as it answers, or 404). */
export function isGone(e: unknown): boolean {
  const status = (e as { status?: unknown }).status;
  return status === 404 || (status === 403 && /may not exist|not found/i.test(String((e as Error).message)));
}

/** The service writes sha256Hash as base64 — of the hex digest's text, or of the 32 bytes. */
export function hexOfSha256Hash(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const raw = Buffer.from(v, 'base64');
  const text = raw.toString('latin1');
  if (/^[0-9a-f]{64}$/i.test(text)) return text.toLowerCase();
  return raw.length === 32 ? raw.toString('hex') : undefined;
}

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : undefined);

function fileOf(f: SdkFile): RemoteFile {
  return {
    name: f.name!, uri: f.uri ?? f.name!, displayName: f.displayName, mimeType: f.mimeType,
    sizeBytes: f.sizeBytes !== undefined ? Number(f.sizeBytes) : undefined, sha256: hexOfSha256Hash(f.sha256Hash),
    state: String(f.state ?? 'ACTIVE'), expiresAt: ms(f.expirationTime), error: f.error?.message,
  };
}

function cacheOf(c: CachedContent): CacheInfo {
  return { name: c.name!, displayName: c.displayName, model: c.model, expiresAt: ms(c.expireTime), tokens: c.usageMetadata?.totalTokenCount };
}

async function orGone<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isGone(e)) return undefined;
    throw e;
  }
}

export function createMediaApis(conn: { apiKey?: string; baseUrl?: string }): { files: FilesApi; caches: CachesApi } {
  const ai = new GoogleGenAI({ apiKey: conn.apiKey, httpOptions: conn.baseUrl ? { baseUrl: conn.baseUrl } : undefined });
  const files: FilesApi = {
    async upload(path, o) {
      return fileOf(await ai.files.upload({ file: path, config: { mimeType: o.mimeType, displayName: o.displayName } }));
    },
    async get(name) {
      const f = await orGone(ai.files.get({ name }));
      return f ? fileOf(f) : undefined;
    },
    async *list() {
      for await (const f of await ai.files.list({ config: { pageSize: 100 } })) if (f.name) yield fileOf(f);
    },
    async delete(name) {
      await orGone(ai.files.delete({ name }));
    },
  };
  const caches: CachesApi = {
    async create(o) {
      const c = await ai.caches.create({
        model: o.model,
        config: { contents: o.contents as never, ...(o.systemInstruction ? { systemInstruction: o.systemInstruction as never } : {}), ttl: `${o.ttlSec}s`, displayName: o.displayName },
      });
      return cacheOf(c);
    },
    async get(name) {
      const c = await orGone(ai.caches.get({ name }));
      return c ? cacheOf(c) : undefined;
    },
    async update(name, ttlSec) {
      const c = await orGone(ai.caches.update({ name, config: { ttl: `${ttlSec}s` } }));
      return c ? cacheOf(c) : undefined;
    },
    async delete(name) {
      await orGone(ai.caches.delete({ name }));
    },
    async *list() {
      for await (const c of await ai.caches.list({ config: { pageSize: 100 } })) if (c.name) yield cacheOf(c);
    },
  };
  return { files, caches };
}
