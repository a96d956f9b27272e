// createGeminiClient(): the only place that talks to @google/genai. It returns one function,
// (prompt, signal) => Promise<GenerateResult>: exactly one HTTP request per call (SDK retries
// off, automaticContinuation off), a per-attempt timeout, and the response reduced to what a
// record needs. Errors are thrown as the SDK throws them; retry-policy.ts reads them.

import { GoogleGenAI, type GenerateContentConfig, type GenerateContentResponse } from '@google/genai';
import type { Usage } from '../records.js';
import type { FastFetch } from './fast-fetch.js';

export interface GeminiClientOptions {
  apiKey: string;
  baseUrl?: string;
  model: string;
  system?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinkingBudget?: number;
  /** Structured output: a JSON Schema object (sent as responseJsonSchema). */
  jsonSchema?: unknown;
  /** Per attempt. */
  timeoutMs: number;
  /** A faster fetch (see fast-fetch.ts); default: the SDK's (Node's global fetch). */
  fetch?: typeof fetch;
  /**
   * A transport that enforces `timeoutMs` itself and can fail everything in flight at once
   * (createFastFetch). Then the SDK gets no timeout and no signal per call (their per-call
   * cost is most of what the SDK adds), and a call's abort signal, when it fires, aborts the
   * transport: signals passed here are run-wide stop signals, not per-call cancellation.
   */
  transport?: FastFetch;
}

export type GenerateResult =
  | { kind: 'ok'; text: string; finishReason: string; usage: Usage; modelVersion?: string }
  | { kind: 'blocked'; reason: string; message: string; usage: Usage };

export type GenerateFn = (prompt: string, signal?: AbortSignal) => Promise<GenerateResult>;

const BLOCKING_FINISH = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_SAFETY']);

function usageOf(r: GenerateContentResponse): Usage {
  const u = r.usageMetadata;
  const promptTokens = u?.promptTokenCount ?? 0;
  const responseTokens = (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0);
  return { promptTokens, responseTokens, totalTokens: u?.totalTokenCount ?? promptTokens + responseTokens };
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
  return { kind: 'ok', text, finishReason, usage, modelVersion: r.modelVersion };
}

export function createGeminiClient(options: GeminiClientOptions): GenerateFn {
  const o = { ...options };
  const transport = o.transport && o.transport.timeoutMs === o.timeoutMs ? o.transport : undefined;
  const fetchFn = transport?.fetch ?? o.fetch;
  const ai = new GoogleGenAI({
    apiKey: o.apiKey,
    httpOptions: {
      ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
      ...(transport ? {} : { timeout: o.timeoutMs }),
      ...(fetchFn ? { fetch: fetchFn } : {}),
      // retryOptions left undefined: the SDK then sends exactly one request per call.
    },
  });
  const config: GenerateContentConfig = { automaticContinuation: false };
  if (o.system !== undefined) config.systemInstruction = o.system;
  if (o.temperature !== undefined) config.temperature = o.temperature;
  if (o.maxOutputTokens !== undefined) config.maxOutputTokens = o.maxOutputTokens;
  if (o.thinkingBudget !== undefined) config.thinkingConfig = { thinkingBudget: o.thinkingBudget };
  if (o.jsonSchema !== undefined) {
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = o.jsonSchema;
  }
  if (transport) {
    const linked = new WeakSet<AbortSignal>();
    return async (prompt, signal) => {
      if (signal && !linked.has(signal)) {
        linked.add(signal);
        signal.throwIfAborted();
        signal.addEventListener('abort', () => transport.abortAll(signal.reason), { once: true });
      }
      return toResult(await ai.models.generateContent({ model: o.model, contents: prompt, config }));
    };
  }
  return async (prompt, signal) => {
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
}
