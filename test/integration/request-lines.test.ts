// --input-format request end to end: a Batch API input file (keys, roles, system instructions,
// generation configs, safety settings, an inline image, a URL) runs online and in --mode batch
// with the same records; the command line fills what a line leaves out; the key is kept; the
// hash covers the whole request (a changed line stops a resumed run before any request).

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { JOBS_DIR } from '../../src/output/layout.js';
import { isFailure, type SuccessRecord } from '../../src/records.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(64)]);
const sha16 = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const view = (out: string) => readOutputs(out).all.map((r) => `${r.id} ${r.hash} key=${r.key ?? '-'} ${isFailure(r) ? r.error.status : (r as SuccessRecord).response}`).sort();

let web: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (web ? web.close(() => r()) : r()));
  web = undefined;
});

function batchFile(dir: string, photoUrl: string): string {
  const lines: unknown[] = [];
  for (let i = 0; i < 20; i++) lines.push({ key: `q-${i}`, request: { contents: [{ role: 'user', parts: [{ text: `What is two times ${i}?` }] }] } });
  lines.push({ key: 'chat', request: { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }, { role: 'model', parts: [{ text: 'Hello!' }] }, { role: 'user', parts: [{ text: 'Tell me about valves' }] }] } });
  lines.push({ key: 'own-system', request: { system_instruction: { parts: [{ text: 'You are terse.' }] }, contents: [{ role: 'user', parts: [{ text: 'Tell me about pumps' }] }], generation_config: { max_output_tokens: 3000 } } });
  lines.push({ key: 'safety', request: { contents: [{ role: 'user', parts: [{ text: 'Tell me about pipes' }] }], safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] } });
  lines.push({ key: 'inline-image', request: { contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } }, { text: 'Caption this' }] }] } });
  lines.push({ key: 'url-image', request: { contents: [{ role: 'user', parts: [{ fileData: { mimeType: 'image/png', fileUri: photoUrl } }, { text: 'Caption that' }] }] } });
  lines.push({ contents: [{ role: 'user', parts: [{ text: 'A bare request, no key' }] }] });
  lines.push({ key: 'broken', request: { contents: [] } });
  const path = join(dir, 'batch-input.jsonl');
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

describe('--input-format request', () => {
  it('a Batch API file runs online and in batch mode with the same records; the key is kept; the command line fills what a line leaves out', async () => {
    const photo = randomBytes(32);
    web = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(photo));
    await new Promise<void>((r) => web!.listen(0, '127.0.0.1', () => r()));
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const input = batchFile(box.dir, `http://127.0.0.1:${(web.address() as { port: number }).port}/photo.png`);
    const raw = { inputFormat: 'request', system: 'Answer in capital letters.', temperature: '0' };
    const online = await runAgainst(box.emu, [input], { ...raw, out: join(box.dir, 'online') });
    expect(online, JSON.stringify(readOutputs(join(box.dir, 'online')).failures)).toMatchObject({ exitCode: 3, succeeded: 26, failedByStatus: { INVALID_INPUT: 1 } });
    // Detached first, to read the batch job's input file while the job is out (it is removed once written).
    const detached = await runAgainst(box.emu, [input], { ...raw, out: join(box.dir, 'batch'), mode: 'batch', detach: true });
    expect(detached.batch).toMatchObject({ jobs: 1, leftJobs: 1, detached: true });
    const jobsDir = join(box.dir, 'batch', JOBS_DIR);
    const sent = readFileSync(join(jobsDir, readdirSync(jobsDir).find((n) => n.endsWith('.requests.jsonl'))!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const batch = await runAgainst(box.emu, [input], { ...raw, out: join(box.dir, 'batch'), mode: 'batch', batchPoll: '20' });
    expect(batch).toMatchObject({ exitCode: 3, succeeded: 26 });
    expect(view(join(box.dir, 'batch'))).toEqual(view(join(box.dir, 'online')));
    expect(box.emu.batch.batchesCreated).toBe(1);

    const byKey = new Map(readOutputs(join(box.dir, 'online')).all.map((r) => [r.key ?? r.id, r as SuccessRecord]));
    expect(byKey.get('q-7')).toMatchObject({ line: 8, prompt: 'What is two times 7?', response: 'TWO TIMES 7 IS 14.' }); // --system filled in
    expect(byKey.get('own-system')!.response).not.toMatch(/^[A-Z0-9 #:.,]+$/); // its own system instruction kept
    expect(byKey.get('chat')!.response).toMatch(/\(TURN 3\)$/);
    expect(byKey.get('inline-image')!.response).toContain(`SHA256:${sha16(PNG).toUpperCase()}`);
    expect(byKey.get('url-image')!.response).toContain(`SHA256:${sha16(photo).toUpperCase()}`);
    expect(byKey.get(`${input}:26`)).toMatchObject({ prompt: 'A bare request, no key' });
    expect(byKey.get(`${input}:26`)!.key).toBeUndefined();
    expect(byKey.get('broken')).toMatchObject({ line: 27, error: { status: 'INVALID_INPUT', message: `line 27 of ${input} has a bad request: "contents" must be a non-empty array of turns` } });

    // The batch job's input file holds each line's own request, the command line's fields filled in.
    const own = sent.find((l) => l.key === `${input}:22`).request;
    expect(own).toMatchObject({ systemInstruction: { parts: [{ text: 'You are terse.' }] }, generationConfig: { temperature: 0, maxOutputTokens: 3000 } });
    expect(sent.find((l) => l.key === `${input}:1`).request.systemInstruction).toMatchObject({ parts: [{ text: 'Answer in capital letters.' }] });
  });

  it('the hash covers the whole request: a line changed in its config stops a resumed run before any request', async () => {
    box.emu = await startEmulator({});
    const input = join(box.dir, 'r.jsonl');
    const line = (t: number) => JSON.stringify({ key: 'k', request: { contents: [{ parts: [{ text: 'Same words' }] }], generationConfig: { temperature: t } } });
    writeFileSync(input, line(0) + '\n' + line(1) + '\n');
    const out = join(box.dir, 'out');
    expect((await runAgainst(box.emu, [input], { inputFormat: 'request', out })).exitCode).toBe(0);
    const [a, b] = readOutputs(out).all;
    expect(a.hash).not.toBe(b.hash);
    const sent = box.emu.stats.requests;
    writeFileSync(input, line(0) + '\n' + line(0.5) + '\n');
    await expect(runAgainst(box.emu, [input], { inputFormat: 'request', out })).rejects.toThrow(/1 input line\(s\) changed since their records were written .*r\.jsonl:2 — the prompt is the same/);
    expect(box.emu.stats.requests).toBe(sent);
  });
});
