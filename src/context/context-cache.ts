// --context in a run: its binary files uploaded once (media/uploads.ts), the context made the first
// user turn, and — above the model's minimum — cached explicitly once (caches.create, with the
// system instruction; made when the first record needs it, so a rerun with nothing left to do
// pays for no cache), its TTL renewed while the run lasts, deleted at the end. Below the minimum,
// or with --context-cache off, the turn goes first in every request: a repeated prefix the service
// may cache implicitly. The journal, OUT/.gempipe-context.json (rewritten atomically), says
// `creating` before the create is sent and `live` with the cache's name after, so a run killed at
// any instant leaves a billed cache that the next run finds: the same context, model and system
// instruction adopt it (saying so); anything else deletes it (saying so).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyError } from '../gemini/retry-policy.js';
import type { CacheInfo, CachesApi } from '../gemini/media-client.js';
import type { Uploads } from '../media/uploads.js';
import { writeJsonAtomic } from '../output/atomic.js';
import { CONTEXT_FILE } from '../output/layout.js';
import type { ContextUse } from '../request/builder.js';
import type { RunStats } from '../stats.js';
import { cacheMinimumOf, type LoadedContext } from './context.js';

interface ContextJournal {
  state: 'creating' | 'live' | 'deleted';
  /** What the cache holds: the context's digest, the model, the system instruction's hash. */
  key: string;
  displayName: string;
  name?: string;
  tokens?: number;
  createdAt: string;
  expiresAt?: string;
}

export interface ContextSession extends ContextUse {
  /** `explicit`: requests name the cache; `prefix`: they carry the context. */
  readonly mode: 'explicit' | 'prefix';
  /** Deletes the cache (if any) and writes it down; what it cost goes into the stats. */
  close(): Promise<void>;
}

const journalPath = (dir: string) => join(dir, CONTEXT_FILE);

function readJournal(dir: string | undefined): ContextJournal | undefined {
  if (dir === undefined || !existsSync(journalPath(dir))) return undefined;
  return JSON.parse(readFileSync(journalPath(dir), 'utf8')) as ContextJournal;
}

/** A cache an earlier run left (its journal not `deleted`): found by name, or by display name after a stop mid-create. */
async function leftover(j: ContextJournal, caches: CachesApi): Promise<CacheInfo | undefined> {
  if (j.state === 'live' && j.name) return caches.get(j.name);
  if (j.state === 'creating') for await (const c of caches.list()) if (c.displayName === j.displayName) return c;
  return undefined;
}

/** A run without --context into a directory whose journal holds a live cache: it is deleted, saying so. */
export async function dropLeftoverCache(dir: string, caches: CachesApi, say: (line: string) => void): Promise<void> {
  const j = readJournal(dir);
  if (!j || j.state === 'deleted') return;
  const c = await leftover(j, caches);
  if (c) {
    await caches.delete(c.name);
    say(`gempipe: deleted context cache ${c.name}, left by an earlier run (killed before it could): this run has no --context`);
  }
  writeJsonAtomic(journalPath(dir), { ...j, state: 'deleted' });
}

