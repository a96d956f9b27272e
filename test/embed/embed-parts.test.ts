// The parts of `gempipe embed` on their own: its flag rules (each a usage error naming the flag),
// the wire (the body sent for a call equals what @google/genai's models.embedContent sends for
// the same texts), --partition + merge of an embedding job, and --dry-run's price.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { EMBED_RULES, parseEmbedOptions } from '../../src/cli/embed-options.js';
import type { RawOptions } from '../../src/cli/options.js';
import { embedRequestOf } from '../../src/gemini/embed-client.js';
import { startEmulator } from '../../src/emulator/server.js';
import { merge } from '../../src/output/merge.js';
import { verify } from '../../src/output/verify.js';
import { run } from '../../src/run.js';
import { TEST_KEY } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, stdio } from '../helpers/util.js';

const box = sandbox();
const parse = (raw: RawOptions, inputs: string[] = ['x.txt']) =>
  parseEmbedOptions({ model: 'gemini-embedding-001', vectors: 'jsonl', textsPerCall: '100', callWait: '100', ...raw }, inputs, { env: { GEMINI_API_KEY: 'k' }, readFile: (p) => readFileSync(p, 'utf8') });

describe('embed flags', () => {
  it.each([
    [{ vectors: 'npy', out: '-' }, '`--vectors f32|npy|parquet`'],
    [{ titleField: 'head', taskType: 'RETRIEVAL_DOCUMENT' }, '`--title-field` reads a field'],
    [{ titleField: 'head', inputFormat: 'jsonl' }, 'needs `--task-type RETRIEVAL_DOCUMENT`'],
    [{ keep: 'embedding', inputFormat: 'jsonl' }, '`--keep`: title, embedding'],
    [{ inputFormat: 'request' }, '`--input-format request` reads whole generate requests'],
    [{ taskType: 'GUESSING' }, 'Expected `--task-type` to be one of'],
    [{ dimensions: '4096' }, 'Expected `--dimensions` to be an integer from 1 to 3072'],
    [{ textsPerCall: '101' }, 'Expected `--texts-per-call` to be an integer from 1 to 100'],
  ] as Array<[RawOptions, string]>)('%o is refused naming the flag', (raw, message) => {
    expect(() => parse(raw)).toThrow(message);
  });

  it('every rule in the table has a row above that trips it', () => {
    expect(EMBED_RULES).toHaveLength(5);
  });

  it('puts the embedding flags in the request shape, and only them', () => {
    const o = parse({ taskType: 'RETRIEVAL_QUERY', dimensions: '768', normalize: true, textsPerCall: '50', vectors: 'parquet' });
    expect(o.embed).toEqual({ taskType: 'RETRIEVAL_QUERY', dimensions: 768, normalize: true });
    expect(o).toMatchObject({ model: 'gemini-embedding-001', textsPerCall: 50, vectors: 'parquet' });
  });
});

describe('embed wire', () => {
  it('a call\'s body is the SDK\'s batchEmbedContents body for the same texts, byte for byte', async () => {
    let sent = '';
    const capture = async (_u: unknown, init?: RequestInit) => {
      sent = String(init?.body);
      return new Response('{"embeddings":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: 'http://127.0.0.1:9', fetch: capture as typeof fetch } });
    const texts = ['plain', 'with "quotes" and \\ and \n newline', 'ünïcødé ✓'];
    const shape = { taskType: 'RETRIEVAL_DOCUMENT', dimensions: 256 };
    await ai.models.embedContent({ model: 'gemini-embedding-001', contents: texts, config: { taskType: 'RETRIEVAL_DOCUMENT', outputDimensionality: 256, title: 'A title' } });
    const element = await embedRequestOf('k', 'http://127.0.0.1:9', 'gemini-embedding-001', { ...shape, titleField: 'head' });
    expect(`{"requests":[${texts.map((t) => element({ text: t, title: 'A title' })).join(',')}]}`).toBe(sent);
    await ai.models.embedContent({ model: 'gemini-embedding-001', contents: texts, config: { taskType: 'RETRIEVAL_DOCUMENT', outputDimensionality: 256 } });
    expect(`{"requests":[${texts.map((t) => element({ text: t })).join(',')}]}`).toBe(sent);
  });
});

describe('embed jobs in parts', () => {
  it('--partition i/3 then merge equals one run; verify passes the merged directory', async () => {
    box.emu = await startEmulator({});
    const x = join(box.dir, 'docs.txt');
    writeFileSync(x, Array.from({ length: 90 }, (_, i) => `part text ${i}`).join('\n') + '\n');
    const env = { GEMINI_API_KEY: TEST_KEY, GEMINI_BASE_URL: box.emu.url };
    const parts = [1, 2, 3].map((i) => join(box.dir, `p${i}`));
    for (const [i, out] of parts.entries()) {
      const o = parseEmbedOptions({ model: 'gemini-embedding-001', vectors: 'jsonl', textsPerCall: '100', callWait: '10', quiet: true, rpm: 'off', out, partition: `${i + 1}/3`, dimensions: '8' }, [x], { env, readFile: (p) => readFileSync(p, 'utf8') });
      expect((await run(o, stdio())).exitCode).toBe(0);
    }
    const out = join(box.dir, 'merged');
    const r = await merge({ out, dirs: parts, say: () => {} });
    expect(r.succeeded).toBe(90);
    expect(readOutputs(out).all).toHaveLength(90);
    expect(box.emu.stats.admitted).toBe(90);
    expect(await verify({ out, inputs: [x] })).toMatchObject({ ok: true, succeeded: 90 });
  });

  it('--dry-run prices an embedding job per input token, with no output tokens', async () => {
    const x = join(box.dir, 'docs.txt');
    writeFileSync(x, Array.from({ length: 4000 }, () => 'x'.repeat(400)).join('\n') + '\n'); // 100 tokens each at 4 characters a token, +1 a request
    const io = stdio();
    const o = parse({ dryRun: true, rpm: '3000', out: join(box.dir, 'out') }, [x]);
    await run(o, io);
    expect(io.stdout.text).toContain('input tokens (est.):  404,000 (1,600,000 characters');
    expect(io.stdout.text).toContain('output tokens:        0 (embeddings bill input tokens only; 4,000 vectors)');
    expect(io.stdout.text).toMatch(/cost \(est\.\): +\$0\.0606 for gemini-embedding-001 at \$0\.15\/M in/);
    expect(io.stdout.text).toContain('with --mode batch:    $0.0303');
  });
});

describe('the README\'s embed options table', () => {
  it('lists every flag of `gempipe embed` that a run does not have, with its default', async () => {
    const { EMBED_FLAGS } = await import('../../src/cli/flags.js');
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('Options of `gempipe embed`'), readme.indexOf('**The record** (JSONL by default'));
    for (const f of EMBED_FLAGS) {
      const long = /--[a-z-]+/.exec(f.flags)![0];
      const row = table.split('\n').find((l) => l.startsWith(`| \`${long}`));
      expect(row, long).toBeDefined();
      expect(row!.split('|')[2].trim().replace(/`/g, ''), long).toBe(f.default === undefined ? '' : String(f.default));
    }
  });
});
