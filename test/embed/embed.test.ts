// `gempipe embed` (issue 25) against the emulator, in-process through the real SDK over HTTP:
// every vector is its text's (the emulator's deterministic one), texts go many to a call and each
// is counted against the quota, a text whose call fails for good fails alone, an edited line is
// embedded again and nothing else, --dedupe and --cache cost nothing for what they answer, batch
// mode goes through the embedding batch endpoint, and verify checks an embedding directory.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEmbedOptions } from '../../src/cli/embed-options.js';
import type { RawOptions } from '../../src/cli/options.js';
import type { EmbeddingRecord } from '../../src/embed/embed-record.js';
import { embeddingOf } from '../../src/emulator/embed.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { verify } from '../../src/output/verify.js';
import { isFailure } from '../../src/records.js';
import { run } from '../../src/run.js';
import { TEST_KEY } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, stdio } from '../helpers/util.js';

const box = sandbox();

async function embedAgainst(emu: Emulator, inputs: string[], raw: RawOptions) {
  const o = parseEmbedOptions({ quiet: true, rpm: 'off', model: 'gemini-embedding-001', textsPerCall: '100', callWait: '20', vectors: 'jsonl', ...raw }, inputs, {
    env: { GEMINI_API_KEY: TEST_KEY, GEMINI_BASE_URL: emu.url },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  const io = stdio();
  return { ...(await run(o, io)), stderr: io.stderr.text };
}

const records = (out: string) => readOutputs(out).all as unknown as EmbeddingRecord[];
const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe('gempipe embed', () => {
  it('gives every text its own vector, many texts to a call, each text counted against the quota', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const x = join(box.dir, 'docs.txt');
    const texts = Array.from({ length: 250 }, (_, i) => `document ${i} is about topic ${i % 7}`);
    writeFileSync(x, texts.join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await embedAgainst(box.emu, [x], { out, dimensions: '16', concurrency: '2' });
    expect(r.exitCode, r.stderr).toBe(0);
    const all = records(out);
    expect(all).toHaveLength(250);
    for (const rec of all) {
      expect(rec.embedding).toEqual(embeddingOf(texts[rec.line - 1], 3072).slice(0, 16));
      expect(rec).toMatchObject({ dimensions: 16, model: 'gemini-embedding-001', attempts: 1 });
    }
    // Texts, not calls, are what the quota counts; calls hold up to 100 of them.
    expect(box.emu.stats.admitted).toBe(250);
    expect(box.emu.stats.requests).toBeGreaterThanOrEqual(3);
    expect(box.emu.stats.requests).toBeLessThan(250 / 4);
  });

  it('--normalize gives unit vectors; --task-type and a --title-field title change the vector as the API does', async () => {
    box.emu = await startEmulator({});
    const x = join(box.dir, 'docs.jsonl');
    writeFileSync(x, [{ body: 'cats purr', head: 'Cats' }, { body: 'dogs bark' }].map((d) => JSON.stringify(d)).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await embedAgainst(box.emu, [x], { out, inputFormat: 'jsonl', promptField: 'body', taskType: 'RETRIEVAL_DOCUMENT', titleField: 'head', dimensions: '32', normalize: true });
    expect(r.exitCode, r.stderr).toBe(0);
    const [a, b] = records(out).sort((p, q) => p.line - q.line);
    expect(a.title).toBe('Cats');
    const raw = embeddingOf('cats purr', 3072, 'RETRIEVAL_DOCUMENT', 'Cats').slice(0, 32);
    expect(a.embedding![5]).toBeCloseTo(raw[5] / norm(raw), 8);
    expect(norm(a.embedding!)).toBeCloseTo(1, 6);
    expect(b.title).toBeUndefined();
    const rawB = embeddingOf('dogs bark', 3072, 'RETRIEVAL_DOCUMENT').slice(0, 32);
    expect(b.embedding![0]).toBeCloseTo(rawB[0] / norm(rawB), 8);
  });

  it('a text whose call fails for good fails alone: the call is split in halves down to it', async () => {
    box.emu = await startEmulator({});
    const x = join(box.dir, 'docs.txt');
    const texts = Array.from({ length: 16 }, (_, i) => (i === 11 ? 'poison [[emu:400]]' : `fine text ${i}`));
    writeFileSync(x, texts.join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await embedAgainst(box.emu, [x], { out, dimensions: '8', textsPerCall: '16', callWait: '1000' });
    expect(r.exitCode).toBe(3);
    const { failures, all } = readOutputs(out);
    expect(failures.map((f) => [f.line, isFailure(f) && f.error.status])).toEqual([[12, 'INVALID_ARGUMENT']]);
    expect(all.filter((a) => !('error' in a))).toHaveLength(15);
    // One call of 16, then halves: 8+8, 4+4, 2+2, 1+1 — 1 + 2 * 4 calls.
    expect(box.emu.stats.requests).toBe(9);
  });

  it('a rerun after editing lines embeds those lines and nothing else (--redo-changed); without it, exit 2 and nothing sent', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const x = join(box.dir, 'docs.txt');
    const texts = Array.from({ length: 120 }, (_, i) => `paragraph ${i}`);
    writeFileSync(x, texts.join('\n') + '\n');
    const out = join(box.dir, 'out');
    expect((await embedAgainst(box.emu, [x], { out, dimensions: '8' })).exitCode).toBe(0);
    const edited = new Set([3, 17, 30, 44, 58, 61, 77, 90, 101, 119]);
    writeFileSync(x, texts.map((t, i) => (edited.has(i) ? `${t}, revised` : t)).join('\n') + '\n');
    const before = box.emu.stats.admitted;
    await expect(embedAgainst(box.emu, [x], { out, dimensions: '8' })).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('10 input line(s) changed') });
    expect(box.emu.stats.admitted).toBe(before);
    const again = await embedAgainst(box.emu, [x], { out, dimensions: '8', redoChanged: true });
    expect(again).toMatchObject({ exitCode: 0, succeeded: 10, skipped: 110 });
    expect(box.emu.stats.admitted - before).toBe(10);
    const byLine = new Map(records(out).map((r) => [r.line, r]));
    expect(byLine.size).toBe(120);
    expect(byLine.get(18)!.embedding).toEqual(embeddingOf('paragraph 17, revised', 3072).slice(0, 8));
  });

  it('--dedupe embeds each distinct text once; --cache makes a second directory free', async () => {
    box.emu = await startEmulator({});
    const x = join(box.dir, 'docs.txt');
    writeFileSync(x, Array.from({ length: 300 }, (_, i) => `chunk ${i % 30}`).join('\n') + '\n');
    const cache = join(box.dir, 'cache.lmdb');
    const r = await embedAgainst(box.emu, [x], { out: join(box.dir, 'a'), dimensions: '8', dedupe: true, cache });
    expect(r).toMatchObject({ exitCode: 0, succeeded: 300, deduped: 270 });
    expect(box.emu.stats.admitted).toBe(30);
    for (const rec of records(join(box.dir, 'a'))) expect(rec.embedding).toEqual(embeddingOf(rec.prompt, 3072).slice(0, 8));
    const again = await embedAgainst(box.emu, [x], { out: join(box.dir, 'b'), dimensions: '8', cache });
    expect(again).toMatchObject({ exitCode: 0, succeeded: 300, cached: 300 });
    expect(box.emu.stats.admitted).toBe(30);
    const b = records(join(box.dir, 'b'));
    expect(b.every((rec) => rec.cached === true && rec.embedding!.length === 8)).toBe(true);
    // verify recomputes each line's hash with the embedding shape kept in the directory.
    expect(await verify({ out: join(box.dir, 'b'), inputs: [x] })).toMatchObject({ ok: true, succeeded: 300 });
  });

  it('--mode batch goes through the embedding batch endpoint (asyncBatchEmbedContent), not online calls', async () => {
    box.emu = await startEmulator({ batchTimeScale: 60_000 });
    const x = join(box.dir, 'docs.jsonl');
    writeFileSync(x, Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `note ${i}`, t: `T${i}` })).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await embedAgainst(box.emu, [x], { out, mode: 'batch', batchPoll: '20', inputFormat: 'jsonl', promptField: 'text', taskType: 'RETRIEVAL_DOCUMENT', titleField: 't', dimensions: '8', batchMaxRequests: '25' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(box.emu.batch.batchesCreated).toBe(2);
    expect(box.emu.stats.requests).toBe(0); // no online embed call
    const all = records(out);
    expect(all).toHaveLength(40);
    for (const rec of all) {
      expect(rec.mode).toBe('batch');
      expect(rec.embedding).toEqual(embeddingOf(rec.prompt, 3072, 'RETRIEVAL_DOCUMENT', rec.title).slice(0, 8));
    }
  });
});
