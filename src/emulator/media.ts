// What the emulator makes of a request's non-text parts (SPEC §16): an `inlineData` part is its
// bytes (base64, decoded as the service decodes it, refused as it refuses them); a `fileData` part
// names a file of the Files API (by `files/ID` or its full URI: the file must exist and be
// ACTIVE) or an http(s) URL, which the service fetches itself and so does the emulator (its bytes
// hashed; a URL that cannot be fetched is the service's 400). Each part becomes a label naming
// its MIME type and the first 16 hex digits of its bytes' SHA-256 — the answer mentions it, so a
// test proves which image went with which record — and 258 prompt tokens (an image's count).
// prefetch() fetches a request's URLs before it is answered (online: on arrival; batch: at
// create), so the answer itself stays synchronous and deterministic.

import { createHash } from 'node:crypto';
import type { FilesService } from './files.js';
import { invalidArgument, type GoogleError } from './google-errors.js';
import type { MediaReader } from './answer.js';
import type { GenerateRequest, Part } from './request.js';

/** The prompt tokens one image (or any media part) costs. */
export const MEDIA_TOKENS = 258;

/** MIME types the service refuses outright. */
const UNSUPPORTED = /^(application\/(octet-stream|zip|x-tar|gzip|x-msdownload|vnd\.ms-excel)|multipart\/)/i;

export interface MediaService {
  /** Fetches the request's URL parts (once per URL); resolves to the error of the first that fails. */
  prefetch(r: GenerateRequest): Promise<GoogleError | undefined>;
  /** Reads a part: its label and tokens, or the error the service gives it. */
  reader: MediaReader;
}

export interface MediaOptions {
  /** Fetch http(s) fileData URIs (false: label them by the URL itself). @default true */
  fetchUrls?: boolean;
  /** A URL fetch gives up after this long. @default 10000 */
  fetchTimeoutMs?: number;
}

const label = (mime: string, sha256: string) => `${mime} sha256:${sha256.slice(0, 16)}`;

function partsOf(r: GenerateRequest): Part[] {
  return [...(r.contents ?? []).flatMap((c) => c.parts ?? []), ...(r.systemInstruction?.parts ?? [])];
}

export function createMediaService(files: FilesService, o: MediaOptions = {}): MediaService {
  const urls = new Map<string, { sha256: string; mime: string } | GoogleError>();
  const fetchUrls = o.fetchUrls ?? true;

  async function fetchOne(uri: string): Promise<void> {
    if (urls.has(uri)) return;
    try {
      const res = await fetch(uri, { signal: AbortSignal.timeout(o.fetchTimeoutMs ?? 10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      urls.set(uri, { sha256: createHash('sha256').update(bytes).digest('hex'), mime: (res.headers.get('content-type') ?? '').split(';')[0] });
    } catch {
      urls.set(uri, invalidArgument(`Cannot fetch content from the provided URL: ${uri}`));
    }
  }

  const isUrl = (uri: string) => /^https?:\/\//i.test(uri) && !/\/v1(beta|alpha)?\/files\/[^/]+$/.test(uri);

  return {
    async prefetch(r) {
      if (!fetchUrls) return undefined;
      const wanted = partsOf(r).map((p) => p.fileData?.fileUri).filter((u): u is string => typeof u === 'string' && isUrl(u));
      await Promise.all(wanted.map(fetchOne));
      for (const u of wanted) {
        const got = urls.get(u);
        if (got && 'code' in got) return got;
      }
      return undefined;
    },
    reader(p) {
      if (p.inlineData) {
        const mime = p.inlineData.mimeType ?? '';
        if (!mime) return invalidArgument('* GenerateContentRequest.contents[].parts[].inline_data.mime_type: mime_type is not specified');
        if (UNSUPPORTED.test(mime)) return invalidArgument(`Unsupported MIME type: ${mime}`);
        const data = p.inlineData.data ?? '';
        // The service decodes standard or URL-safe base64 and refuses anything else.
        if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data)) return invalidArgument(`Invalid value at 'contents.parts.inline_data.data' (TYPE_BYTES), Base64 decoding failed for "${data.slice(0, 40)}"`);
        const bytes = Buffer.from(data, 'base64');
        return { label: label(mime, createHash('sha256').update(bytes).digest('hex')), tokens: MEDIA_TOKENS };
      }
      const uri = p.fileData?.fileUri ?? '';
      if (!uri) return invalidArgument('* GenerateContentRequest.contents[].parts[].file_data.file_uri: file_uri is not specified');
      const f = files.resolve(uri);
      if (f && 'code' in f) return f;
      if (f) return { label: label(p.fileData?.mimeType || f.mimeType, f.sha256), tokens: MEDIA_TOKENS };
      if (!isUrl(uri)) return invalidArgument(`Unsupported file uri: ${uri}`);
      const got = urls.get(uri);
      if (got && 'code' in got) return got;
      const mime = p.fileData?.mimeType || (got && !('code' in got) ? got.mime : '') || 'application/octet-stream';
      // Not fetched (fetchUrls false, or a batch line not prefetched): the URL itself stands for the bytes.
      const sha = got && !('code' in got) ? got.sha256 : createHash('sha256').update(uri).digest('hex');
      return { label: label(mime, sha), tokens: MEDIA_TOKENS };
    },
  };
}
