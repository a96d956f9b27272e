// createGeminiClient(): generateContent through @google/genai (only src/gemini/ imports the SDK:
// test/house/one-place.test.ts). It returns one function,
// (prompt, signal) => Promise<GenerateResult>: exactly one HTTP request per call (SDK retries
// off, automaticContinuation off), a per-attempt timeout, and the response reduced to what a
// record needs. Errors are thrown as the SDK throws them (ApiError with the JSON error body
// as its message); retry-policy.ts reads them.
//
// The hot path (with a transport): the SDK builds the request once — for a sentinel prompt,
// through a capturing fetch — and that exact request (URL, headers, body around the prompt)
// is the template for every call; only the prompt's JSON string changes. So the wire format
// is the SDK's by construction, while the SDK's per-call work (request conversion, headers,
// response conversion: ~70 µs a request here) is skipped. The raw REST response has the field
// names toResult() reads, and errors are raised as the SDK's throwErrorIfNotOK raises them.
// A record that asks more than a prompt (a request line, attachments, a context) has its whole
// body built outside (request/builder.ts, over restBaseOf()) and sent by sendBody() to the
// template's URL with its headers.

import { ApiError, GoogleGenAI, type GenerateContentConfig, type GenerateContentResponse } from '@google/genai';
import type { InputRecord, Usage } from '../records.js';
import { requestSpecOf, type RequestShape, type RequestSpec } from '../request/spec.js';
import { flatHeaders, type FastFetch, type RawAnswer } from './fast-fetch.js';
import { redact, UsageError } from '../errors.js';

/** Where and how to ask: the request's shape (model, system instruction, config, schema) and the endpoint. */
export interface GeminiClientOptions extends RequestShape {
  apiKey: string;
  baseUrl?: string;
  /** Per attempt. */
  timeoutMs: number;
  /**
   * A transport that enforces `timeoutMs` itself and can fail everything in flight at once
   * (createFastFetch). Then the SDK gets no timeout and no signal per call (their per-call
   * cost is most of what the SDK adds), and a call's abort signal, when it fires, aborts the
   * transport: signals passed here are run-wide stop signals, not per-call cancellation.
   */
  transport?: FastFetch;
}

const SENTINEL = 'GEMPIPE-PROMPT-SENTINEL-5d1c7e';

interface RequestTemplate {
  origin: string;
  path: string;
  headers: string[];
  prefix: string;
  suffix: string;
}

