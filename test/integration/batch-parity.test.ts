// No mode pays twice (issue 22): --mode batch with --dedupe, --cache and --post against the
// emulator's Batch endpoints. A duplicate or a cached record is never put in a job; a duplicate
// of a request in a job still out from an earlier run joins that job and gets its answer when the
// job's results are written — also when the run that added it was SIGKILLed.

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import type { Journal } from '../../src/batch/journal.js';
import { JOURNAL_FILE } from '../../src/output/layout.js';
import { isFailure, type SuccessRecord } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

/** The requests the directory's batch jobs asked (the journal's jobs: their files are gone once written). */
function requestsAsked(out: string): number {
  if (!existsSync(join(out, JOURNAL_FILE))) return 0;
  const journal = JSON.parse(readFileSync(join(out, JOURNAL_FILE), 'utf8')) as Journal;
  return journal.jobs.filter((j) => j.batch).reduce((a, j) => a + j.records, 0);
}

describe('--mode batch never pays twice', () => {
  it('--dedupe --cache --post: 40 records of 10 prompts ask 10 requests; a rerun into a new directory with the cache submits no job', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, Array.from({ length: 40 }, (_, i) => `What is two times ${i % 10}?`).join('\n') + '\n');
    const cache = join(box.dir, 'cache.lmdb');
    const flags = { mode: 'batch', dedupe: true, temperature: '0', cache, post: 'builtin:wordcount', batchPoll: '20' };
    const one = join(box.dir, 'one');
    const r1 = await runAgainst(box.emu, [input], { ...flags, out: one });
    expect(r1.exitCode).toBe(0);
    expect(requestsAsked(one)).toBe(10);
    const recs = readOutputs(one).all as SuccessRecord[];
    expect(recs).toHaveLength(40);
    expect(recs.filter((r) => r.dedupedFrom !== undefined)).toHaveLength(30);
    for (const r of recs) {
      expect(isFailure(r)).toBe(false);
      expect(r.words).toBe(r.response.trim().split(/\s+/).length); // --post ran where records are written
    }
    expect(box.emu.batch.batchesCreated).toBe(1);

    const two = join(box.dir, 'two');
    const r2 = await runAgainst(box.emu, [input], { ...flags, out: two });
    expect(r2.exitCode).toBe(0);
    expect(box.emu.batch.batchesCreated).toBe(1); // no new job
    expect(requestsAsked(two)).toBe(0);
    const again = readOutputs(two).all as SuccessRecord[];
    expect(again).toHaveLength(40);
    expect(again.filter((r) => r.cached === true)).toHaveLength(10);
    expect(again.filter((r) => r.dedupedFrom !== undefined)).toHaveLength(30);
    expect(box.emu.stats.requests).toBe(0); // nothing online either
  });

  it('a duplicate of a request in a live job of an earlier run joins it; SIGKILLed after that, the rerun writes its answer from the same job', async () => {
    let kill: (() => void) | undefined;
    box.emu = await startEmulator({
      batchTimeScale: 6000,
      onBatchEvent: (kind) => {
        if (kind === 'get') kill?.();
      },
    });
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, Array.from({ length: 5 }, (_, i) => `Question ${i}`).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const args = ['-o', out, '--mode', 'batch', '--dedupe', '--batch-poll', '20', '-q', input];
    const first = start([...args.slice(0, -1), '--detach', input], { env: env(box.emu.url) });
    expect(await first.exited, first.stderr()).toBe(0);
    // Five more lines, duplicates of the five in the job the journal still has out.
    appendFileSync(input, Array.from({ length: 5 }, (_, i) => `Question ${i}`).join('\n') + '\n');
    const second = start(args, { env: env(box.emu.url) });
    kill = () => second.child.kill('SIGKILL'); // at its first poll: the duplicates have joined the job
    expect(await second.exited).toBe('SIGKILL');
    kill = undefined;
    const third = start(args, { env: env(box.emu.url) });
    expect(await third.exited, third.stderr()).toBe(0);
    const recs = readOutputs(out).all as SuccessRecord[];
    expect(recs.map((r) => r.line).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(recs.filter((r) => r.line > 5).every((r) => r.dedupedFrom === `${input}:${r.line - 5}`)).toBe(true);
    expect(box.emu.batch.batchesCreated).toBe(1);
    expect(requestsAsked(out)).toBe(5);
  });
});
