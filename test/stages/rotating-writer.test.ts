import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutputRecord } from '../../src/records.js';
import { createRotatingWriter } from '../../src/stages/rotating-writer.js';
import { readJsonl, readOutputs, tempDir, openUnder } from '../helpers/util.js';

const ok = (i: number, response = `answer ${i}`): OutputRecord => ({
  id: `f:${i}`, source: 'f', line: i, prompt: `p${i}`, response, model: 'm', finishReason: 'STOP',
  usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 }, attempts: 1, latencyMs: 1,
});
const bad = (i: number): OutputRecord => ({ id: `f:${i}`, source: 'f', line: i, prompt: `p${i}`, attempts: 6, error: { status: 'UNAVAILABLE', code: 503, message: 'x' } });

let cleanup = () => {};

afterEach(() => cleanup());

describe('createRotatingWriter', () => {
  it('creates its directory itself (a library user need not)', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const dir = `${t.dir}/a/b/out`;
    await pipeline(Readable.from([ok(1), bad(2)]), createRotatingWriter({ dir }));
    expect(readOutputs(dir).all.map((r) => r.line)).toEqual([1, 2]);
  });

  it('fills each shard to --shard-size before opening the next, and sends failures to failures.jsonl', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const records = Array.from({ length: 2500 }, (_, i) => (i % 10 === 9 ? bad(i + 1) : ok(i + 1)));
    await pipeline(Readable.from(records), createRotatingWriter({ dir: t.dir, shardSize: 1000 }));
    const out = readOutputs(t.dir);
    expect(out.shards.map((s) => s.records.length)).toEqual([1000, 1000, 250]);
    expect(out.failures.length).toBe(250);
    expect(out.all.map((r) => r.line).sort((a, b) => a - b)).toEqual(records.map((r) => r.line));
  });

  it('rotates early by --shard-bytes, never splitting a record', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const records = Array.from({ length: 50 }, (_, i) => ok(i + 1, 'x'.repeat(100)));
    await pipeline(Readable.from(records), createRotatingWriter({ dir: t.dir, shardSize: 1000, shardBytes: 1000 }));
    const out = readOutputs(t.dir);
    const lineBytes = JSON.stringify(records[0]).length + 1;
    expect(out.shards.length).toBe(Math.ceil(50 / Math.floor(1000 / lineBytes)));
    for (const s of out.shards) expect(statSync(join(t.dir, s.name)).size).toBeLessThanOrEqual(1000);
    expect(out.all.length).toBe(50);
  });

  it('numbers shards on from the first number it is given (one above the highest existing) and creates no empty shard', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    await pipeline(Readable.from([ok(1), ok(2), ok(3)]), createRotatingWriter({ dir: t.dir, shardSize: 2, firstShard: 7 }));
    expect(readdirSync(t.dir).sort()).toEqual(['shard-00007.jsonl', 'shard-00008.jsonl']);
    await pipeline(Readable.from([bad(4)]), createRotatingWriter({ dir: t.dir, shardSize: 2, firstShard: 9 }));
    expect(readdirSync(t.dir).sort()).toEqual(['failures.jsonl', 'shard-00007.jsonl', 'shard-00008.jsonl']);
  });

  it('fails the pipeline when it cannot write, and releases every handle it had open', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeFileSync(`${t.dir}/a-file`, '');
    await expect(pipeline(Readable.from([ok(1)]), createRotatingWriter({ dir: `${t.dir}/a-file/sub` }))).rejects.toThrow(/ENOTDIR|EEXIST/);
    // A shard is open when failures.jsonl cannot be opened (a directory sits at its name).
    mkdirSync(`${t.dir}/out/failures.jsonl`, { recursive: true });
    const w = createRotatingWriter({ dir: `${t.dir}/out`, shardSize: 10 });
    await expect(pipeline(Readable.from([ok(1), ok(2), bad(3)]), w)).rejects.toThrow(/EISDIR/);
    for (let i = 0; i < 200 && openUnder(t.dir) > 0; i++) await new Promise((r) => setImmediate(r));
    expect(openUnder(t.dir)).toBe(0);
    expect(readJsonl(`${t.dir}/out/shard-00000.jsonl`).map((r) => r.line)).toEqual([1, 2]); // written whole before the fault
  });
});