/** The SDK's request for `config`, with the prompt cut out; undefined if it cannot be cut cleanly. */
export async function captureRequestTemplate(apiKey: string, baseUrl: string | undefined, model: string, config: GenerateContentConfig): Promise<RequestTemplate | undefined> {
  let seen: { url: string; init?: RequestInit } | undefined;
  const capture = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen = { url: typeof input === 'string' || input instanceof URL ? String(input) : input.url, init };
    return new Response('{"candidates":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const probe = new GoogleGenAI({ apiKey, httpOptions: { ...(baseUrl ? { baseUrl } : {}), fetch: capture as typeof fetch } });
  await probe.models.generateContent({ model, contents: SENTINEL, config });
  const body = seen?.init?.body;
  if (!seen || typeof body !== 'string' || (seen.init?.method ?? 'GET').toUpperCase() !== 'POST') return undefined;
  const literal = JSON.stringify(SENTINEL);
  const at = body.indexOf(literal);
  if (at < 0 || body.indexOf(literal, at + 1) >= 0) return undefined;
  const url = new URL(seen.url);
  return { origin: url.origin, path: url.pathname + url.search, headers: flatHeaders(seen.init?.headers), prefix: body.slice(0, at), suffix: body.slice(at + literal.length) };
}

function headerOf(h: RawAnswer['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A non-2xx answer raised as @google/genai 2.32's throwErrorIfNotOK raises it. */
export function apiErrorOf(res: RawAnswer): Error {
  const body = headerOf(res.headers, 'content-type')?.includes('application/json')
    ? (JSON.parse(res.text) as unknown)
    : { error: { message: res.text, code: res.status, status: '' } };
  const message = JSON.stringify(body);
  return res.status >= 400 && res.status < 600 ? new ApiError({ message, status: res.status }) : new Error(message);
}

export type GenerateResult =
  /** `text` holds the answer parts only (never thought parts); '' when there were none. */
  | { kind: 'ok'; text: string; finishReason: string; usage: Usage }
  | { kind: 'blocked'; reason: string; message: string; usage: Usage };

/** One call for a record's prompt; `rec` is the record itself (what a wrapper building whole bodies reads). */
export type GenerateFn = (prompt: string, signal?: AbortSignal, rec?: InputRecord) => Promise<GenerateResult>;

/** The client: a prompt in the job's template, or a whole REST body (one HTTP request either way). */
export type GeminiClient = GenerateFn & { sendBody(body: string | Uint8Array, signal?: AbortSignal): Promise<GenerateResult> };

const BLOCKING_FINISH = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_SAFETY']);

function usageOf(r: GenerateContentResponse): Usage {
  const u = r.usageMetadata;
  const promptTokens = u?.promptTokenCount ?? 0;
  const thoughts = u?.thoughtsTokenCount ?? 0;
  const responseTokens = (u?.candidatesTokenCount ?? 0) + thoughts;
  const usage: Usage = { promptTokens, responseTokens, totalTokens: u?.totalTokenCount ?? promptTokens + responseTokens };
  if (thoughts > 0) usage.thoughtsTokens = thoughts;
  const cached = u?.cachedContentTokenCount ?? 0;
  if (cached > 0) usage.cachedTokens = cached;
  return usage;
}

/** Reduces a raw response to a result; exported for tests of odd shapes. */
export function toResult(r: GenerateContentResponse): GenerateResult {
  const usage = usageOf(r);
  const blockReason = r.promptFeedback?.blockReason;
  if (blockReason) {
    return { kind: 'blocked', reason: String(blockReason), message: r.promptFeedback?.blockReasonMessage ?? `prompt blocked: ${blockReason}`, usage };
  }
  const cand = r.candidates?.[0];
  if (!cand) return { kind: 'blocked', reason: 'NO_CANDIDATES', message: 'the response has no candidates', usage };
  let text = '';
  for (const p of cand.content?.parts ?? []) if (typeof p.text === 'string' && !p.thought) text += p.text;
  const finishReason = String(cand.finishReason ?? 'FINISH_REASON_UNSPECIFIED');
  if (text === '' && BLOCKING_FINISH.has(finishReason)) {
    return { kind: 'blocked', reason: finishReason, message: `response blocked: ${finishReason}`, usage };
  }
  return { kind: 'ok', text, finishReason, usage };
}

/**
 * The REST GenerateContentRequest for a prompt, as the SDK builds it (the captured template):
 * what a batch input file holds a line of. Throws when this SDK's body cannot be cut around the
 * prompt (then batch requests cannot be built the SDK's way).
 */
export async function restRequestOf(apiKey: string, baseUrl: string | undefined, spec: RequestSpec): Promise<(prompt: string) => string> {
  const t = await captureRequestTemplate(apiKey, baseUrl, spec.shape.model, spec.config());
  if (!t) throw new Error('@google/genai built a generateContent body gempipe cannot cut around the prompt: --mode batch is unavailable with this SDK version');
  return (prompt) => t.prefix + JSON.stringify(prompt) + t.suffix;
}

/**
 * The SDK's REST body for the spec's config without its contents — systemInstruction,
 * generationConfig — as an object: what request/builder.ts puts a record's contents (and a
 * request line's own fields) into.
 */
export async function restBaseOf(apiKey: string, baseUrl: string | undefined, spec: RequestSpec): Promise<Record<string, unknown>> {
  const t = await captureRequestTemplate(apiKey, baseUrl, spec.shape.model, spec.config());
  if (!t) throw new Error('@google/genai built a generateContent body gempipe cannot cut around the prompt: whole requests, attachments and --context are unavailable with this SDK version');
  const body = JSON.parse(t.prefix + '""' + t.suffix) as Record<string, unknown>;
  delete body.contents;
  return body;
}

/**
 * The client. An error whose text carries the API key (a server or proxy that echoes the request)
 * has it cut out before anything can read it: no failure record, log line or message holds it.
 */
export function createGeminiClient(options: GeminiClientOptions): GeminiClient {
  if (!options.apiKey) throw new UsageError('createGeminiClient() needs `apiKey` (a Gemini API key, e.g. process.env.GEMINI_API_KEY; any text for an emulator)');
  const { call, sendBody } = createCall(options);
  const secrets = [options.apiKey];
  const guard = async <T>(p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (e) {
      if (e instanceof Error && e.message.includes(options.apiKey) && options.apiKey.length >= 4) e.message = redact(e.message, secrets);
      throw e;
    }
  };
  const client: GenerateFn = (prompt, signal) => guard(() => call(prompt, signal));
  return Object.assign(client, { sendBody: (body: string | Uint8Array, signal?: AbortSignal) => guard(() => sendBody(body, signal)) });
}

function createCall(options: GeminiClientOptions): { call: GenerateFn; sendBody: GeminiClient['sendBody'] } {
  const o = { ...options };
  const transport = o.transport;
  if (transport && transport.timeoutMs !== o.timeoutMs) {
    // The transport enforces the timeout and the SDK gets none: they must agree.
    throw new TypeError(`The transport's timeoutMs (${transport.timeoutMs}) must equal the client's (${o.timeoutMs})`);
  }
  const fetchFn = transport?.fetch;
  const ai = new GoogleGenAI({
    apiKey: o.apiKey,
    httpOptions: {
      ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
      ...(transport ? {} : { timeout: o.timeoutMs }),
      ...(fetchFn ? { fetch: fetchFn } : {}),
      // retryOptions left undefined: the SDK then sends exactly one request per call.
    },
  });
  const config: GenerateContentConfig = requestSpecOf(o).config();
  let template: Promise<RequestTemplate | undefined> | undefined;
  const templateOf = () => (template ??= captureRequestTemplate(o.apiKey, o.baseUrl, o.model, config).catch(() => undefined));
  if (transport) {
    const linked = new WeakSet<AbortSignal>();
    const link = (signal?: AbortSignal) => {
      if (signal && !linked.has(signal)) {
        linked.add(signal);
        signal.throwIfAborted();
        signal.addEventListener('abort', () => transport.abortAll(signal.reason), { once: true });
      }
    };
    const post = async (t: RequestTemplate, body: string | Uint8Array) => {
      const res = await transport.send(t.origin, 'POST', t.path, t.headers, body);
      if (res.status < 200 || res.status >= 300) throw apiErrorOf(res);
      return toResult(JSON.parse(res.text) as GenerateContentResponse);
    };
    return {
      async call(prompt, signal) {
        link(signal);
        const t = await templateOf();
        if (!t) return toResult(await ai.models.generateContent({ model: o.model, contents: prompt, config }));
        return post(t, t.prefix + JSON.stringify(prompt) + t.suffix);
      },
      async sendBody(body, signal) {
        link(signal);
        const t = await templateOf();
        if (!t) throw new Error('@google/genai built a generateContent body gempipe cannot cut around the prompt: whole request bodies cannot be sent');
        return post(t, body);
      },
    };
  }
  // No transport: whole bodies go through the global fetch, to the template's URL with its headers.
  const sendBody: GeminiClient['sendBody'] = async (body, signal) => {
    const t = await templateOf();
    if (!t) throw new Error('@google/genai built a generateContent body gempipe cannot cut around the prompt: whole request bodies cannot be sent');
    const headers: Record<string, string> = {};
    for (let i = 0; i < t.headers.length; i += 2) headers[t.headers[i]] = t.headers[i + 1];
    const signals = [AbortSignal.timeout(o.timeoutMs), ...(signal ? [signal] : [])];
    const res = await fetch(t.origin + t.path, { method: 'POST', headers, body: body as string | Uint8Array<ArrayBuffer>, signal: AbortSignal.any(signals) });
    const text = await res.text();
    const h: Record<string, string> = {};
    res.headers.forEach((v, k) => (h[k] = v));
    if (res.status < 200 || res.status >= 300) throw apiErrorOf({ status: res.status, headers: h, text });
    return toResult(JSON.parse(text) as GenerateContentResponse);
  };
  const call: GenerateFn = async (prompt, signal) => {
    if (!signal) return toResult(await ai.models.generateContent({ model: o.model, contents: prompt, config }));
    signal.throwIfAborted();
    // The SDK adds 'abort' listeners to the signal it is given and never removes them; on the
    // run's one shared signal they pile up (and Node's addEventListener scans them all: it
    // was 48% of CPU in a 20k-prompt profile). So each call gets its own signal, linked to the
    // shared one by a single listener that is removed when the call ends.
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await ai.models.generateContent({ model: o.model, contents: prompt, config: { ...config, abortSignal: ac.signal } });
      return toResult(r);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
  return { call, sendBody };
}
