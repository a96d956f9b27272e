// The upload registry on a fake Files API: one upload per SHA-256 however many records ask at
// once, at most `concurrency` at a time; the journal read back by the next run (the upload
// reused after one look); an `uploading` line a SIGKILL left resolved by the service's own list
// (adopted, not uploaded again); a file gone or about to expire uploaded again; bytes that
// changed before the upload refused.

import { readFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FilesApi, RemoteFile } from '../../src/gemini/media-client.js';
import { displayNameOf, MediaInputError, openUploads } from '../../src/media/uploads.js';
import { UPLOADS_FILE } from '../../src/output/layout.js';
import { defer, flush, sandbox, until, type Deferred } from '../helpers/util.js';

const box = sandbox();
const H = (c: string) => c.repeat(64);
const file = (c: string) => ({ path: `/img/${c}.png`, sha256: H(c), size: 10, mimeType: 'image/png' });

function fakeFiles(o: { hold?: boolean; shaOf?: (sha: string) => string; state?: string } = {}) {
  const server = new Map<string, RemoteFile>();
  const uploads: string[] = [];
  const held: Array<Deferred<void>> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let n = 0;
  const api: FilesApi = {
    async upload(path, meta) {
      uploads.push(path);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (o.hold) {
          const d = defer();
          held.push(d);
          await d.promise;
        }
        const sha = meta.displayName.replace('gempipe-sha256-', '');
        const f: RemoteFile = { name: `files/f${n++}`, uri: `https://service/v1beta/files/f${n - 1}`, displayName: meta.displayName, mimeType: meta.mimeType, sha256: o.shaOf ? o.shaOf(sha) : sha, state: o.state ?? 'ACTIVE', expiresAt: Date.now() + 48 * 3_600_000 };
        server.set(f.name, f);
        return f;
      } finally {
        inFlight--;
      }
    },
    get: vi.fn(async (name: string) => server.get(name)),
    async *list() {
      yield* [...server.values()].reverse();
    },
    delete: vi.fn(async (name: string) => void server.delete(name)),
  };
  return { api, server, uploads, held, maxInFlight: () => maxInFlight };
}

const journal = () => readFileSync(join(box.dir, UPLOADS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sha256: string; state: string; name?: string });

afterEach(() => {
  vi.useRealTimers();
});

describe('openUploads', () => {
  it('uploads each SHA-256 once however many records ask at once, at most `concurrency` at a time, journaling before and after', async () => {
    const f = fakeFiles({ hold: true });
    const u = await openUploads({ dir: box.dir, files: f.api, say: () => {}, concurrency: 2 });
    const asks = ['a', 'a', 'b', 'c', 'a', 'b'].map((c) => u.ensure(file(c)));
    // Each upload is sent only once its `uploading` line is on disk.
    await until(() => f.held.length === 2, { what: 'two uploads held' });
    await flush();
    // The two journal appends run concurrently (off the event loop): either may land first.
    expect([...f.uploads].sort()).toEqual(['/img/a.png', '/img/b.png']); // c waits for a slot
    expect(journal().map((l) => `${l.sha256[0]}:${l.state}`).sort()).toEqual(['a:uploading', 'b:uploading']);
    f.held.splice(0).forEach((d) => d.resolve());
    await until(() => f.held.length === 1, { what: 'the third upload held' });
    f.held.splice(0).forEach((d) => d.resolve());
    const got = await Promise.all(asks);
    expect([...f.uploads].sort()).toEqual(['/img/a.png', '/img/b.png', '/img/c.png']);
    expect(f.maxInFlight()).toBe(2);
    expect(new Set(got.map((g) => g.uri)).size).toBe(3);
    expect(got[0]).toEqual(got[1]);
    expect(journal().filter((l) => l.state === 'active').map((l) => l.sha256[0]).sort()).toEqual(['a', 'b', 'c']);
    expect(u.counts).toMatchObject({ uploaded: 3 });
  });

  it('a later run reuses what the journal names after one look at the service; a file gone (or about to expire) goes up again', async () => {
    const f = fakeFiles();
    const first = await openUploads({ dir: box.dir, files: f.api, say: () => {} });
    const a = await first.ensure(file('a'));
    await first.ensure(file('b'));
    const later = await openUploads({ dir: box.dir, files: f.api, say: () => {} });
    expect(await later.ensure(file('a'))).toEqual(a);
    expect(await later.ensure(file('a'))).toEqual(a);
    expect(f.api.get).toHaveBeenCalledTimes(1);
    expect(f.uploads).toHaveLength(2);
    // Deleted on the service: the look finds nothing, it goes up again.
    f.server.delete([...f.server.values()].find((x) => x.displayName === displayNameOf(H('b')))!.name);
    await later.ensure(file('b'));
    expect(f.uploads).toEqual(['/img/a.png', '/img/b.png', '/img/b.png']);
    // The service said a request's file is gone: the next ask uploads it again.
    later.forget(a.uri);
    expect((await later.ensure(file('a'))).uri).not.toBe(a.uri);
    expect(f.uploads).toHaveLength(4);
    // 47 h 50 min later: too close to the 48 h expiry to send with a request.
    const soon = await openUploads({ dir: box.dir, files: f.api, say: () => {}, now: () => Date.now() + (47 * 60 + 50) * 60_000 });
    await soon.ensure(file('b'));
    expect(f.uploads).toHaveLength(5);
  });

  it('an `uploading` line a SIGKILL left: the file found on the service is taken (no second upload); one not there is uploaded', async () => {
    const f = fakeFiles();
    const said: string[] = [];
    // The service got a's bytes, then the process died before writing `active`; b never arrived.
    await f.api.upload('/img/a.png', { mimeType: 'image/png', displayName: displayNameOf(H('a')) });
    for (const c of ['a', 'b']) appendFileSync(join(box.dir, UPLOADS_FILE), JSON.stringify({ sha256: H(c), state: 'uploading', at: 'x' }) + '\n');
    appendFileSync(join(box.dir, UPLOADS_FILE), '{"sha256":"torn'); // a line cut by the kill
    f.uploads.length = 0;
    const u = await openUploads({ dir: box.dir, files: f.api, say: (l) => said.push(l) });
    await u.ensure(file('a'));
    await u.ensure(file('b'));
    expect(f.uploads).toEqual(['/img/b.png']);
    expect(u.counts).toMatchObject({ adopted: 1, uploaded: 1 });
    expect(said.join('\n')).toContain('uploaded before a stop; taking it rather than uploading again');
    expect(journal().every((l) => l.sha256.length === 64)).toBe(true);
  });

  it('bytes that changed between the read and the upload are refused and the upload deleted; a PROCESSING file is waited for', async () => {
    const changed = fakeFiles({ shaOf: () => H('f') });
    const u = await openUploads({ dir: box.dir, files: changed.api, say: () => {} });
    await expect(u.ensure(file('a'))).rejects.toThrow(MediaInputError);
    await expect(u.ensure(file('a'))).rejects.toThrow(/changed while this run read it/);
    expect(changed.server.size).toBe(0);

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const video = fakeFiles({ state: 'PROCESSING' });
    const v = await openUploads({ files: video.api, say: () => {} });
    let done = false;
    const p = v.ensure(file('v')).then((r) => ((done = true), r));
    await vi.advanceTimersByTimeAsync(2000);
    expect(done).toBe(false);
    for (const x of video.server.values()) x.state = 'ACTIVE';
    await vi.advanceTimersByTimeAsync(5000);
    expect((await p).uri).toMatch(/files\/f0$/);
  });
});