export async function startContext(o: {
  ctx: LoadedContext;
  model: string;
  system?: string;
  /** The output directory (the journal); undefined with `-o -`. */
  dir?: string;
  caches?: CachesApi;
  uploads?: () => Promise<Uploads>;
  /** `auto`: cache explicitly above the minimum; `off`: prefix only. */
  cache: 'auto' | 'off';
  ttlSec: number;
  say: (line: string) => void;
  stats?: RunStats;
  now?: () => number;
}): Promise<ContextSession> {
  const now = o.now ?? Date.now;
  const { ctx, caches } = o;
  const parts: unknown[] = [];
  for (const f of ctx.files) {
    if (f.text !== undefined) parts.push({ text: `--- ${f.rel} ---\n${f.text}` });
    else {
      if (!o.uploads) throw new Error(`--context: ${f.path} must be uploaded and this run has no Files API`);
      const up = await (await o.uploads()).ensure(f);
      parts.push({ fileData: { mimeType: up.mimeType, fileUri: up.uri } });
    }
  }
  const turn = JSON.stringify({ role: 'user', parts });
  const key = `${ctx.digest}:${o.model}:${createHash('sha256').update(o.system ?? '').digest('hex').slice(0, 16)}`;
  const write = (j: ContextJournal) => {
    if (o.dir !== undefined) writeJsonAtomic(journalPath(o.dir), j);
  };
  let journal = readJournal(o.dir);
  let cache: { name: string; tokens: number; since: number } | undefined;
  const explicit = o.cache === 'auto' && caches !== undefined;

  if (journal && journal.state !== 'deleted' && caches) {
    const c = await leftover(journal, caches);
    if (c && explicit && journal.key === key && (await caches.update(c.name, o.ttlSec))) {
      cache = { name: c.name, tokens: c.tokens ?? journal.tokens ?? ctx.tokens, since: now() };
      journal = { ...journal, state: 'live', name: c.name, tokens: cache.tokens };
      write(journal);
      o.say(`gempipe: adopted context cache ${c.name} (${cache.tokens.toLocaleString('en-US')} tokens), left by an earlier run that was stopped before deleting it`);
    } else {
      if (c) {
        await caches.delete(c.name);
        o.say(`gempipe: deleted context cache ${c.name}, left by an earlier run that was stopped before deleting it (${journal.key === key ? '--context-cache off' : 'its context, model or system instruction differ from this run\'s'})`);
      }
      write({ ...journal, state: 'deleted' });
    }
  }

  async function create(): Promise<void> {
    const displayName = `gempipe-context-${ctx.digest}-${now().toString(36)}`;
    const j: ContextJournal = { state: 'creating', key, displayName, createdAt: new Date(now()).toISOString() };
    write(j);
    try {
      const c = await caches!.create({ model: o.model, contents: [JSON.parse(turn)], ...(o.system ? { systemInstruction: { parts: [{ text: o.system }] } } : {}), ttlSec: o.ttlSec, displayName });
      cache = { name: c.name, tokens: c.tokens ?? ctx.tokens, since: now() };
      write({ ...j, state: 'live', name: c.name, tokens: cache.tokens, ...(c.expiresAt ? { expiresAt: new Date(c.expiresAt).toISOString() } : {}) });
      if (o.stats) o.stats.cacheCreatedTokens += cache.tokens;
      o.say(`gempipe: --context cached as ${c.name} (${cache.tokens.toLocaleString('en-US')} tokens, TTL ${o.ttlSec} s renewed while the run lasts; deleted at the end)`);
    } catch (e) {
      write({ ...j, state: 'deleted' });
      const c = classifyError(e);
      if (c.kind === 'fatal') throw e;
      const small = /too small/i.test(c.message);
      o.say(`gempipe: --context is sent first in every request (implicit caching may apply): ${small ? `it is under ${o.model}'s minimum for an explicit cache` : `the cache could not be made (HTTP ${c.code} ${c.status}: ${c.message.slice(0, 200)})`}`);
    }
  }

  let creating: Promise<void> | undefined = cache || !explicit ? Promise.resolve() : undefined;
  if (!cache && explicit && ctx.tokens < cacheMinimumOf(o.model)) {
    creating = Promise.resolve();
    o.say(`gempipe: --context (~${ctx.tokens.toLocaleString('en-US')} tokens) is under ${o.model}'s ${cacheMinimumOf(o.model).toLocaleString('en-US')}-token minimum for an explicit cache: it is sent first in every request, where implicit caching may apply`);
  }

  // The TTL renewed a third of the way through it: a stop between renewals leaves at most one TTL billed.
  let renewing: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (!cache || renewing) return;
    const name = cache.name;
    renewing = caches!.update(name, o.ttlSec).then(async (c) => {
      if (!c && cache?.name === name) {
        settle();
        await (creating = create().catch(() => {})); // a fatal error surfaces on the next request instead
      }
    }, () => {}).finally(() => (renewing = undefined));
  }, Math.max(1000, (o.ttlSec * 1000) / 3));
  timer.unref();

  function settle(): void {
    if (!cache) return;
    if (o.stats) o.stats.cacheTokenHours += (cache.tokens * (now() - cache.since)) / 3_600_000;
    cache = undefined;
  }

  return {
    get mode() {
      return cache ? 'explicit' as const : 'prefix' as const;
    },
    turnJson: () => turn,
    ready: () => (creating ??= create()),
    cacheName: () => cache?.name,
    cacheGone(name) {
      if (cache?.name !== name) return;
      o.say(`gempipe: context cache ${name} is gone (expired or deleted elsewhere): requests carry the context until it is made again`);
      settle();
      creating = create().catch(() => {});
    },
    async close() {
      clearInterval(timer);
      await renewing;
      await creating?.catch(() => {});
      if (!cache) return;
      const { name } = cache;
      settle();
      try {
        await caches!.delete(name);
        o.say(`gempipe: deleted context cache ${name}`);
        const j = readJournal(o.dir);
        if (j) write({ ...j, state: 'deleted' });
      } catch (e) {
        o.say(`gempipe: warning: could not delete context cache ${name} (${(e as Error).message.slice(0, 200)}); the next run into this directory deletes or adopts it, or it expires within ${o.ttlSec} s`);
      }
    },
  };
}
