// Attachments over the inline limit (and --context's binary files) go through the Files API once,
// keyed by their SHA-256: every record, and every later run into the same output directory, that
// names the same bytes reuses the upload until the service drops it (48 hours, or a delete: then
// it goes up again). The journal, OUT/.gempipe-uploads.jsonl, is appended and fsynced a line at a
// time: `uploading` before the bytes are sent, `active` with the file's name once the service has
// them. A run killed between the two leaves `uploading`: the next run looks for the file on the
// service by its display name (gempipe-sha256-<hex>) and takes it when its SHA-256 matches, so a
// SIGKILL neither loses track of an upload nor makes a second one. Records naming the same bytes
// at once share one upload; at most `concurrency` uploads run at a time (the SDK reads each from
// its path in 8 MiB chunks).

import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { classifyError } from '../gemini/retry-policy.js';
import type { FilesApi, RemoteFile } from '../gemini/media-client.js';
import { appendSyncedAsync, writeFileSynced } from '../output/atomic.js';
import { tmpNameOf, UPLOADS_FILE } from '../output/layout.js';
import { cutTornTail, readJsonl } from '../output/record-files.js';
import type { RecordError } from '../records.js';
import { sleep } from '../util/sleep.js';

interface Entry {
  sha256: string;
  state: 'uploading' | 'active' | 'gone';
  name?: string;
  uri?: string;
  mimeType?: string;
  size?: number;
  /** ms since the epoch */
  expiresAt?: number;
  at: string;
}

/** A file the record cannot be asked with: the record fails (INVALID_INPUT, or the service's status), the run goes on. */
export class MediaInputError extends Error {
  constructor(readonly error: RecordError) {
    super(error.message);
  }
}

export interface UploadFile {
  path: string;
  sha256: string;
  size: number;
  mimeType: string;
}

export interface Uploads {
  /** The file's URI on the service: an upload still there, one found after a stop, or a new one. */
  ensure(f: UploadFile, signal?: AbortSignal): Promise<{ uri: string; mimeType: string }>;
  /** The service said it no longer has this file: the next ensure() uploads it again. */
  forget(uri: string): void;
  /** This run: uploads made, earlier ones reused, ones found on the service after a stop. */
  readonly counts: { uploaded: number; reused: number; adopted: number };
}

export const displayNameOf = (sha256: string) => `gempipe-sha256-${sha256}`;

/** A file that expires within this long is uploaded again rather than used. */
const MARGIN_MS = 15 * 60_000;

