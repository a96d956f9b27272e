// The emulator's Files and Batch endpoints through the real @google/genai SDK (files.upload,
// batches.create/get/list/cancel, files.download): wire shapes the SDK accepts, states over
// (scaled) time, per-request errors in the responses file (google.rpc.Status, as the service
// writes them: adapted from the old HTTP-shaped errors), expiry and cancellation.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

function jsonl(prompts: string[]): string {
  return prompts.map((p, i) => JSON.stringify({ key: `k${i + 1}`, request: { contents: [{ parts: [{ text: p }], role: 'user' }] } })).join('\n') + '\n';
}

async function until<T>(get: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  for (;;) {
    const t = await get();
    if (done(t)) return t;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('emulator: Files and Batch endpoints', () => {
  it('upload, create, pending -> running -> succeeded, download: one response or error per key', async () => {
    // A 1 min pending and 10 min running batch, 6,000 times faster: about 0.1 s.
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: box.emu.url } });
    const input = join(box.dir, 'in.jsonl');
    writeFileSync(input, jsonl(['What is two times 21?', 'this one fails [[emu:batchfail]]', 'hello']));
    const file = await ai.files.upload({ file: input, config: { mimeType: 'application/jsonl', displayName: 'in' } });
    expect(file.name).toMatch(/^files\//);
    expect(file.sizeBytes).toBe(String(readFileSync(input).length));
    const job = await ai.batches.create({ model: 'gemini-flash-latest', src: file.name!, config: { displayName: 'job-1' } });
    expect(job.name).toMatch(/^batches\//);
    expect(job.state).toBe('JOB_STATE_PENDING');
    const seen = new Set<string>();
    const done = await until(() => ai.batches.get({ name: job.name! }), (j) => {
      seen.add(String(j.state));
      return j.state === 'JOB_STATE_SUCCEEDED';
    });
    expect(seen.has('JOB_STATE_SUCCEEDED')).toBe(true);
    const out = done.dest?.fileName;
    expect(out).toMatch(/^files\//);
    const path = join(box.dir, 'out.jsonl');
    await ai.files.download({ file: out!, downloadPath: path });
    // The service promises no order: responses are matched by key.
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.key.localeCompare(b.key));
    expect(lines.map((l) => l.key)).toEqual(['k1', 'k2', 'k3']);
    expect(lines[0].response.candidates[0].content.parts[0].text).toBe('Two times 21 is 42.');
    expect(lines[0].response.usageMetadata.promptTokenCount).toBeGreaterThan(0);
    expect(lines[1].error).toMatchObject({ code: 3 });
    expect(lines[1].error.status).toBeUndefined();
    const listed = await ai.batches.list();
    const names: string[] = [];
    for await (const b of listed) names.push(b.name!);
    expect(names).toContain(job.name);
    expect(box.emu.batch).toMatchObject({ uploads: 1, batchesCreated: 1, downloads: 1 });
  });

  it('a batch that expires, one that fails, and one cancelled end in those states with no responses file', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: box.emu.url } });
    const make = async (prompts: string[]) => {
      const p = join(box.dir, `in-${Math.random()}.jsonl`);
      writeFileSync(p, jsonl(prompts));
      const f = await ai.files.upload({ file: p, config: { mimeType: 'application/jsonl' } });
      return ai.batches.create({ model: 'gemini-flash-latest', src: f.name!, config: { displayName: 'job' } });
    };
    const expiring = await make(['a', 'b [[emu:batchexpire]]']);
    const failing = await make(['c [[emu:batchjobfail]]']);
    const cancelled = await make(['d']);
    await ai.batches.cancel({ name: cancelled.name! });
    const end = (name: string) => until(() => ai.batches.get({ name }), (j) => ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(String(j.state)));
    expect((await end(expiring.name!)).state).toBe('JOB_STATE_EXPIRED');
    expect((await end(failing.name!)).state).toBe('JOB_STATE_FAILED');
    const c = await end(cancelled.name!);
    expect(c.state).toBe('JOB_STATE_CANCELLED');
    expect(c.dest?.fileName).toBeUndefined();
  });
});
