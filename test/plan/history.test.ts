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
});
