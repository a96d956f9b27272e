// --dry-run's history: what the records already written say about the job, read line by line.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readHistory } from '../../src/plan.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

describe("--dry-run's history", () => {
  it('reads at most the records it needs, line by line, skipping a torn last line', async () => {
    const rec = (i: number) => JSON.stringify({ id: `x:${i}`, source: 'x', line: i, prompt: 'p'.repeat(40), response: 'r', usage: { promptTokens: 11, responseTokens: 7, totalTokens: 18 }, latencyMs: i });
    writeFileSync(join(box.dir, 'shard-00000.jsonl'), Array.from({ length: 30 }, (_, i) => rec(i + 1)).join('\n') + '\n{"torn');
    writeFileSync(join(box.dir, 'shard-00001.jsonl'), Array.from({ length: 30 }, (_, i) => rec(i + 31)).join('\n') + '\n');
    const h = await readHistory(box.dir, 0, 40);
    expect(h.records).toBe(40);
    expect(h.avgResponseTokens).toBe(7);
    expect(h.charsPerToken).toBeCloseTo(40 / 11);
    expect(h.medianLatencyMs).toBe(21);
  });

  it('learns from answers asked for only: --dedupe copies, --cache hits and reused answers cost nothing and took no time', async () => {
    const zero = { promptTokens: 0, responseTokens: 0, totalTokens: 0 };
    const lines = [
      { id: 'x:1', prompt: 'p'.repeat(40), usage: { promptTokens: 10, responseTokens: 30, totalTokens: 40 }, attempts: 1, latencyMs: 900 },
      ...Array.from({ length: 9 }, (_, i) => ({ id: `x:${i + 2}`, prompt: 'p'.repeat(40), usage: zero, attempts: 0, latencyMs: 0, dedupedFrom: 'x:1' })),
      { id: 'x:11', prompt: 'p'.repeat(40), usage: zero, attempts: 0, latencyMs: 0, reusedFrom: 'old:3' },
      { id: 'x:12', prompt: 'p'.repeat(40), usage: { promptTokens: 10, responseTokens: 30, totalTokens: 40 }, attempts: 1, latencyMs: 0, cached: true },
    ];
    writeFileSync(join(box.dir, 'shard-00000.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const h = await readHistory(box.dir);
    expect(h.records).toBe(1);
    expect(h.avgResponseTokens).toBe(30);
    expect(h.medianLatencyMs).toBe(900);
  });
});
