// Issue 24's emulator items through @google/genai: inlineData and fileData parts (an uploaded file
// or an http(s) URL the emulator fetches) answered from their bytes' SHA-256, so a test can tell
// which image went with which request; the Files API's states; cachedContents create/get/list/
// update/delete with the model's minimum, expiry and cachedContentTokenCount; implicit caching of a
// repeated long prefix. Time is scaled; polls wait for a state, never for a duration.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPartFromBase64, createPartFromUri, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
const client = (url: string) => new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: url } });
const sha16 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const png = (seed: number) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(64 + seed)]);
const text = (r: GenerateContentResponse) => (r.candidates?.[0]?.content?.parts ?? []).filter((p) => !p.thought).map((p) => p.text ?? '').join('');

async function until<T>(get: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  for (;;) {
    const t = await get();
    if (done(t)) return t;
    await new Promise((r) => setTimeout(r, 10));
  }
}

let web: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (web ? web.close(() => r()) : r()));
  web = undefined;
});

describe('emulator: inlineData and fileData parts', () => {
  it('an inline image is answered from its bytes: the answer names its SHA-256; it costs 258 IMAGE tokens', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const a = png(1);
    const b = png(2);
    const ask = (img: Buffer) => ai.models.generateContent({
      model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'Caption this.' }, createPartFromBase64(img.toString('base64'), 'image/png')] }],
    });
    const ra = await ask(a);
    const rb = await ask(b);
    expect(ra.text).toContain(`image/png sha256:${sha16(a)}`);
    expect(rb.text).toContain(`image/png sha256:${sha16(b)}`);
    expect((await ask(a)).text).toBe(ra.text);
    expect(ra.usageMetadata!.promptTokensDetails).toEqual([{ modality: 'TEXT', tokenCount: 4 }, { modality: 'IMAGE', tokenCount: 258 }]);
    expect(ra.usageMetadata!.promptTokenCount).toBe(262);
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: 'not base64!' } }] }] }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('Base64 decoding failed') });
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [createPartFromBase64('AAAA', 'application/octet-stream')] }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('Unsupported MIME type: application/octet-stream') });
  });

  it('a fileData part names an uploaded file (by URI or name), answered from its content hash; a deleted one is the 403', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const bytes = png(3);
    const p = join(box.dir, 'cat.png');
    writeFileSync(p, bytes);
    const f = await ai.files.upload({ file: p, config: { mimeType: 'image/png' } });
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'What is this?' }, createPartFromUri(f.uri!, 'image/png')] }] });
    expect(r.text).toContain(`image/png sha256:${sha16(bytes)}`);
    const byName = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'What is this?' }, createPartFromUri(f.name!, 'image/png')] }] });
    expect(byName.text).toBe(r.text);
    await ai.files.delete({ name: f.name! });
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [createPartFromUri(f.uri!, 'image/png')] }))
      .rejects.toMatchObject({ status: 403, message: expect.stringContaining('or it may not exist') });
  });

  it('a fileData http(s) URL is fetched, as the service fetches it: answered from the bytes it serves; an unreachable one is a 400', async () => {
    const images: Record<string, Buffer> = { '/a.png': png(4), '/b.png': png(5) };
    web = createServer((req, res) => {
      const b = images[req.url ?? ''];
      if (!b) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'image/png' }).end(b);
    });
    await new Promise<void>((r) => web!.listen(0, '127.0.0.1', () => r()));
    const port = (web.address() as { port: number }).port;
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const ask = (path: string) => ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'Describe' }, { fileData: { fileUri: `http://127.0.0.1:${port}${path}` } }] }] });
    expect((await ask('/a.png')).text).toContain(`image/png sha256:${sha16(images['/a.png'])}`);
    expect((await ask('/b.png')).text).toContain(`image/png sha256:${sha16(images['/b.png'])}`);
    await expect(ask('/missing.png')).rejects.toMatchObject({ status: 400, message: expect.stringContaining('Cannot fetch content from the provided URL') });
  });

  it('a video is PROCESSING at first and refused until ACTIVE', async () => {
    box.emu = await startEmulator({}); // 10 s of processing: it stays PROCESSING for this part
    let ai = client(box.emu.url);
    const p = join(box.dir, 'clip.mp4');
    writeFileSync(p, randomBytes(256));
    let f = await ai.files.upload({ file: p, config: { mimeType: 'video/mp4' } });
    expect(f.state).toBe('PROCESSING');
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [createPartFromUri(f.uri!, 'video/mp4')] }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('is not in an ACTIVE state') });
    await box.emu.close();
    box.emu = await startEmulator({ filesTimeScale: 200 }); // 50 ms of processing
    ai = client(box.emu.url);
    f = await ai.files.upload({ file: p, config: { mimeType: 'video/mp4' } });
    await until(() => ai.files.get({ name: f.name! }), (x) => x.state === 'ACTIVE');
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'Summarise' }, createPartFromUri(f.uri!, 'video/mp4')] }] });
    expect(r.text).toContain('video/mp4 sha256:');
  });

  it('a batch request carries its image too', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const ai = client(box.emu.url);
    const img = png(6);
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash', config: { displayName: 'images' },
      src: [{ contents: [{ role: 'user', parts: [{ text: 'Caption' }, createPartFromBase64(img.toString('base64'), 'image/png')] }] }],
    });
    const done = await until(() => ai.batches.get({ name: job.name! }), (j) => j.state === 'JOB_STATE_SUCCEEDED');
    expect(text(done.dest!.inlinedResponses![0].response as GenerateContentResponse)).toContain(`sha256:${sha16(img)}`);
  });
});

