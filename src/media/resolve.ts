// --attach: a record's attachment fields -> its media, in the reader before the record is hashed
// (read-inputs.ts `resolve`). A path is relative to the input file's folder (stdin's: the working
// directory); the file is read once, in 64 KiB chunks, into a SHA-256 (what the record's hash
// covers) and its first bytes into the MIME sniffer — never held whole. A file up to the inline
// limit goes in the request as base64; a larger one is uploaded once (media/uploads.ts). An
// http(s) URL is handed to the service as it is, never fetched here. A missing, unreadable,
// empty, oversized or unknown-type file makes the record INVALID_INPUT, naming the field, the
// line and the file; the source and the run go on. A small file is read with synchronous calls
// (five thread-pool round trips cost ~1.3 ms a file here, the sync calls a few µs); a larger one
// in 1 MiB asynchronous reads, so a video never stalls the event loop.

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, resolve as resolvePath } from 'node:path';
import type { InputRecord, MediaRef } from '../records.js';
import { mimeOfUrl, sniffMime, SNIFF_BYTES } from './mime.js';

/** The Files API takes files up to 2 GB. */
export const MAX_ATTACHMENT_BYTES = 2 * 1024 ** 3;
/** Read in chunks of this much; files up to SYNC_MAX with synchronous reads. */
const CHUNK = 1024 * 1024;
const SYNC_MAX = 256 * 1024;
const readAsync = promisify(read);

export interface ResolveOptions {
  /** Files up to this many bytes go inline (base64 in the request); larger ones through the Files API. */
  inlineMax: number;
  /** Larger files are refused. @default MAX_ATTACHMENT_BYTES */
  maxBytes?: number;
  /** Where a source's relative paths start. @default the source's folder; stdin: the working directory */
  baseDir?: (source: string) => string;
}

const defaultBase = (source: string) => (source === 'stdin' ? process.cwd() : dirname(source));

/**
 * --inline-max: as given, else `auto` — 192 MiB / --concurrency, within 256 KiB and 20 MiB. Each
 * record in flight holds at most one body, and its inline attachments together stay under the
 * limit (the largest go through the Files API), so bodies in memory stay under --concurrency ×
 * 4/3 (base64) × the limit: 256 MiB with `auto` up to --concurrency 768. Over 20 MiB an upload
 * sent once beats the same bytes sent with every record and attempt that names them.
 */
export function inlineLimitOf(o: { inlineMax?: number; concurrency?: number }): number {
  if (o.inlineMax !== undefined) return o.inlineMax;
  return Math.min(20 * 1024 ** 2, Math.max(256 * 1024, Math.floor((192 * 1024 ** 2) / (o.concurrency ?? 16))));
}

function describeErrno(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES': case 'EPERM': return 'cannot be read (permission denied)';
    case 'EISDIR': return 'is a directory';
    case 'ELOOP': return 'is a loop of symbolic links';
    default: return `cannot be read (${code ?? 'error'})`;
  }
}

/** A file's SHA-256, size and first bytes, read once in chunks (not read at all when over `max`: sha256 ''). */
async function digestFile(path: string, buf: Buffer, max: number): Promise<{ sha256: string; size: number; head: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (st.size > max) return { sha256: '', size: st.size, head: Buffer.alloc(0) };
    const h = createHash('sha256');
    let head: Buffer | undefined;
    let size = 0;
    const small = st.size <= SYNC_MAX;
    for (;;) {
      const n = small ? readSync(fd, buf, 0, buf.length, size) : (await readAsync(fd, buf, 0, buf.length, size)).bytesRead;
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      if (!head) head = Buffer.from(buf.subarray(0, Math.min(n, SNIFF_BYTES)));
      size += n;
    }
    return { sha256: h.digest('hex'), size, head: head ?? Buffer.alloc(0) };
  } finally {
    closeSync(fd);
  }
}

export function createAttachmentResolver(options: ResolveOptions): (rec: InputRecord) => Promise<InputRecord> {
  const o = { maxBytes: MAX_ATTACHMENT_BYTES, baseDir: defaultBase, ...options };
  const buf = Buffer.allocUnsafe(CHUNK); // one per resolver: a source's records are resolved one at a time

  return async (rec) => {
    if (rec.invalid || !rec.attach) return rec;
    const media: MediaRef[] = [];
    const where = `line ${rec.line} of ${rec.source}`;
    for (const { field, value } of rec.attach) {
      const said = `${where}: field "${field}" (--attach) names ${value}`;
      if (/^https?:\/\//i.test(value)) {
        const mimeType = mimeOfUrl(value);
        media.push({ field, url: value, ...(mimeType ? { mimeType } : {}), via: 'url' });
        continue;
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        return { ...rec, invalid: { message: `${said}, a URL gempipe cannot hand on: give an http(s) URL (public or signed), or a local path` } };
      }
      const path = resolvePath(o.baseDir(rec.source), value);
      let d;
      try {
        d = await digestFile(path, buf, o.maxBytes);
      } catch (e) {
        return { ...rec, invalid: { message: `${said}, which ${describeErrno((e as NodeJS.ErrnoException).code)} (${path})` } };
      }
      if (d.size === 0) return { ...rec, invalid: { message: `${said}, which is empty (${path})` } };
      if (d.size > o.maxBytes) {
        return { ...rec, invalid: { message: `${said}, which is ${d.size.toLocaleString('en-US')} bytes: over the ${o.maxBytes.toLocaleString('en-US')} bytes a file the Files API takes (${path})` } };
      }
      const mimeType = sniffMime(d.head, value, d.size <= SNIFF_BYTES);
      if (!mimeType) {
        return { ...rec, invalid: { message: `${said}, which is none of the types Gemini takes (image, audio, video, PDF, text); it starts ${d.head.subarray(0, 8).toString('hex')} (${path})` } };
      }
      media.push({ field, path, mimeType, sha256: d.sha256, size: d.size, via: d.size <= o.inlineMax ? 'inline' : 'file' });
    }
    // A record's inline attachments together stay under the limit: the largest go up instead.
    let inline = media.reduce((n, m) => n + (m.via === 'inline' ? m.size! : 0), 0);
    while (inline > o.inlineMax) {
      const big = media.filter((m) => m.via === 'inline').reduce((a, b) => (b.size! > a.size! ? b : a));
      big.via = 'file';
      inline -= big.size!;
    }
    const out: InputRecord = { ...rec, media };
    delete out.attach;
    return out;
  };
}
