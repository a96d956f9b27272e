// Issue 25's emulator items through @google/genai: embedContent / batchEmbedContents with
// deterministic vectors derived from the text (unit length at full size, a prefix at reduced
// outputDimensionality), task types, the 100-request limit, each text counted against the rpm
// quota, and the embedding batch job (asyncBatchEmbedContent) with a responses file and inline.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it, vi } from 'vitest';
import { embeddingOf } from '../../src/emulator/embed.js';
import { startEmulator } from '../../src/emulator/server.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
const client = (url: string) => new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: url } });
const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

async function until<T>(get: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  for (;;) {
    const t = await get();
    if (done(t)) return t;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('emulator: embeddings', () => {
  it('each text gets its own deterministic unit vector; outputDimensionality keeps a prefix; the task type changes it', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const r = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['the cat sat', 'the dog ran', 'the cat sat'] });
    const [a, b, c] = r.embeddings!.map((e) => e.values!);
    expect(a).toHaveLength(3072);
    expect(norm(a)).toBeCloseTo(1, 6);
    expect(c).toEqual(a);
    expect(b).not.toEqual(a);
    expect(a).toEqual(embeddingOf('the cat sat', 3072));
    const small = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'the cat sat', config: { outputDimensionality: 768 } });
    const v = small.embeddings![0].values!;
    expect(v).toEqual(a.slice(0, 768));
    expect(norm(v)).toBeLessThan(0.99); // a truncated vector is not renormalised: the docs say to normalise it
    const query = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'the cat sat', config: { taskType: 'RETRIEVAL_QUERY' } });
    expect(query.embeddings![0].values).not.toEqual(a);
    // The single-text method, as raw REST users call it.
    const one = await post(`${box.emu.url}/v1beta/models/gemini-embedding-001:embedContent`, { content: { parts: [{ text: 'the cat sat' }] }, output_dimensionality: 8 });
    expect(one.json).toEqual({ embedding: { values: a.slice(0, 8) } });
  });

  it('refuses what the service refuses: over 100 texts, an unknown task type, too many dimensions, the wrong kind of model', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const texts = Array.from({ length: 101 }, (_, i) => `text ${i}`);
    await expect(ai.models.embedContent({ model: 'gemini-embedding-001', contents: texts }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('at most 100 requests can be in one batch') });
    expect((await ai.models.embedContent({ model: 'gemini-embedding-001', contents: texts.slice(0, 100), config: { outputDimensionality: 8 } })).embeddings).toHaveLength(100);
    await expect(ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'x', config: { taskType: 'GUESSING' } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('task_type') });
    await expect(ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'x', config: { outputDimensionality: 4096 } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('output_dimensionality') });
    await expect(ai.models.embedContent({ model: 'gemini-2.5-flash', contents: 'x' })).rejects.toMatchObject({ status: 404 });
    await expect(ai.models.generateContent({ model: 'gemini-embedding-001', contents: 'x' })).rejects.toMatchObject({ status: 404 });
  });

  it('every text of a call counts against the rpm quota; scripts and faults apply to a call as to generateContent', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      box.emu = await startEmulator({ rpm: 600 }); // a bucket of 10 requests
      const ai = client(box.emu.url);
      expect((await ai.models.embedContent({ model: 'gemini-embedding-001', contents: Array.from({ length: 10 }, (_, i) => `t${i}`), config: { outputDimensionality: 8 } })).embeddings).toHaveLength(10);
      await expect(ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'one more' })).rejects.toMatchObject({ status: 429 });
      expect(box.emu.stats).toMatchObject({ requests: 2, admitted: 10, quota429: 1 });
    } finally {
      vi.useRealTimers();
    }
    await box.emu.close();
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    await expect(ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'flaky [[emu:503x1]]' })).rejects.toMatchObject({ status: 503 });
    expect((await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'flaky [[emu:503x1]]' })).embeddings).toHaveLength(1);
  });

  it('an embedding batch job: a file of {key, request} lines and inline requests, answered with the same vectors', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {}); // the SDK warns that createEmbeddings is experimental
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const ai = client(box.emu.url);
    const lines = ['alpha', 'beta', 'gamma [[emu:batchfail]]'].map((t, i) => JSON.stringify({ key: `k${i}`, request: { content: { parts: [{ text: t }] }, output_dimensionality: 16 } }));
    const p = join(box.dir, 'embed.jsonl');
    writeFileSync(p, lines.join('\n') + '\n');
    const src = (await ai.files.upload({ file: p, config: { mimeType: 'application/jsonl' } })).name!;
    const job = await ai.batches.createEmbeddings({ model: 'gemini-embedding-001', src: { fileName: src }, config: { displayName: 'vectors' } });
    const done = await until(() => ai.batches.get({ name: job.name! }), (j) => j.state === 'JOB_STATE_SUCCEEDED');
    const raw = await (await fetch(`${box.emu.url}/v1beta/${job.name}`, { headers: { 'x-goog-api-key': 'k' } })).json();
    expect(raw.metadata['@type']).toMatch(/EmbedContentBatch$/);
    const out = join(box.dir, 'vectors.jsonl');
    await ai.files.download({ file: done.dest!.fileName!, downloadPath: out });
    const byKey = Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((l) => [l.key, l]));
    expect(byKey.k0.response).toEqual({ embedding: { values: embeddingOf('alpha', 3072).slice(0, 16) } });
    expect(byKey.k1.response.embedding.values).toEqual(embeddingOf('beta', 3072).slice(0, 16));
    expect(byKey.k2.error).toMatchObject({ code: 3 });
    const inline = await ai.batches.createEmbeddings({
      model: 'gemini-embedding-001', src: { inlinedRequests: { contents: ['one', 'two'], config: { outputDimensionality: 4 } } }, config: { displayName: 'inline vectors' },
    });
    const ended = await until(() => ai.batches.get({ name: inline.name! }), (j) => j.state === 'JOB_STATE_SUCCEEDED');
    const vectors = ended.dest!.inlinedEmbedContentResponses!.map((r) => r.response?.embedding?.values);
    expect(vectors).toEqual([embeddingOf('one', 3072).slice(0, 4), embeddingOf('two', 3072).slice(0, 4)]);
    await expect(ai.batches.createEmbeddings({ model: 'gemini-2.5-flash', src: { fileName: src }, config: { displayName: 'x' } })).rejects.toMatchObject({ status: 404 });
    warn.mockRestore();
  });
});