describe('emulator: context caching', () => {
  const manual = 'The manual says: ' + 'Valves must be checked weekly and logged. '.repeat(150); // ~6,300 characters, ~1,580 tokens

  it('an explicit cache: the model\'s minimum, get/list/update/delete, cachedContentTokenCount on every use, the 403 once gone', async () => {
    box.emu = await startEmulator({ cacheTimeScale: 1 });
    const ai = client(box.emu.url);
    await expect(ai.caches.create({ model: 'gemini-2.5-flash', config: { contents: 'too short', ttl: '300s' } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Cached content is too small\. total_token_count=\d+, min_total_token_count=1024"/) });
    await expect(ai.caches.create({ model: 'gemini-2.5-pro', config: { contents: manual, ttl: '300s' } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('min_total_token_count=4096') });
    const c = await ai.caches.create({ model: 'gemini-2.5-flash', config: { contents: manual, systemInstruction: 'You answer from the manual.', ttl: '300s', displayName: 'manual' } });
    expect(c.name).toMatch(/^cachedContents\//);
    expect(Date.parse(c.expireTime!) - Date.parse(c.createTime!)).toBe(300_000);
    const tokens = c.usageMetadata!.totalTokenCount!;
    expect(tokens).toBeGreaterThanOrEqual(1024);
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'How often are valves checked?', config: { cachedContent: c.name } });
    expect(r.usageMetadata!.cachedContentTokenCount).toBe(tokens);
    expect(r.usageMetadata!.promptTokenCount).toBeGreaterThan(tokens);
    const plain = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'How often are valves checked?' });
    expect(plain.usageMetadata!.cachedContentTokenCount).toBeUndefined();
    expect(r.text).not.toBe(plain.text); // the cached manual is part of the conversation
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { cachedContent: c.name, systemInstruction: 'Other.' } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('CachedContent can not be used with GenerateContent request setting system_instruction') });
    await expect(ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'x', config: { cachedContent: c.name } }))
      .rejects.toMatchObject({ status: 400, message: expect.stringContaining('has to be the same') });
    const updated = await ai.caches.update({ name: c.name!, config: { ttl: '7200s' } });
    expect(Date.parse(updated.expireTime!) - Date.parse(updated.updateTime!)).toBe(7_200_000);
    const second = await ai.caches.create({ model: 'gemini-2.5-flash', config: { contents: manual + ' Second edition.', ttl: '300s' } });
    const listed: string[] = [];
    for await (const x of await ai.caches.list({ config: { pageSize: 1 } })) listed.push(x.name!);
    expect(listed).toEqual([second.name, c.name]);
    expect((await ai.caches.get({ name: c.name! })).displayName).toBe('manual');
    await ai.caches.delete({ name: c.name! });
    await expect(ai.caches.get({ name: c.name! })).rejects.toMatchObject({ status: 403, message: expect.stringContaining('CachedContent not found') });
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { cachedContent: c.name } })).rejects.toMatchObject({ status: 403 });
    expect(box.emu.caches).toMatchObject({ created: 2, deleted: 1 });
  });

  it('a cache expires at its TTL on the caches clock', async () => {
    box.emu = await startEmulator({ cacheTimeScale: 3600 / 0.05 }); // an hour in 50 ms
    const ai = client(box.emu.url);
    const c = await ai.caches.create({ model: 'gemini-2.5-flash', config: { contents: manual, ttl: '3600s' } });
    await until(() => ai.caches.get({ name: c.name! }).then(() => 'live', () => 'gone'), (s) => s === 'gone');
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { cachedContent: c.name } })).rejects.toMatchObject({ status: 403 });
  });

  it('implicit caching: a repeated prefix of at least the model\'s minimum is reported as cached, by whole 1,024-token blocks', async () => {
    box.emu = await startEmulator({});
    const ai = client(box.emu.url);
    const ask = (model: string, q: string, prefix = manual) => ai.models.generateContent({ model, contents: `${prefix}\nQuestion: ${q}` });
    expect((await ask('gemini-2.5-flash', 'first')).usageMetadata!.cachedContentTokenCount).toBeUndefined();
    const hit = await ask('gemini-2.5-flash', 'second');
    expect(hit.usageMetadata!.cachedContentTokenCount).toBe(1024);
    expect(hit.usageMetadata!.cacheTokensDetails).toEqual([{ modality: 'TEXT', tokenCount: 1024 }]);
    // Another model keeps its own cache; 2.0 has no implicit caching; Pro needs 4,096 tokens.
    expect((await ask('gemini-2.5-flash-lite', 'x')).usageMetadata!.cachedContentTokenCount).toBeUndefined();
    await ask('gemini-2.0-flash', 'a');
    expect((await ask('gemini-2.0-flash', 'b')).usageMetadata!.cachedContentTokenCount).toBeUndefined();
    await ask('gemini-2.5-pro', 'a');
    expect((await ask('gemini-2.5-pro', 'b')).usageMetadata!.cachedContentTokenCount).toBeUndefined();
    // A prefix that differs early shares nothing.
    expect((await ask('gemini-2.5-flash', 'third', 'Changed! ' + manual)).usageMetadata!.cachedContentTokenCount).toBeUndefined();
    expect(box.emu.caches.implicitHits).toBe(1);
  });
});
