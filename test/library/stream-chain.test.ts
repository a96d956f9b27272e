// SPEC §9: each stage is usable on its own inside stream-chain's chain(), next to plain
// functions (composition with teardown still belongs to stream.pipeline: STYLE rule 2).

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { describe, expect, it } from 'vitest';
import { createGenerateStage, createLimiter, layer, type InputRecord, type OutputRecord } from '../../src/index.js';

describe('stages inside stream-chain', () => {
  it('a generate stage (with a custom backend) and a layer compose with plain functions', async () => {
    const limiter = createLimiter({});
    const records: InputRecord[] = Array.from({ length: 50 }, (_, i) => ({ id: `s:${i + 1}`, source: 's', line: i + 1, prompt: `two times ${i}` }));
    const generate = async (prompt: string) => ({ kind: 'ok' as const, text: `answer to ${prompt}`, finishReason: 'STOP', usage: { promptTokens: 3, responseTokens: 4, totalTokens: 7 } });
    const pipe = chain([
      (r: InputRecord) => (r.line % 10 === 0 ? null : r), // a plain function that drops items
      createGenerateStage({ generate, limiter, concurrency: 8, model: 'm', retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }),
      layer(async (r: OutputRecord) => ('response' in r ? `${r.id} ${r.response}` : null), 4),
    ]);
    const out: string[] = [];
    await pipeline(Readable.from(records), pipe, new Writable({ objectMode: true, write(x: string, _e, cb) { out.push(x); cb(); } }));
    await limiter.stop();
    expect(out.length).toBe(45);
    expect(out.sort()).toContain('s:1 answer to two times 0');
    expect(out.some((x) => x.startsWith('s:10 '))).toBe(false);
  });
});
