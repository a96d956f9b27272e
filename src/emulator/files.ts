// The emulator's Files API (SPEC §7, §13, §16), with the service's wire shapes so that
// @google/genai's `files` module works against it unchanged:
//
//   POST   /upload/v1beta/files                resumable upload, start: answers X-Goog-Upload-URL
//   POST   /upload/v1beta/files?upload_id=ID   a chunk (X-Goog-Upload-Command: upload[, finalize])
//   GET    /v1beta/files?pageSize&pageToken   newest first, 10 a page by default (100 at most)
//   GET    /v1beta/files/ID                    the File resource
//   DELETE /v1beta/files/ID                    {}
//   GET    /download/v1beta/files/ID:download  its bytes (alt=media; also without /download, as the SDK asks)
//
// A file lives 48 hours (divided by `timeScale`, reported as such in expirationTime), then is gone;
// a video is PROCESSING for a while first (usable only once ACTIVE). A file that is not there (never
// was, deleted, expired) is the service's 403 "You do not have permission to access the File … or it
// may not exist.". Batch jobs keep their responses here as GENERATED files (put()).

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, permissionDenied, type GoogleError } from './google-errors.js';
import { pageOf } from './paging.js';

export interface FilesOptions {
  /** Divides the 48 h lifetime and the video processing time. @default 1 */
  timeScale?: number;
  /** How long a video is PROCESSING, before the scale (ms). @default 10000 */
  processingMs?: number;
  /** Told of each call (tests kill a client at chosen steps). */
  onEvent?: (kind: 'upload' | 'download' | 'file-get' | 'file-list' | 'file-delete') => void;
}

export interface StoredFile {
  /** `files/ID` */
  name: string;
  displayName?: string;
  mimeType: string;
  bytes: Buffer;
  created: number;
  seq: number;
  source: 'UPLOADED' | 'GENERATED';
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  activeAt: number;
  expiresAt: number;
  /** Before this, the file does not exist as far as readers can tell. */
  visibleAt: number;
}

export interface FilesService {
  /** Handles the request if it is one of these endpoints; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, origin: string): boolean;
  /** The file if it exists now (not deleted, not expired). */
  get(name: string): StoredFile | undefined;
  /** A file the service itself writes (a batch's responses); `visibleAt`: not readable before then. */
  put(bytes: Buffer, mimeType: string, displayName: string, o?: { prefix?: string; visibleAt?: number }): StoredFile;
  /** The file a fileData.fileUri names (`files/ID`, or any URL ending in `/files/ID`), or the error the service gives it. */
  resolve(uri: string): StoredFile | GoogleError | undefined;
  readonly stats: { uploads: number; downloads: number; deleted: number };
}

const FILE_LIFETIME_MS = 48 * 3_600_000;
let seq = 0;
const newId = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

export const fileGone = (name: string): GoogleError => permissionDenied(`You do not have permission to access the File ${name.replace(/^files\//, '')} or it may not exist.`);

