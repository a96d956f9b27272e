// A record's whole body: the command line's template under a request line (the line wins, the
// template fills the rest), the context first or the cache named instead, attachments as parts
// (inline base64 from the file itself, re-hashed), the text last — and the hashes that cover it.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaInputError } from '../../src/media/uploads.js';
import type { InputRecord, MediaRef } from '../../src/records.js';
import { createRequestBodies, createRequestBuilder, type ContextUse } from '../../src/request/builder.js';
import { requestSpecOf } from '../../src/request/spec.js';
import { createStats } from '../../src/stats.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
const BASE = { systemInstruction: { parts: [{ text: 'Be brief.' }], role: 'user' }, generationConfig: { temperature: 0, maxOutputTokens: 100 } };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const text = (b: string | Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;
const rec = (x: Partial<InputRecord> = {}): InputRecord => ({ id: 'in.jsonl:1', source: 'in.jsonl', line: 1, prompt: 'Caption this', ...x });

function image(name: string, n: number): MediaRef {
  const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(n)]);
  const path = join(box.dir, name);
  writeFileSync(path, bytes);
  return { field: 'image', path, mimeType: 'image/png', sha256: sha(bytes), size: bytes.length, via: 'inline' };
}

describe('createRequestBuilder', () => {
  it('a request line\'s fields win over the template\'s, which fill what it leaves out (generationConfig key by key)', async () => {
    const b = createRequestBuilder({ base: async () => BASE });
    const body = text(await b.build(rec({ request: { contents: [{ role: 'user', parts: [{ text: 'Q' }] }], generationConfig: { temperature: 0.7 }, tools: [{ codeExecution: {} }] } })));
    expect(body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Q' }] }], systemInstruction: BASE.systemInstruction,
      generationConfig: { temperature: 0.7, maxOutputTokens: 100 }, tools: [{ codeExecution: {} }],
    });
    const own = text(await b.build(rec({ request: { contents: [{ parts: [{ text: 'Q' }] }], systemInstruction: { parts: [{ text: 'Mine.' }] } } })));
    expect(own.systemInstruction).toEqual({ parts: [{ text: 'Mine.' }] });
    await b.ready();
    expect(text(b.buildText(rec({ request: { contents: [{ parts: [{ text: 'Q' }] }] } })))).toEqual({ contents: [{ parts: [{ text: 'Q' }] }], ...BASE });
  });

  it('attachments go first as parts — inline base64 written from the file, an upload\'s URI, a URL — then the text', async () => {
    const a = image('a.png', 300_000); // over one read chunk: the base64 of several chunks joins up
    const up = { ...image('b.png', 50), via: 'file' as const };
    const uploads = { counts: { uploaded: 0, reused: 0, adopted: 0 }, forget: () => {}, ensure: async (f: { sha256: string }) => ({ uri: `files/${f.sha256.slice(0, 8)}`, mimeType: 'image/png' }) };
    const b = createRequestBuilder({ base: async () => BASE, uploads: async () => uploads });
    const raw = await b.build(rec({ media: [a, up, { field: 'link', url: 'https://x/y.pdf', mimeType: 'application/pdf', via: 'url' }] }));
    expect(Buffer.isBuffer(raw)).toBe(true);
    const body = text(raw) as { contents: Array<{ parts: Array<Record<string, { data?: string }>> }> };
    const parts = body.contents[0].parts;
    expect(Buffer.from(parts[0].inlineData.data!, 'base64').equals(readFileSync(a.path!))).toBe(true);
    expect(parts.slice(1)).toEqual([
      { fileData: { mimeType: 'image/png', fileUri: `files/${up.sha256!.slice(0, 8)}` } },
      { fileData: { mimeType: 'application/pdf', fileUri: 'https://x/y.pdf' } },
      { text: 'Caption this' },
    ]);
  });

  it('an inline file changed (or gone) since the reader hashed it is refused, not sent', async () => {
    const a = image('a.png', 100);
    const b = createRequestBuilder({ base: async () => BASE });
    writeFileSync(a.path!, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(100)])); // same size, other bytes
    await expect(b.build(rec({ media: [a] }))).rejects.toThrow(/a\.png changed since this run read it/);
    await expect(b.build(rec({ media: [{ ...a, path: join(box.dir, 'gone.png') }] }))).rejects.toBeInstanceOf(MediaInputError);
  });

  it('a context goes first as its own turn; with a cache the request names it instead and carries no system instruction', async () => {
    let cache: string | undefined;
    const context: ContextUse = { turnJson: () => '{"role":"user","parts":[{"text":"MANUAL"}]}', cacheName: () => cache, cacheGone: () => (cache = undefined) };
    const b = createRequestBuilder({ base: async () => BASE, context });
    expect(text(await b.build(rec()))).toEqual({ contents: [{ role: 'user', parts: [{ text: 'MANUAL' }] }, { role: 'user', parts: [{ text: 'Caption this' }] }], ...BASE });
    cache = 'cachedContents/c1';
    expect(text(await b.build(rec()))).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Caption this' }] }], generationConfig: BASE.generationConfig, cachedContent: 'cachedContents/c1' });
    // A line with its own system instruction cannot name the cache: the context goes first instead.
    const own = text(await b.build(rec({ request: { contents: [{ parts: [{ text: 'Q' }] }], systemInstruction: { parts: [{ text: 'Mine.' }] } } })));
    expect(own.cachedContent).toBeUndefined();
    expect((own.contents as unknown[]).length).toBe(2);
    expect(await b.forget(new Error('{"error":{"code":403,"message":"CachedContent not found (or permission denied)"}}'))).toBe(true);
    expect(cache).toBeUndefined();
  });

  it('bodies: built before the work, sent per attempt; a file that cannot be sent is a failure record, nothing sent', async () => {
    const sent: Array<string | Uint8Array> = [];
    const client = Object.assign(async () => ({ kind: 'ok' as const, text: 'prompt path', finishReason: 'STOP', usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 } }), {
      sendBody: async (body: string | Uint8Array) => {
        sent.push(body);
        return { kind: 'ok' as const, text: 'body path', finishReason: 'STOP', usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 } };
      },
    });
    const bodies = createRequestBodies(createRequestBuilder({ base: async () => BASE }), client);
    const stats = createStats();
    const work = bodies.wrap(async (r, signal) => {
      const res = await bodies.generate(r.prompt, signal, r);
      return { id: r.id, source: r.source, line: r.line, prompt: r.prompt, response: (res as { text: string }).text, model: 'm', finishReason: 'STOP', usage: res.usage, attempts: 1, latencyMs: 0 };
    }, stats);
    const signal = new AbortController().signal;
    expect(await work(rec(), signal)).toMatchObject({ response: 'prompt path' });
    expect(await work(rec({ request: { contents: [{ parts: [{ text: 'Q' }] }] } }), signal)).toMatchObject({ response: 'body path' });
    expect(sent).toHaveLength(1);
    const gone = await work(rec({ media: [{ field: 'image', path: join(box.dir, 'none.png'), mimeType: 'image/png', sha256: 'ab', size: 3, via: 'inline' }] }), signal);
    expect(gone).toMatchObject({ attempts: 0, error: { status: 'INVALID_INPUT', message: expect.stringContaining('none.png can no longer be read') } });
    expect(sent).toHaveLength(1);
    expect(stats.failedByStatus).toEqual({ INVALID_INPUT: 1 });
  });
});

