// A line inserted or deleted moves every line below it: with --redo-changed each moved line reuses
// the answer the directory already holds for its request (a shard, or superseded.jsonl), so only
// the new line is asked; an edited --keep field is a change the check and verify see, redone for
// free. The built CLI against an emulator in this process; verify is the oracle.

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

  it('an edited --keep field is a changed line (exit 2, nothing sent) and verify says so; --redo-changed rewrites the record without a request', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 't.csv');
    const csv = (owner: string) => `id,owner,question\n1,ann,What is two times 1?\n2,${owner},What is two times 2?\n3,cy,What is two times 3?\n`;
    writeFileSync(f, csv('bob'));
    const out = join(box.dir, 'out');
    const run = async (...more: string[]) => {
      const p = start(['-o', out, '--rpm', 'off', '--input-format', 'csv', '--prompt-field', 'question', '--keep', 'id:ticket,owner', ...more, f], { env: env(box.emu.url) });
      return { code: await p.exited, stderr: p.stderr() };
    };
    expect((await run()).code).toBe(0);
    const hashes = readOutputs(out).all.map((r) => r.hash).sort();
    writeFileSync(f, csv('bea'));
    const stopped = await run();
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain(`1 input line(s) changed since their records were written to ${out}/ (first: ${f}:3 — it asks the same, but its --keep field(s) differ: owner was "bob", now "bea"; --redo-changed rewrites such records without asking again)`);
    const v = await verify({ out, inputs: [f] });
    expect(v.problems).toEqual([`1 input line(s) have --keep field(s) other than their records hold (e.g. ${f}:3): the lines were edited since; rerun with --redo-changed (it rewrites those records without asking again)`]);
    expect(box.emu.stats.requests).toBe(3);
    const redone = await run('--redo-changed');
    expect(redone.code, redone.stderr).toBe(0);
    expect(box.emu.stats.requests).toBe(3); // the same request's answer, reused
    const rec = readOutputs(out).all.find((r) => r.line === 3)!;
    expect(rec).toMatchObject({ owner: 'bea', ticket: '2', reusedFrom: `${f}:3`, response: 'Two times 2 is 4.' });
    expect(readOutputs(out).all.map((r) => r.hash).sort()).toEqual(hashes); // request hashes unchanged
    expect((await verify({ out, inputs: [f] })).problems).toEqual([]);
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
