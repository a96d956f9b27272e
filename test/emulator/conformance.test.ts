// The emulator driven through @google/genai's public methods the way a user's code drives the real
// service (and through raw fetch where a user sends JSON of their own): structured output with the
// SDK's upper-case types, enum output, the output cap, thinking, snake_case bodies, multi-turn and
// system instructions, the key rule, models list/get, streaming, an unknown method, the Files API,
// and the Batch API with a file and inline (paging, stats, cancel, delete, rpc.Status errors,
// shuffled responses, SUCCEEDED before the responses are readable). No sleeps: batch time is
// scaled, and polls wait for a state, never for a duration.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI, Type, type GenerateContentResponse } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { countTokens, startEmulator } from '../../src/emulator/server.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
const client = (url: string, apiKey = 'k') => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: url } });
const text = (r: GenerateContentResponse) => (r.candidates?.[0]?.content?.parts ?? []).filter((p) => !p.thought).map((p) => p.text ?? '').join('');

async function until<T>(get: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  for (;;) {
    const t = await get();
    if (done(t)) return t;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function post(url: string, body: unknown, key = 'k'): Promise<{ status: number; json: any; text: string; type: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-goog-api-key': key } : {}) }, body: JSON.stringify(body) });
  const t = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(t);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text: t, type: r.headers.get('content-type') ?? '' };
}

describe('emulator conformance: generateContent', () => {
  it('responseSchema with the SDK\'s upper-case types is answered with values of those types, in propertyOrdering', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const r = await ai.models.generateContent({
      model: 'gemini-2.5-flash', contents: 'What is two times 21?',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.OBJECT,
          properties: {
            answer: { type: Type.INTEGER }, words: { type: Type.ARRAY, items: { type: Type.STRING }, minItems: '2' },
            ok: { type: Type.BOOLEAN }, score: { type: Type.NUMBER, minimum: 50 }, label: { type: Type.STRING, enum: ['yes', 'no'] },
            nested: { type: Type.OBJECT, properties: { b: { type: Type.STRING }, a: { type: Type.INTEGER } } },
          },
          required: ['answer', 'words', 'ok', 'score', 'label'],
          propertyOrdering: ['label', 'answer', 'words', 'ok', 'score', 'nested'],
        },
      },
    });
    const parsed = JSON.parse(r.text!); // what the Python SDK's .parsed does
    expect(Object.keys(parsed)).toEqual(['label', 'answer', 'words', 'ok', 'score', 'nested']);
    expect(parsed.answer).toBe(42);
    expect(Number.isInteger(parsed.answer)).toBe(true);
    expect(parsed.words).toHaveLength(2);
    expect(typeof parsed.words[0]).toBe('string');
    expect(parsed.ok).toBe(true);
    expect(parsed.score).toBe(50);
    expect(['yes', 'no']).toContain(parsed.label);
    // Without propertyOrdering the service orders an object's properties alphabetically.
    expect(Object.keys(parsed.nested)).toEqual(['a', 'b']);
    expect(typeof parsed.nested.a).toBe('number');
  });

  it('responseJsonSchema (JSON Schema) keeps its property order, nullable type arrays and $ref', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const r = await ai.models.generateContent({
      model: 'gemini-2.5-flash', contents: 'two times 5',
      config: {
        responseMimeType: 'application/json',
        responseJsonSchema: {
          type: 'object', $defs: { item: { type: 'object', properties: { z: { type: 'integer' }, y: { type: ['string', 'null'] } } } },
          properties: { zeta: { type: 'number' }, alpha: { type: 'array', items: { $ref: '#/$defs/item' } } },
        },
      },
    });
    const parsed = JSON.parse(r.text!);
    expect(Object.keys(parsed)).toEqual(['zeta', 'alpha']);
    expect(parsed).toEqual({ zeta: 10, alpha: [{ z: 10, y: 'Two times 5 is 10.' }] });
  });

  it('text/x.enum answers one of the enum values: the one the prompt names, else the first', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const ask = (contents: string) => ai.models.generateContent({
      model: 'gemini-2.5-flash', contents,
      config: { responseMimeType: 'text/x.enum', responseSchema: { type: Type.STRING, enum: ['positive', 'negative', 'neutral'] } },
    });
    expect((await ask('Classify this review, it is clearly negative: awful.')).text).toBe('negative');
    expect((await ask('Classify this review: fine.')).text).toBe('positive');
  });

  it('maxOutputTokens cuts the answer (MAX_TOKENS) with consistent counts; thoughts count against it', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const contents = 'Explain, at length, why the sky over the sea looks blue at noon and red at dusk.';
    const full = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { thinkingBudget: 0 } } });
    expect(full.candidates![0].finishReason).toBe('STOP');
    const cut = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { maxOutputTokens: 5, thinkingConfig: { thinkingBudget: 0 } } });
    const u = cut.usageMetadata!;
    expect(cut.candidates![0].finishReason).toBe('MAX_TOKENS');
    expect(text(cut).length).toBeLessThan(text(full).length);
    expect(full.text!.startsWith(cut.text!)).toBe(true);
    expect(u.candidatesTokenCount).toBe(5);
    expect(u.candidatesTokenCount).toBe(countTokens(cut.text!));
    expect(u.totalTokenCount).toBe(u.promptTokenCount! + u.candidatesTokenCount!);
    // A thinking model whose thoughts use the whole cap: no text at all, the thoughts counted.
    const starved = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { maxOutputTokens: 10 } });
    expect(starved.candidates![0].finishReason).toBe('MAX_TOKENS');
    expect(starved.candidates![0].content?.parts).toBeUndefined();
    expect(starved.usageMetadata).toMatchObject({ thoughtsTokenCount: 10, totalTokenCount: starved.usageMetadata!.promptTokenCount! + 10 });
    expect(starved.usageMetadata!.candidatesTokenCount).toBeUndefined();
  });

  it('thinking: counted for thinking models, thought parts only with includeThoughts, off with budget 0, refused by Pro', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const contents = 'What is two times 8?';
    const plain = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents });
    expect(plain.usageMetadata!.thoughtsTokenCount).toBeGreaterThan(0);
    expect(plain.candidates![0].content!.parts!.some((p) => p.thought)).toBe(false);
    expect(plain.usageMetadata!.totalTokenCount).toBe(plain.usageMetadata!.promptTokenCount! + plain.usageMetadata!.candidatesTokenCount! + plain.usageMetadata!.thoughtsTokenCount!);
    const shown = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { includeThoughts: true } } });
    const parts = shown.candidates![0].content!.parts!;
    expect(parts[0].thought).toBe(true);
    expect(shown.text).toBe('Two times 8 is 16.');
    expect(shown.usageMetadata!.thoughtsTokenCount).toBe(plain.usageMetadata!.thoughtsTokenCount);
    const off = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { thinkingBudget: 0, includeThoughts: true } } });
    expect(off.usageMetadata!.thoughtsTokenCount).toBeUndefined();
    expect(off.candidates![0].content!.parts!.some((p) => p.thought)).toBe(false);
    const capped = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { thinkingBudget: 20 } } });
    expect(capped.usageMetadata!.thoughtsTokenCount).toBeLessThanOrEqual(20);
    const legacy = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents });
    expect(legacy.usageMetadata!.thoughtsTokenCount).toBeUndefined();
    await expect(ai.models.generateContent({ model: 'gemini-2.5-pro', contents, config: { thinkingConfig: { thinkingBudget: 0 } } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('only works in thinking mode') });
  });

  it('accepts snake_case field names as the service does (generation_config, system_instruction, max_output_tokens, …)', async () => {
    box.emu = await startEmulator({});
    const url = `${box.emu.url}/v1beta/models/gemini-2.5-flash:generateContent`;
    const snake = await post(url, {
      contents: [{ role: 'user', parts: [{ text: 'Describe the harbour at night in detail, please.' }] }],
      system_instruction: { parts: [{ text: 'Answer in capital letters.' }] },
      generation_config: { max_output_tokens: 6, thinking_config: { thinking_budget: 0 } },
    });
    expect(snake.status).toBe(200);
    expect(snake.json.candidates[0].finishReason).toBe('MAX_TOKENS');
    expect(snake.json.usageMetadata.candidatesTokenCount).toBe(6);
    const answer = snake.json.candidates[0].content.parts[0].text as string;
    expect(answer).toBe(answer.toUpperCase());
    const camel = await post(url, {
      contents: [{ role: 'user', parts: [{ text: 'Describe the harbour at night in detail, please.' }] }],
      systemInstruction: { parts: [{ text: 'Answer in capital letters.' }] },
      generationConfig: { maxOutputTokens: 6, thinkingConfig: { thinkingBudget: 0 } },
    });
    expect(camel.json.candidates).toEqual(snake.json.candidates);
    const json = await post(url, {
      contents: [{ parts: [{ text: 'two times 4' }] }],
      generation_config: { response_mime_type: 'application/json', response_schema: { type: 'OBJECT', properties: { my_value: { type: 'INTEGER' } } } },
    });
    // Property names are the user's: never renamed.
    expect(JSON.parse(json.json.candidates[0].content.parts[0].text)).toEqual({ my_value: 8 });
  });

  it('answers a multi-turn conversation from its last user turn and its history; the system instruction changes the answer', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const turns = (first: string, last: string) => [
      { role: 'user', parts: [{ text: first }] }, { role: 'model', parts: [{ text: 'Noted.' }] }, { role: 'user', parts: [{ text: last }] },
    ];
    const math = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: turns('What is two times 3?', 'And what is two times 30?') });
    expect(math.text).toBe('Two times 30 is 60.');
    const a = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: turns('I like boats.', 'What should I do today?') });
    const again = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: turns('I like boats.', 'What should I do today?') });
    const b = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: turns('I like trains.', 'What should I do today?') });
    expect(a.text).toBe(again.text);
    expect(a.text).toMatch(/What should I do today\?/);
    expect(a.text).not.toBe(b.text);
    const sys1 = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'What should I do today?', config: { systemInstruction: 'You are a sailor.' } });
    const sys2 = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'What should I do today?', config: { systemInstruction: 'You are a baker.' } });
    expect(sys1.text).not.toBe(sys2.text);
    const caps = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'What should I do today?', config: { systemInstruction: 'Reply in ALL CAPS.' } });
    expect(caps.text).toBe(caps.text!.toUpperCase());
  });

  it('the key rule: none is the 403 for unregistered callers; with `apiKey` only that key; else any key but invalid…', async () => {
    box.emu = await startEmulator({ apiKey: 'AIza-right' });
    const url = `${box.emu.url}/v1beta/models/gemini-2.5-flash:generateContent`;
    const body = { contents: [{ parts: [{ text: 'hi' }] }] };
    const none = await post(url, body, '');
    expect(none.status).toBe(403);
    expect(none.json.error).toMatchObject({ status: 'PERMISSION_DENIED', message: expect.stringMatching(/^Method doesn't allow unregistered callers/) });
    const wrong = await post(url, body, 'AIza-wrong');
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.details[0]).toMatchObject({ reason: 'API_KEY_INVALID' });
    expect((await post(url, body, 'AIza-right')).status).toBe(200);
    const models = await fetch(`${box.emu.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'AIza-wrong' } });
    expect(models.status).toBe(400);
    await box.emu.close();
    box.emu = await startEmulator({});
    const open = `${box.emu.url}/v1beta/models/gemini-2.5-flash:generateContent`;
    expect((await post(open, body, 'anything')).status).toBe(200);
    expect((await post(open, body, 'invalid-key')).status).toBe(400);
  });

  it('an unknown method gets the front end\'s HTML 404, as the service answers it', async () => {
    box.emu = await startEmulator({});
    const r = await post(`${box.emu.url}/v1beta/models/gemini-2.5-flash:frobnicate`, {});
    expect(r.status).toBe(404);
    expect(r.type).toMatch(/^text\/html/);
    expect(r.text).toContain('The requested URL <code>/v1beta/models/gemini-2.5-flash:frobnicate</code> was not found on this server.');
    const verb = await fetch(`${box.emu.url}/v1beta/models/gemini-2.5-flash:generateContent`, { headers: { 'x-goog-api-key': 'k' } });
    expect(verb.status).toBe(404);
    await expect(client(box.emu.url).models.generateContent({ model: 'not-a-model', contents: 'x' }))
      .rejects.toMatchObject({ status: 404, message: expect.stringContaining('models/not-a-model is not found for API version v1beta') });
  });
});

describe('emulator conformance: models, streaming', () => {
  it('models.list pages through the catalogue; models.get gives the Model resource', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const first = await (await fetch(`${box.emu.url}/v1beta/models?pageSize=4`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(first.models).toHaveLength(4);
    expect(typeof first.nextPageToken).toBe('string');
    const names: string[] = [];
    for await (const m of await ai.models.list({ config: { pageSize: 4 } })) names.push(m.name!);
    expect(names.length).toBeGreaterThan(8);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('models/gemini-2.5-flash');
    expect(names).toContain('models/gemini-embedding-001');
    const m = await ai.models.get({ model: 'gemini-2.5-flash' });
    expect(m).toMatchObject({ name: 'models/gemini-2.5-flash', inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, thinking: true });
    expect(m.supportedActions).toEqual(expect.arrayContaining(['generateContent', 'countTokens', 'batchGenerateContent', 'createCachedContent']));
    await expect(ai.models.get({ model: 'no-such-model' })).rejects.toMatchObject({ status: 404 });
  });

  it('streamGenerateContent (alt=sse) streams chunks the SDK joins into the unary answer; without alt, a JSON array', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const contents = 'Tell me a long story about a lighthouse keeper and the ships he watched.';
    const unary = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { includeThoughts: true } } });
    const chunks: GenerateContentResponse[] = [];
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents, config: { thinkingConfig: { includeThoughts: true } } })) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[0].candidates![0].content!.parts![0].thought).toBe(true);
    expect(chunks.map(text).join('')).toBe(text(unary));
    const last = chunks[chunks.length - 1];
    expect(last.candidates![0].finishReason).toBe('STOP');
    expect(last.usageMetadata).toEqual(unary.usageMetadata);
    expect(chunks.slice(0, -1).every((c) => c.candidates![0].finishReason === undefined)).toBe(true);
    expect(box.emu.stats.streams).toBe(1);
    const raw = await post(`${box.emu.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, { contents: [{ parts: [{ text: contents }] }] });
    expect(Array.isArray(raw.json)).toBe(true);
    expect(raw.json.length).toBeGreaterThan(1);
  });
});

describe('emulator conformance: Files API', () => {
  it('upload, get (state, size, hash), list newest first in pages, delete', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const uploaded: string[] = [];
    for (let i = 0; i < 12; i++) {
      const p = join(box.dir, `f${i}.txt`);
      writeFileSync(p, `file number ${i}\n`);
      uploaded.push((await ai.files.upload({ file: p, config: { mimeType: 'text/plain', displayName: `f${i}` } })).name!);
    }
    const f = await ai.files.get({ name: uploaded[3] });
    expect(f).toMatchObject({ name: uploaded[3], displayName: 'f3', mimeType: 'text/plain', sizeBytes: String('file number 3\n'.length), state: 'ACTIVE', source: 'UPLOADED' });
    expect(Buffer.from(f.sha256Hash!, 'base64').toString()).toBe(createHash('sha256').update('file number 3\n').digest('hex'));
    expect(Date.parse(f.expirationTime!) - Date.parse(f.createTime!)).toBe(48 * 3_600_000);
    const page = await (await fetch(`${box.emu.url}/v1beta/files?pageSize=5`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(page.files.map((x: { name: string }) => x.name)).toEqual(uploaded.slice(7).reverse());
    expect(typeof page.nextPageToken).toBe('string');
    const listed: string[] = [];
    for await (const x of await ai.files.list({ config: { pageSize: 5 } })) listed.push(x.name!);
    expect(listed).toEqual([...uploaded].reverse());
    await ai.files.delete({ name: uploaded[3] });
    await expect(ai.files.get({ name: uploaded[3] })).rejects.toMatchObject({ status: 403, message: expect.stringContaining('or it may not exist') });
    const after: string[] = [];
    for await (const x of await ai.files.list({ config: { pageSize: 100 } })) after.push(x.name!);
    expect(after).toHaveLength(11);
    expect(after).not.toContain(uploaded[3]);
    expect(box.emu.batch).toMatchObject({ uploads: 12, filesDeleted: 1 });
  });

  it('a file lives 48 hours of the files clock, then is gone', async () => {
    box.emu = await startEmulator({ filesTimeScale: 48 * 3_600_000 / 50 }); // 48 h in 50 ms
    const ai = client(box.emu.url);
    const p = join(box.dir, 'x.txt');
    writeFileSync(p, 'x');
    const f = await ai.files.upload({ file: p, config: { mimeType: 'text/plain' } });
    await until(() => ai.files.get({ name: f.name! }).then(() => 'there', () => 'gone'), (s) => s === 'gone');
    await expect(ai.files.get({ name: f.name! })).rejects.toMatchObject({ status: 403 });
  });
});

describe('emulator conformance: Batch API', () => {
  const line = (key: string, prompt: string, extra: Record<string, unknown> = {}) => JSON.stringify({ key, request: { contents: [{ role: 'user', parts: [{ text: prompt }] }], ...extra } });
  const SCALE = 6000; // 1 min pending + 10 min running = 110 ms

  async function uploadLines(ai: GoogleGenAI, lines: string[]): Promise<string> {
    const p = join(box.dir, `in-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(p, lines.join('\n') + '\n');
    return (await ai.files.upload({ file: p, config: { mimeType: 'application/jsonl' } })).name!;
  }
  const terminal = (s: unknown) => ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(String(s));

  it('a file job: shuffled responses matched by key, per-request google.rpc.Status errors, counts as strings with zeros left out', async () => {
    // 100 min pending (1 s here): the read right after the create sees PENDING on a loaded machine too.
    box.emu = await startEmulator({ batchTimeScale: SCALE, batchPendingMs: 6_000_000 });
    const ai = client(box.emu.url);
    const prompts = Array.from({ length: 30 }, (_, i) => (i === 7 ? `bad one [[emu:batchfail]]` : `What is two times ${i}?`));
    const src = await uploadLines(ai, prompts.map((p, i) => line(`k${i}`, p, i === 3 ? { generation_config: { max_output_tokens: 3, thinking_config: { thinking_budget: 0 } } } : {})));
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src, config: { displayName: 'conformance' } });
    expect(job.state).toBe('JOB_STATE_PENDING');
    const pending = await (await fetch(`${box.emu.url}/v1beta/${job.name}`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(pending.metadata.state).toBe('BATCH_STATE_PENDING');
    expect(pending.metadata.batchStats).toEqual({ requestCount: '30', pendingRequestCount: '30' });
    const done = await until(() => ai.batches.get({ name: job.name! }), (j) => terminal(j.state));
    expect(done.state).toBe('JOB_STATE_SUCCEEDED');
    const raw = await (await fetch(`${box.emu.url}/v1beta/${job.name}`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(raw.metadata.state).toBe('BATCH_STATE_SUCCEEDED');
    expect(raw.metadata.batchStats).toEqual({ requestCount: '30', successfulRequestCount: '29', failedRequestCount: '1' });
    expect(raw.done).toBe(true);
    const out = join(box.dir, 'out.jsonl');
    await ai.files.download({ file: done.dest!.fileName!, downloadPath: out });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(30);
    expect(lines.map((l) => l.key)).not.toEqual(prompts.map((_, i) => `k${i}`)); // shuffled
    for (const l of lines) {
      const i = Number(l.key.slice(1));
      if (i === 7) {
        expect(l.error).toEqual({ code: 3, message: expect.any(String) });
        expect(l.response).toBeUndefined();
      } else if (i === 3) {
        expect(l.response.candidates[0].finishReason).toBe('MAX_TOKENS'); // the line's snake_case config was read
      } else expect(l.response.candidates[0].content.parts[0].text).toBe(`Two times ${i} is ${2 * i}.`);
    }
  });

  it('a transient per-request error (rpc 13, 14) fails the first job only: the same request in a new job succeeds', async () => {
    box.emu = await startEmulator({ batchTimeScale: SCALE });
    const ai = client(box.emu.url);
    const lines = [line('a', 'flaky one [[emu:batch13x1]]'), line('b', 'flaky two [[emu:batch14x2]]'), line('c', 'steady')];
    const run = async () => {
      const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: await uploadLines(ai, lines), config: { displayName: 'retry' } });
      const done = await until(() => ai.batches.get({ name: job.name! }), (j) => terminal(j.state));
      const p = join(box.dir, `${job.name!.replace('/', '-')}.jsonl`);
      await ai.files.download({ file: done.dest!.fileName!, downloadPath: p });
      return Object.fromEntries(readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((l) => [l.key, l.error ?? 'ok']));
    };
    expect(await run()).toEqual({ a: { code: 13, message: expect.stringMatching(/internal error/) }, b: { code: 14, message: expect.any(String) }, c: 'ok' });
    expect(await run()).toEqual({ a: 'ok', b: { code: 14, message: expect.any(String) }, c: 'ok' });
    expect(await run()).toEqual({ a: 'ok', b: 'ok', c: 'ok' });
  });

  it('inline requests come back as inlinedResponses, in request order, with their metadata', async () => {
    box.emu = await startEmulator({ batchTimeScale: SCALE });
    const ai = client(box.emu.url);
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash',
      src: [
        { contents: [{ role: 'user', parts: [{ text: 'What is two times 2?' }] }], metadata: { id: 'first' } },
        { contents: [{ role: 'user', parts: [{ text: 'oops [[emu:batch14x1]]' }] }], metadata: { id: 'second' } },
        { contents: [{ role: 'user', parts: [{ text: 'What is two times 9?' }] }], config: { responseMimeType: 'application/json', responseSchema: { type: Type.OBJECT, properties: { n: { type: Type.INTEGER } } } } },
      ],
      config: { displayName: 'inline' },
    });
    const done = await until(() => ai.batches.get({ name: job.name! }), (j) => terminal(j.state));
    const rs = done.dest!.inlinedResponses!;
    expect(rs).toHaveLength(3);
    expect(text(rs[0].response as GenerateContentResponse)).toBe('Two times 2 is 4.');
    expect(rs[0].metadata).toEqual({ id: 'first' });
    expect(rs[1].error).toMatchObject({ code: 14 });
    expect(JSON.parse(text(rs[2].response as GenerateContentResponse))).toEqual({ n: 18 });
  });

  it('create refuses a missing displayName and a malformed line (naming it); list is newest first in pages; cancel and delete', async () => {
    box.emu = await startEmulator({ batchTimeScale: 1 }); // jobs stay PENDING here
    const ai = client(box.emu.url);
    const src = await uploadLines(ai, [line('a', 'x')]);
    await expect(ai.batches.create({ model: 'gemini-2.5-flash', src })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('display_name') });
    const bad = await uploadLines(ai, [line('a', 'x'), '{"key": "b", "request": ', line('c', 'y')]);
    await expect(ai.batches.create({ model: 'gemini-2.5-flash', src: bad, config: { displayName: 'bad' } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('line 2') });
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push((await ai.batches.create({ model: 'gemini-2.5-flash', src, config: { displayName: `j${i}` } })).name!);
    const page = await (await fetch(`${box.emu.url}/v1beta/batches?pageSize=2`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(page.operations.map((x: { name: string }) => x.name)).toEqual([names[4], names[3]]);
    expect(typeof page.nextPageToken).toBe('string');
    const listed: string[] = [];
    for await (const b of await ai.batches.list({ config: { pageSize: 2 } })) listed.push(b.name!);
    expect(listed).toEqual([...names].reverse());
    await ai.batches.cancel({ name: names[1] });
    expect((await ai.batches.get({ name: names[1] })).state).toBe('JOB_STATE_CANCELLED');
    await ai.batches.delete({ name: names[2] });
    await expect(ai.batches.get({ name: names[2] })).rejects.toMatchObject({ status: 404 });
    expect(box.emu.batch).toMatchObject({ batchesCreated: 5, batchesDeleted: 1 });
  });

  it('a 429 on create carries the quota text and a Help link (no RetryInfo); the next create goes through', async () => {
    box.emu = await startEmulator({ batchTimeScale: SCALE, batchRefuseCreates: 1 });
    const ai = client(box.emu.url);
    const src = await uploadLines(ai, [line('a', 'x')]);
    const err = await ai.batches.create({ model: 'gemini-2.5-flash', src, config: { displayName: 'j' } }).then(() => undefined, (e: { status: number; message: string }) => e);
    expect(err?.status).toBe(429);
    const body = JSON.parse(err!.message).error;
    expect(body.message).toMatch(/^You exceeded your current quota/);
    expect(body.details.map((d: { '@type': string }) => d['@type'])).toEqual(['type.googleapis.com/google.rpc.Help']);
    expect((await ai.batches.create({ model: 'gemini-2.5-flash', src, config: { displayName: 'j' } })).state).toBe('JOB_STATE_PENDING');
  });

  it('a job can read SUCCEEDED before its responses are readable (batchResultLagMs); they come later', async () => {
    // A lag of a day: SUCCEEDED stays without output for the whole test.
    box.emu = await startEmulator({ batchTimeScale: SCALE, batchResultLagMs: 24 * 3_600_000 });
    let ai = client(box.emu.url);
    let job = await ai.batches.create({ model: 'gemini-2.5-flash', src: await uploadLines(ai, [line('a', 'x')]), config: { displayName: 'lag' } });
    const early = await until(() => ai.batches.get({ name: job.name! }), (j) => terminal(j.state));
    expect(early.state).toBe('JOB_STATE_SUCCEEDED');
    expect(early.dest).toBeUndefined();
    await box.emu.close();
    // Named but not yet readable: the file is the Files API's 403 until the lag is over.
    box.emu = await startEmulator({ batchTimeScale: SCALE, batchResultLagMs: 24 * 3_600_000, batchResultLagMode: 'not-found' });
    ai = client(box.emu.url);
    job = await ai.batches.create({ model: 'gemini-2.5-flash', src: await uploadLines(ai, [line('a', 'x')]), config: { displayName: 'lag' } });
    const named = await until(() => ai.batches.get({ name: job.name! }), (j) => terminal(j.state));
    expect(named.dest?.fileName).toMatch(/^files\//);
    await expect(ai.files.get({ name: named.dest!.fileName! })).rejects.toMatchObject({ status: 403 });
    await box.emu.close();
    // A short lag: polling sees the output appear.
    box.emu = await startEmulator({ batchTimeScale: SCALE, batchResultLagMs: 120_000 });
    ai = client(box.emu.url);
    job = await ai.batches.create({ model: 'gemini-2.5-flash', src: await uploadLines(ai, [line('a', 'What is two times 6?')]), config: { displayName: 'lag' } });
    const ready = await until(() => ai.batches.get({ name: job.name! }), (j) => j.dest?.fileName !== undefined);
    expect(ready.state).toBe('JOB_STATE_SUCCEEDED');
    const p = join(box.dir, 'lag.jsonl');
    await ai.files.download({ file: ready.dest!.fileName!, downloadPath: p });
    expect(JSON.parse(readFileSync(p, 'utf8')).response.candidates[0].content.parts[0].text).toBe('Two times 6 is 12.');
  });
});
