// --context FILE|DIR: the shared prefix of every request (documents, a codebase, a video). A
// folder is read recursively (hidden files and folders skipped, paths sorted); a text file becomes
// a text part headed by its path, any other a media part (PDF, image, audio, video: uploaded once
// through the Files API when the run starts, media/uploads.ts). The digest — SHA-256 over each
// file's path and its bytes' SHA-256 — goes into every record's hash: another context is another
// request (resume's content check, --dedupe and --cache see it). The text is held once (every
// request, or the cache, carries it); tokens are estimated (~4 characters a token, 258 a media
// file) to decide between an explicit cache and a prefix, and for --dry-run.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UsageError } from '../errors.js';
import { MAX_ATTACHMENT_BYTES } from '../media/resolve.js';
import { sniffMime, SNIFF_BYTES } from '../media/mime.js';

/** Text a context may hold: far above any model's input (about 4 MiB of text for a million tokens). */
export const MAX_CONTEXT_TEXT_BYTES = 32 * 1024 ** 2;
/** What a media part counts, as the service counts an image. */
const MEDIA_TOKENS = 258;

export interface ContextFile {
  /** Its path under the context folder (or its name). */
  rel: string;
  path: string;
  size: number;
  sha256: string;
  mimeType: string;
  /** A text file's content. */
  text?: string;
}

export interface LoadedContext {
  path: string;
  files: ContextFile[];
  /** 16 hex digits over every file's path and bytes. */
  digest: string;
  /** Estimated tokens of the whole context. */
  tokens: number;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
}

export async function loadContext(path: string): Promise<LoadedContext> {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UsageError(`Cannot read \`--context ${path}\`: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as NodeJS.ErrnoException).code}`);
  }
  const paths: string[] = [];
  if (st.isDirectory()) walk(path, paths);
  else paths.push(path);
  if (paths.length === 0) throw new UsageError(`\`--context ${path}\` holds no files (hidden ones are skipped)`);
  const files: ContextFile[] = [];
  const digest = createHash('sha256');
  let textBytes = 0;
  let tokens = 0;
  for (const p of paths) {
    const rel = st.isDirectory() ? relative(path, p) : p.split(/[\\/]/).pop()!;
    const size = statSync(p).size;
    if (size > MAX_ATTACHMENT_BYTES) throw new UsageError(`\`--context\`: ${p} is ${size.toLocaleString('en-US')} bytes, over the Files API's 2 GB a file`);
    // Context files are read whole: a text file is held anyway; a binary one is hashed here and uploaded by path.
    let bytes: Buffer;
    try {
      bytes = readFileSync(p);
    } catch (e) {
      throw new UsageError(`\`--context\`: cannot read ${p} (${(e as NodeJS.ErrnoException).code})`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const mimeType = sniffMime(bytes.subarray(0, SNIFF_BYTES), p, bytes.length <= SNIFF_BYTES);
    if (size === 0) continue;
    if (!mimeType) throw new UsageError(`\`--context\`: ${p} is none of the types Gemini takes (image, audio, video, PDF, text)`);
    const f: ContextFile = { rel, path: p, size, sha256, mimeType };
    if (mimeType.startsWith('text/') || mimeType === 'application/json') {
      f.text = bytes.toString('utf8');
      textBytes += size;
      tokens += Math.ceil(f.text.length / 4) + 8;
      if (textBytes > MAX_CONTEXT_TEXT_BYTES) throw new UsageError(`\`--context ${path}\` holds over ${MAX_CONTEXT_TEXT_BYTES / 1024 ** 2} MiB of text: far over any model's input; give a smaller one`);
    } else {
      tokens += MEDIA_TOKENS;
    }
    digest.update(`${rel}\u0000${sha256}\u0000`);
    files.push(f);
  }
  if (files.length === 0) throw new UsageError(`\`--context ${path}\` holds only empty files`);
  return { path, files, digest: digest.digest('hex').slice(0, 16), tokens };
}

/** The explicit-cache minimum of a model (the caching docs: 1,024 tokens for Flash, 4,096 for Pro). */
export function cacheMinimumOf(model: string): number {
  return /pro/i.test(model) ? 4096 : 1024;
}