export function createFilesService(o: FilesOptions = {}): FilesService {
  const scale = o.timeScale ?? 1;
  const files = new Map<string, StoredFile>();
  const uploads = new Map<string, { meta: { displayName?: string; mimeType: string }; chunks: Buffer[] }>();
  const stats = { uploads: 0, downloads: 0, deleted: 0 };
  const event = (k: Parameters<NonNullable<FilesOptions['onEvent']>>[0]) => o.onEvent?.(k);

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, e: GoogleError) => json(res, e.code, { error: e });

  function get(name: string): StoredFile | undefined {
    const f = files.get(name);
    const now = Date.now();
    if (f && now >= f.expiresAt) {
      files.delete(name);
      return undefined;
    }
    return f && now >= f.visibleAt ? f : undefined;
  }

  function store(bytes: Buffer, mimeType: string, displayName: string | undefined, source: StoredFile['source'], prefix = '', visibleAt = 0): StoredFile {
    const now = Date.now();
    const video = source === 'UPLOADED' && mimeType.startsWith('video/');
    const f: StoredFile = {
      name: `files/${prefix}${newId()}`, visibleAt, displayName, mimeType, bytes, created: now, seq: seq++, source,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      activeAt: video ? now + (o.processingMs ?? 10_000) / scale : now,
      expiresAt: now + FILE_LIFETIME_MS / scale,
    };
    files.set(f.name, f);
    return f;
  }

  const iso = (ms: number) => new Date(ms).toISOString();
  const resource = (f: StoredFile) => ({
    name: f.name, ...(f.displayName ? { displayName: f.displayName } : {}), mimeType: f.mimeType, sizeBytes: String(f.bytes.length),
    createTime: iso(f.created), updateTime: iso(Math.min(Date.now(), Math.max(f.created, f.activeAt))), expirationTime: iso(f.expiresAt),
    // The service writes the hex digest base64-encoded.
    sha256Hash: Buffer.from(f.sha256).toString('base64'),
    uri: `https://generativelanguage.googleapis.com/v1beta/${f.name}`,
    state: Date.now() >= f.activeAt ? 'ACTIVE' : 'PROCESSING', source: f.source,
  });

  return {
    stats,
    get,
    put: (bytes, mimeType, displayName, w = {}) => store(bytes, mimeType, displayName, 'GENERATED', w.prefix, w.visibleAt),
    resolve(uri) {
      const m = /(?:^|\/)(files\/[^/?#:]+)$/.exec(uri);
      if (!m) return undefined;
      const f = get(m[1]);
      if (!f) return fileGone(m[1]);
      if (Date.now() < f.activeAt) return { code: 400, status: 'FAILED_PRECONDITION', message: `The File ${m[1].slice(6)} is not in an ACTIVE state and usage is not allowed.` };
      return f;
    },
    handle(req, res, url, body, origin) {
      const p = url.pathname.replace(/^(\/(?:upload|download))?\/v1(?:beta|alpha)\//, '$1/v1beta/');
      if (req.method === 'POST' && p === '/upload/v1beta/files') {
        const uploadId = url.searchParams.get('upload_id');
        if (!uploadId) {
          let meta: { file?: { displayName?: string; mimeType?: string } } = {};
          try {
            meta = JSON.parse(body.toString('utf8') || '{}') as typeof meta;
          } catch {
            fail(res, invalidArgument('Invalid JSON payload received. Unexpected token.'));
            return true;
          }
          const u = newId();
          const mimeType = meta.file?.mimeType ?? String(req.headers['x-goog-upload-header-content-type'] ?? 'application/octet-stream');
          uploads.set(u, { meta: { displayName: meta.file?.displayName, mimeType }, chunks: [] });
          json(res, 200, {}, { 'x-goog-upload-url': `${origin}/upload/v1beta/files?upload_id=${u}`, 'x-goog-upload-status': 'active' });
          return true;
        }
        const up = uploads.get(uploadId);
        if (!up) {
          fail(res, { code: 404, status: 'NOT_FOUND', message: `Upload ${uploadId} not found.` });
          return true;
        }
        up.chunks.push(body);
        const command = String(req.headers['x-goog-upload-command'] ?? '');
        if (!command.includes('finalize')) {
          json(res, 200, {}, { 'x-goog-upload-status': 'active' });
          return true;
        }
        uploads.delete(uploadId);
        const f = store(Buffer.concat(up.chunks), up.meta.mimeType, up.meta.displayName, 'UPLOADED');
        stats.uploads++;
        event('upload');
        json(res, 200, { file: resource(f) }, { 'x-goog-upload-status': 'final' });
        return true;
      }
      // The documented URL is /download/v1beta/…; @google/genai 2.32 asks /v1beta/…:download?alt=media.
      let m = /^(?:\/download)?\/v1beta\/(files\/[^/:]+):download$/.exec(p);
      if (req.method === 'GET' && m) {
        const f = get(m[1]);
        if (!f) fail(res, fileGone(m[1]));
        else {
          stats.downloads++;
          event('download');
          res.writeHead(200, { 'content-type': f.mimeType, 'content-length': String(f.bytes.length) });
          res.end(f.bytes);
        }
        return true;
      }
      m = /^\/v1beta\/(files\/[^/:]+)$/.exec(p);
      if (m && (req.method === 'GET' || req.method === 'DELETE')) {
        const f = get(m[1]);
        if (!f) fail(res, fileGone(m[1]));
        else if (req.method === 'GET') {
          event('file-get');
          json(res, 200, resource(f));
        } else {
          files.delete(f.name);
          stats.deleted++;
          event('file-delete');
          json(res, 200, {});
        }
        return true;
      }
      if (req.method === 'GET' && p === '/v1beta/files') {
        const all = [...files.values()].filter((f) => get(f.name)).sort((a, b) => b.seq - a.seq);
        const page = pageOf(all, url.searchParams, { size: 10, max: 100 }, (f) => -f.seq);
        event('file-list');
        if ('error' in page) fail(res, page.error);
        else json(res, 200, page.items.length ? { files: page.items.map(resource), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
        return true;
      }
      return false;
    },
  };
}