describe('hashes', () => {
  const spec = requestSpecOf({ model: 'gemini-2.5-flash', temperature: 0 });
  const m = (over: Partial<MediaRef> = {}): MediaRef => ({ field: 'image', path: '/a.png', mimeType: 'image/png', sha256: 'a'.repeat(64), size: 10, via: 'inline', ...over });

  it('a text record hashes as it always did; bytes, type, field, a URL, a request line and a context each change it; the transport does not', () => {
    const plain = rec();
    expect(spec.hashOf(plain)).toBe(spec.hash(plain.prompt));
    expect(spec.cacheKeyOf(plain)).toBe(spec.cacheKey(plain.prompt));
    const withImage = spec.hashOf(rec({ media: [m()] }));
    const variants = [
      withImage, spec.hashOf(rec({ media: [m({ sha256: 'b'.repeat(64) })] })), spec.hashOf(rec({ media: [m({ mimeType: 'image/jpeg' })] })),
      spec.hashOf(rec({ media: [m({ field: 'scan' })] })), spec.hashOf(rec({ media: [{ field: 'image', url: 'https://x/a.png', via: 'url' }] })),
      spec.hashOf(rec({ request: { contents: [{ parts: [{ text: 'Caption this' }] }] } })), requestSpecOf({ model: 'gemini-2.5-flash', temperature: 0 }, { contextDigest: 'c1' }).hashOf(plain),
      spec.hash(plain.prompt),
    ];
    expect(new Set(variants).size).toBe(variants.length);
    expect(spec.hashOf(rec({ media: [m({ via: 'file', path: '/elsewhere/a.png' })] }))).toBe(withImage);
    // Key order in a request line does not matter.
    expect(spec.hashOf(rec({ request: { generationConfig: { a: 1, b: 2 }, contents: [] } }))).toBe(spec.hashOf(rec({ request: { contents: [], generationConfig: { b: 2, a: 1 } } })));
  });
});
