// A line inserted or deleted moves every line below it: with --redo-changed each moved line reuses
// the answer the directory already holds for its request (a shard, or superseded.jsonl), so only
// the new line is asked. The built CLI against an emulator in this process; verify is the oracle.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { verify } from '../../src/output/verify.js';
import type { SuccessRecord } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const line = (i: number) => JSON.stringify({ prompt: `What is two times ${i}?`, n: i });

describe('--redo-changed reuses the answers of moved lines', () => {
  it('500-line JSONL, a line inserted at the top: 1 request (501 before), the rest reused and said; a line deleted: 0; verify passes', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'q.jsonl');
    const lines = Array.from({ length: 500 }, (_, i) => line(i + 1));
    writeFileSync(f, lines.join('\n') + '\n');
    const out = join(box.dir, 'out');
    const run = async (...more: string[]) => {
      const p = start(['-o', out, '--rpm', 'off', '--input-format', 'jsonl', '--keep', 'n', ...more, f], { env: env(box.emu.url) });
      return { code: await p.exited, stderr: p.stderr() };
    };
    expect((await run()).code).toBe(0);
    expect(box.emu.stats.requests).toBe(500);

    writeFileSync(f, [line(0), ...lines].join('\n') + '\n');
    const inserted = await run('--redo-changed');
    expect(inserted.code, inserted.stderr).toBe(0);
    expect(box.emu.stats.requests - 500).toBe(1);
    expect(inserted.stderr).toContain('500 record(s) reused an answer already in the output directory');
    const recs = readOutputs(out).all as SuccessRecord[];
    expect(recs).toHaveLength(501);
    const byLine = new Map(recs.map((r) => [r.line, r]));
    expect(byLine.get(1)).toMatchObject({ prompt: 'What is two times 0?', attempts: 1, n: 0 });
    expect(byLine.get(2)).toMatchObject({ prompt: 'What is two times 1?', response: 'Two times 1 is 2.', attempts: 0, n: 1, reusedFrom: `${f}:1` });
    expect(byLine.get(2)!.usage.totalTokens).toBe(0); // it cost nothing: summing usage gives what was billed
    expect((await verify({ out, inputs: [f] })).problems).toEqual([]);

    // Deleting the top line again moves everything back up: nothing to ask.
    writeFileSync(f, lines.join('\n') + '\n');
    const deleted = await run('--redo-changed');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(box.emu.stats.requests - 501).toBe(0);
    expect(readOutputs(out).all).toHaveLength(500);
    expect((await verify({ out, inputs: [f] })).problems).toEqual([]);
    expect(readFileSync(join(out, 'superseded.jsonl'), 'utf8').split('\n').length).toBeGreaterThan(500);
  });

  it('without --redo-changed nothing is reused: the moved lines stop the run (exit 2, nothing sent)', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'q.txt');
    writeFileSync(f, 'alpha\nbeta\n');
    const out = join(box.dir, 'out');
    const first = start(['-o', out, '--rpm', 'off', f], { env: env(box.emu.url) });
    expect(await first.exited).toBe(0);
    writeFileSync(f, 'zero\nalpha\nbeta\n');
    const again = start(['-o', out, '--rpm', 'off', f], { env: env(box.emu.url) });
    expect(await again.exited).toBe(2);
    expect(box.emu.stats.requests).toBe(2);
  });
});
