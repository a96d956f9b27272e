// The direct hot path must send exactly what the SDK sends and fail exactly as the SDK fails.

import { ApiError, GoogleGenAI, type GenerateContentConfig } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { apiErrorOf, captureRequestTemplate } from '../../src/gemini/client.js';
import { flatHeaders } from '../../src/gemini/fast-fetch.js';

const config: GenerateContentConfig = {
  automaticContinuation: false, systemInstruction: 'Answer "briefly".\nOne line.', temperature: 0.3, maxOutputTokens: 64,
  thinkingConfig: { thinkingBudget: 0 }, responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { a: { type: 'string' } } },
};

/** What the SDK itself sends for one prompt. */
async function sdkRequest(prompt: string, cfg: GenerateContentConfig) {
  let seen: { url: string; init?: RequestInit } | undefined;
  const ai = new GoogleGenAI({
    apiKey: 'k-123', httpOptions: {
      baseUrl: 'http://127.0.0.1:9', fetch: (async (url: string, init?: RequestInit) => {
        seen = { url: String(url), init };
        return new Response('{"candidates":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
      }) as typeof fetch,
    },
  });
  await ai.models.generateContent({ model: 'gemini-x', contents: prompt, config: cfg });
  return { url: seen!.url, body: seen!.init!.body as string, headers: flatHeaders(seen!.init!.headers) };
}

describe('the direct request template', () => {
  it('gives byte-for-byte the body, URL and headers the SDK sends, for awkward prompts and a full config', async () => {
    for (const cfg of [config, { automaticContinuation: false }]) {
      const t = await captureRequestTemplate('k-123', 'http://127.0.0.1:9', 'gemini-x', cfg);
      expect(t).toBeDefined();
      for (const prompt of ['plain', 'quotes " and \\ backslash', 'line\nbreaks\r\n\ttabs', 'ünïcødé 日本語 🎉', 'lone \ud800 surrogate', '', 'GEMPIPE', '{"contents": "not json"}']) {
        const sdk = await sdkRequest(prompt, cfg);
        expect(t!.prefix + JSON.stringify(prompt) + t!.suffix).toBe(sdk.body);
        expect(t!.origin + t!.path).toBe(sdk.url);
        expect(t!.headers).toEqual(sdk.headers);
      }
    }
  });
});

describe('apiErrorOf', () => {
  it('raises what the SDK raises for a JSON error body and for a text one', async () => {
    const cases = [
      { status: 429, headers: { 'content-type': 'application/json; charset=UTF-8' }, text: JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }] } }) },
      { status: 502, headers: { 'content-type': 'text/html' }, text: '<html>Bad gateway</html>' },
    ];
    for (const c of cases) {
      const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: 'http://127.0.0.1:9', fetch: (async () => new Response(c.text, { status: c.status, headers: c.headers })) as typeof fetch } });
      const sdkErr = await ai.models.generateContent({ model: 'gemini-x', contents: 'p' }).then(() => undefined, (e: unknown) => e as ApiError);
      const ours = apiErrorOf(c) as ApiError;
      expect(ours).toBeInstanceOf(ApiError);
      expect(sdkErr).toBeInstanceOf(ApiError);
      expect(ours.status).toBe(sdkErr!.status);
      // The SDK fills the text case's status with the HTTP status text, which undici does not give.
      expect(JSON.parse(ours.message).error.message).toEqual(JSON.parse(sdkErr!.message).error.message);
      if (c.status === 429) expect(ours.message).toBe(sdkErr!.message);
    }
  });
});
