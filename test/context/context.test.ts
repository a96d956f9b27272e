// --context: a folder read recursively (hidden files skipped, paths sorted), text and media
// parts, the digest every record's hash carries; and the explicit cache's life on a fake
// cachedContents API — made when the first record needs it, renewed on its TTL's clock, made
// again when gone, deleted at the end; a leftover adopted or deleted, found by its display name
// when the kill came mid-create.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startContext } from '../../src/context/context-cache.js';
import { cacheMinimumOf, loadContext } from '../../src/context/context.js';
import type { CacheInfo, CachesApi } from '../../src/gemini/media-client.js';
import { CONTEXT_FILE } from '../../src/output/layout.js';
import { createStats } from '../../src/stats.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
afterEach(() => vi.useRealTimers());

function fakeCaches() {
  const live = new Map<string, CacheInfo>();
  let n = 0;
  const calls: string[] = [];
  const api: CachesApi = {
    async create(o) {
      calls.push('create');
      const c = { name: `cachedContents/c${n++}`, displayName: o.displayName, model: o.model, tokens: 2000, expiresAt: Date.now() + o.ttlSec * 1000 };
      live.set(c.name, c);
      return c;
    },
    async get(name) {
      return live.get(name);
    },
    async update(name, ttlSec) {
      calls.push('update');
      const c = live.get(name);
      if (c) c.expiresAt = Date.now() + ttlSec * 1000;
      return c;
    },
    async delete(name) {
      calls.push('delete');
      live.delete(name);
    },
    async *list() {
      yield* live.values();
    },
  };
  return { api, live, calls };
}

async function manual(dir = box.dir): Promise<string> {
  const p = join(dir, 'ctx');
  mkdirSync(join(p, 'chapters'), { recursive: true });
  mkdirSync(join(p, '.git'), { recursive: true });
  writeFileSync(join(p, 'chapters', 'b.md'), '# Valves\n' + 'Check them weekly. '.repeat(400));
  writeFileSync(join(p, 'a.txt'), 'Introduction.');
  writeFileSync(join(p, '.git', 'HEAD'), 'ref');
  writeFileSync(join(p, '.hidden.txt'), 'secret');
  return p;
}

describe('loadContext', () => {
  it('reads a folder recursively, sorted, hidden entries skipped; the digest follows paths and bytes', async () => {
    const p = await manual();
    const c = await loadContext(p);
    expect(c.files.map((f) => [f.rel, f.mimeType])).toEqual([['a.txt', 'text/plain'], ['chapters/b.md', 'text/md']]);
    expect(c.tokens).toBeGreaterThan(1024);
    writeFileSync(join(p, 'a.txt'), 'Introduction!');
    const changed = await loadContext(p);
    expect(changed.digest).not.toBe(c.digest);
    expect((await loadContext(p)).digest).toBe(changed.digest);
    writeFileSync(join(p, 'x.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    await expect(loadContext(p)).rejects.toThrow(/`--context`: .*x\.bin is none of the types Gemini takes/);
    await expect(loadContext(join(box.dir, 'none'))).rejects.toThrow('Cannot read `--context');
    expect([cacheMinimumOf('gemini-2.5-flash'), cacheMinimumOf('gemini-2.5-pro')]).toEqual([1024, 4096]);
  });
});

describe('startContext', () => {
  it('makes the cache when the first record needs it, renews it every third of its TTL, makes it again when gone, deletes it at the end', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const f = fakeCaches();
    const stats = createStats();
    const said: string[] = [];
    const ctx = await loadContext(await manual());
    const s = await startContext({ ctx, model: 'gemini-2.5-flash', system: 'Be brief.', dir: box.dir, caches: f.api, cache: 'auto', ttlSec: 300, say: (l) => said.push(l), stats });
    expect(f.calls).toEqual([]); // nothing to ask yet: nothing billed
    expect(s.cacheName()).toBeUndefined();
    await s.ready!();
    expect(s.cacheName()).toBe('cachedContents/c0');
    expect(JSON.parse(readFileSync(join(box.dir, CONTEXT_FILE), 'utf8'))).toMatchObject({ state: 'live', name: 'cachedContents/c0', tokens: 2000 });
    expect(stats.cacheCreatedTokens).toBe(2000);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(f.calls).toEqual(['create', 'update']);
    f.live.clear(); // expired or deleted elsewhere: the next renewal finds it gone and makes it again
    await vi.advanceTimersByTimeAsync(100_000);
    expect(f.calls).toEqual(['create', 'update', 'update', 'create']);
    expect(s.cacheName()).toBe('cachedContents/c1');
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    await s.close();
    expect(f.calls.at(-1)).toBe('delete');
    expect(f.live.size).toBe(0);
    expect(JSON.parse(readFileSync(join(box.dir, CONTEXT_FILE), 'utf8')).state).toBe('deleted');
    // Storage: 2,000 tokens for 200 s (c0, found gone at the second renewal), then 30 min (c1).
    expect(stats.cacheTokenHours).toBeCloseTo((2000 * (200 + 1800)) / 3600, 6);
    expect(said.join('\n')).toContain('deleted context cache cachedContents/c1');
  });

  it('a kill mid-create: the leftover is found by its display name and adopted for the same context, deleted for another', async () => {
    const f = fakeCaches();
    const ctx = await loadContext(await manual());
    const first = await startContext({ ctx, model: 'gemini-2.5-flash', dir: box.dir, caches: f.api, cache: 'auto', ttlSec: 300, say: () => {} });
    await first.ready!();
    // As if killed after the create reached the service but before `live` was written.
    const j = JSON.parse(readFileSync(join(box.dir, CONTEXT_FILE), 'utf8'));
    writeFileSync(join(box.dir, CONTEXT_FILE), JSON.stringify({ ...j, state: 'creating', name: undefined }));
    const said: string[] = [];
    const again = await startContext({ ctx, model: 'gemini-2.5-flash', dir: box.dir, caches: f.api, cache: 'auto', ttlSec: 300, say: (l) => said.push(l) });
    await again.ready!();
    expect(again.cacheName()).toBe('cachedContents/c0');
    expect(f.calls.filter((c) => c === 'create')).toHaveLength(1);
    expect(said.join('\n')).toContain('adopted context cache cachedContents/c0');
    // Another model: the leftover is not this run's cache.
    const other = await startContext({ ctx, model: 'gemini-2.5-pro', dir: box.dir, caches: f.api, cache: 'auto', ttlSec: 300, say: (l) => said.push(l) });
    expect(said.join('\n')).toMatch(/deleted context cache cachedContents\/c0, left by an earlier run .*its context, model or system instruction differ/);
    // ~1,900 tokens are under Pro's 4,096-token minimum: no cache for it, the context is a prefix.
    expect(said.at(-1)).toMatch(/under gemini-2\.5-pro's 4,096-token minimum/);
    await other.ready!();
    expect(f.live.size).toBe(0);
    expect(other.cacheName()).toBeUndefined();
    await other.close();
    await first.close(); // its cache is long gone: nothing to do
    expect(f.live.size).toBe(0);
  });
});
