// Context caching (SPEC §16), explicit and implicit, as the service does it:
//
//   POST   /v1beta/cachedContents            {model, contents, systemInstruction, ttl | expireTime, displayName}
//   GET    /v1beta/cachedContents?pageSize&pageToken      newest first
//   GET    /v1beta/cachedContents/ID         the CachedContent (metadata, never the contents)
//   PATCH  /v1beta/cachedContents/ID         {ttl | expireTime}: only the expiry can change
//   DELETE /v1beta/cachedContents/ID         {}
//
// An entry holds at least the model's minimum (1,024 tokens for Flash, 4,096 for Pro: "Cached
// content is too small" below it), lives its TTL (default one hour, divided by `timeScale`), and
// is the service's 403 once expired or deleted. A generateContent naming it gets its contents
// before the request's own and its system instruction (a request may not set its own, nor tools),
// with usageMetadata.cachedContentTokenCount.
//
// Implicit caching (2.5+ models): the service bills a repeated prefix at the cached rate on its own.
// The emulator's rule, deterministic: a request's text (system instruction, then each turn) is cut
// into blocks of 1,024 tokens (4,096 characters); the cached tokens are the blocks of the longest
// prefix an earlier request to the same model already sent, counted when at least the model's
// minimum. Nothing expires (the real cache keeps minutes); prefixes are remembered up to 100,000.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { promptTokensOf, type MediaReader } from './answer.js';
import { invalidArgument, invalidJson, permissionDenied, type GoogleError } from './google-errors.js';
import type { ModelInfo } from './models.js';
import { pageOf } from './paging.js';
import { normalize, systemOf, turnsOf, type Content, type GenerateRequest } from './request.js';

export interface CachesOptions {
  /** Divides every TTL. @default 1 */
  timeScale?: number;
  /** Implicit caching of repeated prefixes. @default true */
  implicit?: boolean;
}

interface Entry {
  name: string;
  seq: number;
  model: string;
  displayName?: string;
  contents: Content[];
  systemInstruction?: Content;
  tokens: number;
  created: number;
  updated: number;
  expiresAt: number;
}

export interface CachesService {
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): boolean;
  /** The request with the cache it names put in front, and the cached tokens; or the service's error. */
  apply(r: GenerateRequest, model: string): { request: GenerateRequest; cachedTokens: number } | GoogleError;
  /** Implicit cache hit for this request (tokens), remembering its prefixes for later ones. */
  implicitHit(r: GenerateRequest, m: ModelInfo): number;
  readonly stats: { created: number; deleted: number; implicitHits: number };
}

const DEFAULT_TTL_MS = 3_600_000;
const BLOCK_CHARS = 4096;
const MAX_PREFIXES = 100_000;

let seq = 0;
const newId = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

export const cacheGone = (): GoogleError => permissionDenied('CachedContent not found (or permission denied)');

/** "300s", "1.5s" (a google.protobuf.Duration in JSON) in ms, or undefined. */
function durationMs(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(v) : null;
  return m ? Number(m[1]) * 1000 : undefined;
}

