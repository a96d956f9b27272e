// createEmbedClient(): many texts in one batchEmbedContents call — what @google/genai 2.32's
// models.embedContent sends on the Gemini API for a list of contents (read in its source: one
// POST to models/M:batchEmbedContents, {"requests": [{content, taskType, title,
// outputDimensionality, model}, ...]}). The SDK gives one config (one title) to every text of a
// call, so, as the generate client does, it builds one request element for sentinel texts (and
// title) and that exact element is the template of each text's: the wire format is the SDK's,
// each text keeps its own title. Errors are raised as the SDK raises them (ApiError).

import { GoogleGenAI, type EmbedContentConfig } from '@google/genai';
import type { EmbedShape } from '../embed/embed-shape.js';
import { redact } from '../errors.js';
import { apiErrorOf } from './client.js';
import { flatHeaders, type FastFetch } from './fast-fetch.js';

export interface EmbedText {
  text: string;
  title?: string;
}

export interface EmbedResult {
  /** One vector per text, in order. */
  vectors: number[][];
  /** usageMetadata.promptTokenCount when the API reports it (it does not for gemini-embedding-001). */
  promptTokens?: number;
}

export type EmbedFn = (texts: readonly EmbedText[], signal?: AbortSignal) => Promise<EmbedResult>;

const TEXT = 'GEMPIPE-EMBED-TEXT-SENTINEL-3b9f21';
const TITLE = 'GEMPIPE-EMBED-TITLE-SENTINEL-7c04d8';

interface Template {
  origin: string;
  path: string;
  headers: string[];
  /** The element cut around the text (and the title): [before text, after text] or [before text, between, after title]. */
  plain: string[];
  titled?: string[];
}

/** The SDK's config for an embedding shape (one title: the sentinel, cut out per text). */
export function embedConfigOf(e: EmbedShape, title?: string): EmbedContentConfig {
  const c: EmbedContentConfig = {};
  if (e.taskType) c.taskType = e.taskType;
  if (title !== undefined) c.title = title;
  if (e.dimensions) c.outputDimensionality = e.dimensions;
  return c;
}

/** The body's one request element for the sentinel text, cut into pieces around the sentinels. */
async function captureElement(apiKey: string, baseUrl: string | undefined, model: string, config: EmbedContentConfig): Promise<{ url: string; headers: string[]; pieces: string[] } | undefined> {
  let seen: { url: string; init?: RequestInit } | undefined;
  const capture = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen = { url: typeof input === 'string' || input instanceof URL ? String(input) : input.url, init };
    return new Response('{"embeddings":[{"values":[0]}]}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const probe = new GoogleGenAI({ apiKey, httpOptions: { ...(baseUrl ? { baseUrl } : {}), fetch: capture as typeof fetch } });
  await probe.models.embedContent({ model, contents: [TEXT], config });
  const body = seen?.init?.body;
  if (!seen || typeof body !== 'string') return undefined;
  const head = '{"requests":[';
  if (!body.startsWith(head) || !body.endsWith(']}')) return undefined;
  const element = body.slice(head.length, -2);
  const pieces = element.split(JSON.stringify(TEXT));
  if (pieces.length !== 2) return undefined;
  if (config.title === undefined) return { url: seen.url, headers: flatHeaders(seen.init?.headers), pieces };
  const rest = pieces[1].split(JSON.stringify(TITLE));
  return rest.length === 2 ? { url: seen.url, headers: flatHeaders(seen.init?.headers), pieces: [pieces[0], ...rest] } : undefined;
}

async function captureTemplate(apiKey: string, baseUrl: string | undefined, model: string, e: EmbedShape): Promise<Template | undefined> {
  const plain = await captureElement(apiKey, baseUrl, model, embedConfigOf(e));
  if (!plain) return undefined;
  const titled = e.titleField ? await captureElement(apiKey, baseUrl, model, embedConfigOf(e, TITLE)) : undefined;
  if (e.titleField && !titled) return undefined;
  const url = new URL(plain.url);
  return { origin: url.origin, path: url.pathname + url.search, headers: plain.headers, plain: plain.pieces, titled: titled?.pieces };
}

/** One text's request element, as the SDK writes it. */
function elementOf(t: Template, x: EmbedText): string {
  if (x.title !== undefined && t.titled) return t.titled[0] + JSON.stringify(x.text) + t.titled[1] + JSON.stringify(x.title) + t.titled[2];
  return t.plain[0] + JSON.stringify(x.text) + t.plain[1];
}

/**
 * The body batchEmbedContents takes for `texts` (what a batch job's input line holds one element
 * of); throws when this SDK's body cannot be cut around the text.
 */
export async function embedRequestOf(apiKey: string, baseUrl: string | undefined, model: string, e: EmbedShape): Promise<(x: EmbedText) => string> {
  const t = await captureTemplate(apiKey, baseUrl, model, e);
  if (!t) throw new Error('@google/genai built a batchEmbedContents body gempipe cannot cut around the text: embeddings are unavailable with this SDK version');
  return (x) => elementOf(t, x);
}

export function createEmbedClient(o: { model: string; embed: EmbedShape; apiKey: string; baseUrl?: string; timeoutMs: number; transport?: FastFetch }): EmbedFn {
  const ai = new GoogleGenAI({ apiKey: o.apiKey, httpOptions: { ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}), ...(o.transport ? { fetch: o.transport.fetch } : { timeout: o.timeoutMs }) } });
  let template: Promise<Template | undefined> | undefined;
  const linked = new WeakSet<AbortSignal>();
  const secrets = [o.apiKey];
  async function call(texts: readonly EmbedText[], signal?: AbortSignal): Promise<EmbedResult> {
    const t = await (template ??= captureTemplate(o.apiKey, o.baseUrl, o.model, o.embed).catch(() => undefined));
    if (!t || !o.transport) {
      // Through the SDK: one title for the call, so titled texts go one per call here.
      if (texts.some((x) => x.title !== undefined) && texts.length > 1) {
        const parts = await Promise.all(texts.map((x) => call([x], signal)));
        return { vectors: parts.flatMap((p) => p.vectors) };
      }
      const r = await ai.models.embedContent({ model: o.model, contents: texts.map((x) => x.text), config: { ...embedConfigOf(o.embed, texts[0]?.title), ...(signal ? { abortSignal: signal } : {}) } });
      return { vectors: (r.embeddings ?? []).map((e) => e.values ?? []) };
    }
    if (signal && !linked.has(signal)) {
      // Signals here are run-wide stops (as the generate client's): the transport fails all at once.
      linked.add(signal);
      signal.throwIfAborted();
      signal.addEventListener('abort', () => o.transport!.abortAll(signal.reason), { once: true });
    }
    const body = `{"requests":[${texts.map((x) => elementOf(t, x)).join(',')}]}`;
    const res = await o.transport.send(t.origin, 'POST', t.path, t.headers, body);
    if (res.status < 200 || res.status >= 300) throw apiErrorOf(res);
    const parsed = JSON.parse(res.text) as { embeddings?: Array<{ values?: number[] }>; usageMetadata?: { promptTokenCount?: number } };
    return { vectors: (parsed.embeddings ?? []).map((e) => e.values ?? []), promptTokens: parsed.usageMetadata?.promptTokenCount };
  }
  return async (texts, signal) => {
    try {
      return await call(texts, signal);
    } catch (e) {
      if (e instanceof Error && o.apiKey.length >= 4 && e.message.includes(o.apiKey)) e.message = redact(e.message, secrets);
      throw e;
    }
  };
}