export async function openUploads(o: { dir?: string; files: FilesApi; say: (line: string) => void; concurrency?: number; now?: () => number }): Promise<Uploads> {
  const now = o.now ?? Date.now;
  const path = o.dir !== undefined ? join(o.dir, UPLOADS_FILE) : undefined;
  const entries = new Map<string, Entry>();
  let lines = 0;
  if (path) {
    try {
      await cutTornTail(path);
      for await (const { value } of readJsonl<Entry>(path)) {
        entries.set(value.sha256, value);
        lines++;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // Rewritten whole (temporary name, fsync, rename) once it holds mostly superseded lines.
    if (lines > 2 * entries.size + 1000) {
      const tmp = join(o.dir!, tmpNameOf(UPLOADS_FILE));
      writeFileSynced(tmp, [...entries.values()].map((e) => JSON.stringify(e) + '\n').join(''));
      renameSync(tmp, path);
    }
  }
  const byUri = new Map<string, string>();
  for (const e of entries.values()) if (e.uri) byUri.set(e.uri, e.sha256);
  const verified = new Set<string>(); // seen on the service (or uploaded) this run
  const pending = new Map<string, Promise<{ uri: string; mimeType: string }>>();
  const counts = { uploaded: 0, reused: 0, adopted: 0 };
  let listing: Promise<Map<string, RemoteFile>> | undefined;
  let slots = o.concurrency ?? 4;
  const waiting: Array<() => void> = [];

  /** A journal line, on disk (appended, fsynced) before the promise resolves; the map knows it at once. */
  async function record(e: Omit<Entry, 'at'>): Promise<Entry> {
    const line: Entry = { ...e, at: new Date(now()).toISOString() };
    entries.set(e.sha256, line);
    if (line.uri) byUri.set(line.uri, line.sha256);
    if (path) await appendSyncedAsync(path, JSON.stringify(line) + '\n');
    return line;
  }

  /** The service's files gempipe uploaded, by SHA-256 (newest first wins): listed once, only after a stop left `uploading` lines. */
  function ours(): Promise<Map<string, RemoteFile>> {
    return (listing ??= (async () => {
      const found = new Map<string, RemoteFile>();
      for await (const f of o.files.list()) {
        const m = /^gempipe-sha256-([0-9a-f]{64})$/.exec(f.displayName ?? '');
        if (m && !found.has(m[1]) && f.state !== 'FAILED') found.set(m[1], f);
      }
      return found;
    })());
  }

  async function untilActive(f: RemoteFile, signal?: AbortSignal): Promise<RemoteFile | undefined> {
    let wait = 500;
    while (f.state === 'PROCESSING') {
      await sleep(wait, signal);
      wait = Math.min(10_000, Math.round(wait * 1.5));
      const again = await o.files.get(f.name);
      if (!again) return undefined;
      f = again;
    }
    if (f.state === 'FAILED') throw new MediaInputError({ status: 'INVALID_INPUT', code: 0, message: `the Files API could not process ${f.name}${f.error ? `: ${f.error}` : ''}` });
    return f;
  }

  async function slot(signal?: AbortSignal): Promise<() => void> {
    while (slots === 0) {
      await new Promise<void>((res) => waiting.push(res));
      signal?.throwIfAborted();
    }
    slots--;
    return () => {
      slots++;
      waiting.shift()?.();
    };
  }

  async function upload(f: UploadFile, signal?: AbortSignal): Promise<RemoteFile> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await o.files.upload(f.path, { mimeType: f.mimeType, displayName: displayNameOf(f.sha256) });
      } catch (e) {
        const c = classifyError(e);
        if (c.kind === 'fatal') throw e;
        if (c.kind === 'permanent' || attempt >= 4) {
          throw new MediaInputError({ status: c.kind === 'permanent' ? c.status : 'UNAVAILABLE', code: c.code, message: `the Files API did not take ${f.path}: ${c.message}` });
        }
        await sleep(1000 * 2 ** (attempt - 1), signal);
      }
    }
  }

  async function ensureOnce(f: UploadFile, signal?: AbortSignal): Promise<{ uri: string; mimeType: string }> {
    let e = entries.get(f.sha256);
    if (e?.state === 'uploading') {
      // A stop came between sending the bytes and writing down the answer: is it there?
      const found = (await ours()).get(f.sha256);
      if (found) {
        e = await record({ sha256: f.sha256, state: 'active', name: found.name, uri: found.uri, mimeType: found.mimeType ?? f.mimeType, size: f.size, expiresAt: found.expiresAt });
        counts.adopted++;
        if (counts.adopted === 1) o.say(`gempipe: found ${found.name} on the Files API, uploaded before a stop; taking it rather than uploading again`);
      }
    }
    if (e?.state === 'active' && e.uri && e.name) {
      if (e.expiresAt !== undefined && e.expiresAt - now() < MARGIN_MS) {
        await record({ sha256: f.sha256, state: 'gone', name: e.name });
      } else if (verified.has(f.sha256)) {
        counts.reused++;
        return { uri: e.uri, mimeType: e.mimeType ?? f.mimeType };
      } else {
        const live = await o.files.get(e.name);
        const usable = live && live.state !== 'FAILED' && (!live.sha256 || live.sha256 === f.sha256) ? await untilActive(live, signal) : undefined;
        if (usable) {
          verified.add(f.sha256);
          counts.reused++;
          return { uri: e.uri, mimeType: e.mimeType ?? f.mimeType };
        }
        await record({ sha256: f.sha256, state: 'gone', name: e.name });
      }
    }
    const release = await slot(signal);
    try {
      await record({ sha256: f.sha256, state: 'uploading', mimeType: f.mimeType, size: f.size });
      let up: RemoteFile;
      try {
        up = await upload(f, signal);
      } catch (err) {
        await record({ sha256: f.sha256, state: 'gone' });
        throw err;
      }
      if (up.sha256 && up.sha256 !== f.sha256) {
        // The file changed between reading it (the record's hash) and uploading it.
        await o.files.delete(up.name).catch(() => {});
        await record({ sha256: f.sha256, state: 'gone', name: up.name });
        throw new MediaInputError({ status: 'INVALID_INPUT', code: 0, message: `${f.path} changed while this run read it (its SHA-256 is no longer ${f.sha256.slice(0, 16)}…); rerun to read it again` });
      }
      const active = await untilActive(up, signal);
      if (!active) throw new MediaInputError({ status: 'UNAVAILABLE', code: 0, message: `${up.name} (${f.path}) vanished from the Files API while it was processed` });
      await record({ sha256: f.sha256, state: 'active', name: active.name, uri: active.uri, mimeType: active.mimeType ?? f.mimeType, size: f.size, expiresAt: active.expiresAt });
      verified.add(f.sha256);
      counts.uploaded++;
      return { uri: active.uri, mimeType: active.mimeType ?? f.mimeType };
    } finally {
      release();
    }
  }

  return {
    counts,
    ensure(f, signal) {
      let p = pending.get(f.sha256);
      if (!p) {
        p = ensureOnce(f, signal).finally(() => pending.delete(f.sha256));
        pending.set(f.sha256, p);
      }
      return p;
    },
    forget(uri) {
      const bare = uri.replace(/^.*\/(files\/[^/]+)$/, '$1');
      const sha = byUri.get(uri) ?? [...entries.values()].find((e) => e.name === bare)?.sha256;
      if (sha === undefined) return;
      verified.delete(sha);
      const e = entries.get(sha);
      if (e?.state === 'active') void record({ sha256: sha, state: 'gone', name: e.name }).catch(() => {});
    },
  };
}