export function createCachesService(o: CachesOptions, models: (id: string, version: string) => ModelInfo | GoogleError, media: MediaReader): CachesService {
  const scale = o.timeScale ?? 1;
  const entries = new Map<string, Entry>();
  const stats = { created: 0, deleted: 0, implicitHits: 0 };
  const prefixes = new Map<string, Set<number>>(); // model -> hashes of block prefixes seen
  let remembered = 0;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, e: GoogleError) => json(res, e.code, { error: e });
  const iso = (ms: number) => new Date(ms).toISOString();

  function live(name: string): Entry | undefined {
    const e = entries.get(name);
    if (e && Date.now() >= e.expiresAt) {
      entries.delete(name);
      return undefined;
    }
    return e;
  }

  /** The expiry a ttl or expireTime asks for (scaled), or the 400. */
  function expiryOf(body: { ttl?: unknown; expireTime?: unknown }, now: number, fallback?: number): number | GoogleError | undefined {
    if (body.ttl !== undefined) {
      const ms = durationMs(body.ttl);
      if (ms === undefined) return invalidArgument(`Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format; duration must end with 's'`);
      return now + ms / scale;
    }
    if (body.expireTime !== undefined) {
      const at = Date.parse(String(body.expireTime));
      if (Number.isNaN(at)) return invalidArgument(`Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), Field 'expireTime', Invalid time format: ${String(body.expireTime)}`);
      return now + (at - now) / scale;
    }
    return fallback;
  }

  const resource = (e: Entry) => ({
    name: e.name, model: `models/${e.model}`, ...(e.displayName ? { displayName: e.displayName } : {}),
    createTime: iso(e.created), updateTime: iso(e.updated), expireTime: iso(e.expiresAt),
    usageMetadata: { totalTokenCount: e.tokens },
  });

  /** FNV-1a hashes of the text at each whole block boundary (one pass). */
  function blockHashes(text: string): number[] {
    const out: number[] = [];
    let h = 2166136261;
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 16777619);
      if ((i + 1) % BLOCK_CHARS === 0) out.push(h >>> 0);
    }
    return out;
  }

  return {
    stats,
    apply(r, model) {
      if (!r.cachedContent) return { request: r, cachedTokens: 0 };
      const name = r.cachedContent.startsWith('cachedContents/') ? r.cachedContent : `cachedContents/${r.cachedContent}`;
      const e = live(name);
      if (!e) return cacheGone();
      if (r.systemInstruction || r.tools || r.toolConfig) {
        return invalidArgument('CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.');
      }
      if (e.model !== model) return invalidArgument(`Model used by GenerateContent request (models/${model}) and CachedContent (models/${e.model}) has to be the same!`);
      const { cachedContent: _c, ...rest } = r;
      return { request: { ...rest, contents: [...e.contents, ...(r.contents ?? [])], ...(e.systemInstruction ? { systemInstruction: e.systemInstruction } : {}) }, cachedTokens: e.tokens };
    },
    implicitHit(r, m) {
      if (o.implicit === false || !m.thinking || r.cachedContent) return 0;
      const text = [systemOf(r), ...turnsOf(r).map((t) => t.text)].join('\n');
      const hashes = blockHashes(text);
      if (hashes.length === 0) return 0;
      let seen = prefixes.get(m.id);
      if (!seen) prefixes.set(m.id, (seen = new Set()));
      let blocks = 0;
      while (blocks < hashes.length && seen.has(hashes[blocks])) blocks++;
      for (const h of hashes) {
        if (remembered >= MAX_PREFIXES) break;
        if (!seen.has(h)) {
          seen.add(h);
          remembered++;
        }
      }
      const tokens = blocks * (BLOCK_CHARS / 4);
      if (tokens < m.cacheMinTokens) return 0;
      stats.implicitHits++;
      return tokens;
    },
    handle(req, res, url, body) {
      const p = url.pathname;
      if (/^\/(v1beta|v1alpha)\/cachedContents$/.test(p)) {
        if (req.method === 'GET') {
          const all = [...entries.values()].filter((e) => live(e.name)).sort((a, b) => b.seq - a.seq);
          const page = pageOf(all, url.searchParams, { size: 50, max: 1000 }, (e) => -e.seq);
          if ('error' in page) fail(res, page.error);
          else json(res, 200, page.items.length ? { cachedContents: page.items.map(resource), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
          return true;
        }
        if (req.method !== 'POST') return false;
        let spec: { model?: string; contents?: Content[]; systemInstruction?: Content; displayName?: string; ttl?: unknown; expireTime?: unknown; tools?: unknown };
        try {
          spec = normalize(JSON.parse(body.toString('utf8') || '{}'));
        } catch (err) {
          fail(res, invalidJson((err as Error).message));
          return true;
        }
        if (!spec.model) {
          fail(res, invalidArgument('* CachedContent.model: model is not specified'));
          return true;
        }
        const id = spec.model.replace(/^models\//, '');
        const m = models(id, /^\/(v1\w*)/.exec(p)![1]);
        if ('code' in m) {
          fail(res, m);
          return true;
        }
        const tokens = promptTokensOf({ contents: spec.contents ?? [], systemInstruction: spec.systemInstruction }, media);
        if (typeof tokens !== 'number') {
          fail(res, tokens);
          return true;
        }
        const total = spec.contents?.length || spec.systemInstruction ? tokens : 0;
        if (total < m.cacheMinTokens) {
          fail(res, invalidArgument(`Cached content is too small. total_token_count=${total}, min_total_token_count=${m.cacheMinTokens}`));
          return true;
        }
        const now = Date.now();
        const expires = expiryOf(spec, now, now + DEFAULT_TTL_MS / scale);
        if (typeof expires !== 'number') {
          fail(res, expires ?? invalidArgument('Invalid expiry.'));
          return true;
        }
        const e: Entry = {
          name: `cachedContents/${newId()}`, seq: stats.created, model: id, displayName: spec.displayName,
          contents: spec.contents ?? [], systemInstruction: spec.systemInstruction, tokens: total, created: now, updated: now, expiresAt: expires,
        };
        entries.set(e.name, e);
        stats.created++;
        json(res, 200, resource(e));
        return true;
      }
      const m = /^\/(?:v1beta|v1alpha)\/(cachedContents\/[^/:]+)$/.exec(p);
      if (!m || !['GET', 'PATCH', 'DELETE'].includes(req.method ?? '')) return false;
      const e = live(m[1]);
      if (!e) {
        fail(res, cacheGone());
        return true;
      }
      if (req.method === 'GET') json(res, 200, resource(e));
      else if (req.method === 'DELETE') {
        entries.delete(e.name);
        stats.deleted++;
        json(res, 200, {});
      } else {
        let patch: { ttl?: unknown; expireTime?: unknown; [k: string]: unknown };
        try {
          patch = normalize(JSON.parse(body.toString('utf8') || '{}'));
        } catch (err) {
          fail(res, invalidJson((err as Error).message));
          return true;
        }
        const mask = (url.searchParams.get('updateMask') ?? url.searchParams.get('update_mask') ?? '').split(',').filter(Boolean);
        const other = [...mask, ...Object.keys(patch)].find((k) => !['ttl', 'expireTime', 'expire_time', 'name'].includes(k));
        if (other) {
          fail(res, invalidArgument(`Only the expiration (ttl or expire_time) of a CachedContent can be updated, not ${other}.`));
          return true;
        }
        const now = Date.now();
        const expires = expiryOf(patch, now);
        if (typeof expires !== 'number') {
          fail(res, expires ?? invalidArgument('* CachedContent: ttl or expire_time must be given to update.'));
          return true;
        }
        e.expiresAt = expires;
        e.updated = now;
        json(res, 200, resource(e));
      }
      return true;
    },
  };
}
