// --vectors f32|npy|parquet (issue 25): binary shards beside a JSONL index, read back by readers
// that are not gempipe's — DuckDB (from npm, prebuilt) for Parquet, the npy format's own header for
// npy — and matched to the JSONL run's vectors; and the built CLI killed with SIGKILL again and
// again, then resumed: every text exactly once in the index, every row its text's vector.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { parseEmbedOptions } from '../../src/cli/embed-options.js';
import type { RawOptions } from '../../src/cli/options.js';
import type { EmbeddingRecord } from '../../src/embed/embed-record.js';
import { embeddingOf } from '../../src/emulator/embed.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { run } from '../../src/run.js';
import { env, start } from '../helpers/cli-helpers.js';
import { TEST_KEY } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, stdio } from '../helpers/util.js';

const box = sandbox();

async function embedAgainst(emu: Emulator, inputs: string[], raw: RawOptions) {
  const o = parseEmbedOptions({ quiet: true, rpm: 'off', model: 'gemini-embedding-001', textsPerCall: '100', callWait: '20', vectors: 'jsonl', ...raw }, inputs, {
    env: { GEMINI_API_KEY: TEST_KEY, GEMINI_BASE_URL: emu.url },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  return run(o, stdio());
}

const records = (out: string) => readOutputs(out).all as unknown as EmbeddingRecord[];

/** An npy file as numpy reads it: the header's shape and dtype, then the rows. */
function readNpy(path: string): { shape: number[]; rows: Float32Array } {
  const b = readFileSync(path);
  expect(b.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
  const len = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + len).toString('latin1');
  expect(header).toContain("'descr': '<f4'");
  expect((10 + len) % 64).toBe(0);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const data = b.subarray(10 + len);
  expect(data.length).toBe(shape[0] * shape[1] * 4);
  return { shape, rows: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}

describe('--vectors', () => {
  it('parquet: DuckDB reads every vector back, equal (as float32) to the JSONL run\'s', async () => {
    box.emu = await startEmulator({});
    const x = join(box.dir, 'docs.txt');
    writeFileSync(x, Array.from({ length: 230 }, (_, i) => `passage ${i} on subject ${i % 11}`).join('\n') + '\n');
    const jsonl = join(box.dir, 'jsonl');
    const pq = join(box.dir, 'pq');
    expect((await embedAgainst(box.emu, [x], { out: jsonl, dimensions: '24', normalize: true })).exitCode).toBe(0);
    expect((await embedAgainst(box.emu, [x], { out: pq, dimensions: '24', normalize: true, vectors: 'parquet', shardSize: '100', dedupe: true })).exitCode).toBe(0);
    const files = readdirSync(pq).filter((n) => n.endsWith('.parquet')).sort();
    expect(files).toEqual(['vectors-00000.parquet', 'vectors-00001.parquet', 'vectors-00002.parquet']);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const got = (await c.runAndReadAll(`select id, embedding, filename from read_parquet('${join(pq, 'vectors-*.parquet')}', filename = true)`)).getRowObjectsJson() as Array<{ id: string; embedding: number[]; filename: string }>;
    expect(got).toHaveLength(230);
    const want = new Map(records(jsonl).map((r) => [r.id, r.embedding!]));
    const index = new Map(records(pq).map((r) => [r.id, r]));
    for (const row of got) {
      expect(row.embedding).toEqual(want.get(row.id)!.map((v) => Math.fround(v)));
      expect(index.get(row.id)!.shard).toBe(row.filename.split('/').pop());
      expect(index.get(row.id)!.embedding).toBeUndefined();
    }
    c.closeSync();
  });

  it('npy through SIGKILLs and resumes: every text once in the index, every row its text\'s vector', async () => {
    const x = join(box.dir, 'docs.txt');
    const N = 1200;
    const texts = Array.from({ length: N }, (_, i) => `text number ${i}: the quick brown fox ${i % 13}`);
    writeFileSync(x, texts.join('\n') + '\n');
    const out = join(box.dir, 'out');
    let killAt = Infinity;
    let child: ReturnType<typeof start> | undefined;
    box.emu = await startEmulator({
      latencyMs: 5,
      onAnswer: () => {
        if (box.emu!.stats.ok >= killAt && child && child.child.exitCode === null) child.child.kill('SIGKILL');
      },
    });
    const args = ['embed', '-o', out, '--dimensions', '16', '--vectors', 'npy', '--shard-size', '150', '--texts-per-call', '25', '--concurrency', '2', '--rpm', 'off', '--fsync', 'none', '-q', x];
    let kills = 0;
    for (let k = 0; k < 30; k++) {
      killAt = box.emu.stats.ok + 3 + (k % 3) * 4;
      child = start(args, { env: env(box.emu.url) });
      const code = await child.exited;
      if (code === 'SIGKILL') kills++;
      else {
        expect(code, child.stderr()).toBe(0);
        break;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const index = records(out);
    expect(index).toHaveLength(N);
    expect(new Set(index.map((r) => r.id)).size).toBe(N);
    expect(readdirSync(out).filter((n) => n.endsWith('.partial') || n.endsWith('.tmp'))).toEqual([]);
    const files = new Map<string, { shape: number[]; rows: Float32Array }>();
    for (const r of index) {
      const f = files.get(r.shard!) ?? readNpy(join(out, r.shard!));
      files.set(r.shard!, f);
      expect(r.row!).toBeLessThan(f.shape[0]);
      expect(Array.from(f.rows.subarray(r.row! * 16, r.row! * 16 + 16))).toEqual(embeddingOf(texts[r.line - 1], 3072).slice(0, 16).map((v) => Math.fround(v)));
    }
    // Rows nobody's index line names (cut at each resume) are gone: every row is some record's.
    expect([...files.values()].reduce((n, f) => n + f.shape[0], 0)).toBe(N);
  }, 240_000);
});
