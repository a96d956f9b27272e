// A REST generateContent body assembled from parts: the job's template (the SDK's own body for
// the command line's config, gemini/client.ts restBaseOf), a request line's fields over it (the
// line wins; the command line fills what it leaves out, generationConfig key by key), and the
// contents. Inline attachments are written into the body's bytes as base64 straight from the
// file, 192 KiB at a time, re-hashed on the way: the body is the only copy held (4/3 of the
// file), and a file changed since the reader hashed it is refused rather than sent.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { MediaInputError } from '../media/uploads.js';

const readAsync = promisify(read);
/** Files up to this size are read with synchronous calls (a thread-pool round trip costs more than the read). */
const SYNC_MAX = 256 * 1024;

export type RestRequest = Record<string, unknown>;

/** The request line's fields over the template's: the line wins, generationConfig merged key by key. */
export function mergeRequest(base: RestRequest, line: RestRequest | undefined): RestRequest {
  if (!line) return { ...base };
  const out: RestRequest = { ...base, ...line };
  const bg = base.generationConfig as RestRequest | undefined;
  const lg = line.generationConfig as RestRequest | undefined;
  if (bg && lg) out.generationConfig = { ...bg, ...lg };
  return out;
}

/** An inline attachment to write into a body: a marker in the JSON stands for its base64. */
export interface InlineFile {
  marker: string;
  path: string;
  size: number;
  sha256: string;
}

/** A marker no user text can hold by chance (a fresh nonce per body). */
export function markerFor(i: number, nonce: string): string {
  return `@@gempipe-inline-${nonce}-${i}@@`;
}

export const newNonce = () => randomBytes(6).toString('hex');

const CHUNK = 3 * 64 * 1024; // a multiple of 3: each chunk's base64 ends whole

/** `json` with each inline file's quoted marker replaced by its bytes' base64, as one Buffer. */
export async function assembleBody(json: string, inline: readonly InlineFile[]): Promise<string | Buffer> {
  if (inline.length === 0) return json;
  const pieces: Array<string | InlineFile> = [];
  let rest = json;
  for (const f of inline) {
    const quoted = JSON.stringify(f.marker);
    const at = rest.indexOf(quoted);
    if (at < 0) throw new Error(`inline marker of ${f.path} not found in the request body`);
    pieces.push(rest.slice(0, at), f);
    rest = rest.slice(at + quoted.length);
  }
  pieces.push(rest);
  let total = 0;
  for (const p of pieces) total += typeof p === 'string' ? Buffer.byteLength(p) : 2 + Math.ceil(p.size / 3) * 4;
  const out = Buffer.allocUnsafe(total);
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(3, ...inline.map((f) => f.size))));
  let off = 0;
  for (const p of pieces) {
    if (typeof p === 'string') {
      off += out.write(p, off, 'utf8');
      continue;
    }
    out[off++] = 0x22; // "
    off = await writeBase64(p, out, off, chunk);
    out[off++] = 0x22;
  }
  return out;
}

async function writeBase64(f: InlineFile, out: Buffer, off: number, chunk: Buffer): Promise<number> {
  const changed = () => new MediaInputError({ status: 'INVALID_INPUT', code: 0, message: `${f.path} changed since this run read it (its SHA-256 is no longer ${f.sha256.slice(0, 16)}…); rerun to read it again` });
  let fd: number;
  try {
    fd = openSync(f.path, 'r');
  } catch (e) {
    throw new MediaInputError({ status: 'INVALID_INPUT', code: 0, message: `${f.path} can no longer be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
  }
  const small = f.size <= SYNC_MAX;
  const readAt = async (into: Buffer, at: number, n: number, pos: number) => (small ? readSync(fd, into, at, n, pos) : (await readAsync(fd, into, at, n, pos)).bytesRead);
  try {
    const h = createHash('sha256');
    let done = 0;
    while (done < f.size) {
      // Fill the chunk (a read may return less), so that only the file's last chunk is not a multiple of 3.
      const want = Math.min(chunk.length, f.size - done);
      let got = 0;
      while (got < want) {
        const n = await readAt(chunk, got, want - got, done + got);
        if (n === 0) throw changed(); // shorter than it was
        got += n;
      }
      const part = chunk.subarray(0, got);
      h.update(part);
      off += out.write(part.toString('base64'), off, 'latin1');
      done += got;
    }
    if ((await readAt(chunk, 0, 1, done)) !== 0 || h.digest('hex') !== f.sha256) throw changed();
    return off;
  } finally {
    closeSync(fd);
  }
}
