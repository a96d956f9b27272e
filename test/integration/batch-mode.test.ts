// --mode batch against the emulator's Batch endpoints, through the SDK: the same records as an
// online run; SIGKILL at 10 instants between packing and writing, restarted each time — no
// second job for the same records, every record once; an expired job and a retryable
// per-request error redone in a new job; a permanent one a failure record; --detach, then the
// same command collects.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { batchesCommand } from '../../src/batch/batches-cli.js';
import type { Journal } from '../../src/batch/journal.js';
import { JOBS_DIR, JOURNAL_FILE } from '../../src/output/layout.js';
import { isFailure } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();
const journalOf = (out: string) => JSON.parse(readFileSync(join(out, JOURNAL_FILE), 'utf8')) as Journal;
const view = (out: string) => readOutputs(out).all.map((r) => `${r.id} ${r.hash} ${isFailure(r) ? r.error.status : r.response}`).sort();

describe('--mode batch', () => {
  it('writes the same records as an online run (with "mode": "batch"), in jobs of --batch-max-requests', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const inputs = writeInputs(box.dir, 2, 25);
    const online = join(box.dir, 'online');
    const batch = join(box.dir, 'batch');
    expect((await runAgainst(box.emu, inputs, { out: online })).exitCode).toBe(0);
    const r = await runAgainst(box.emu, inputs, { out: batch, mode: 'batch', batchMaxRequests: '20', batchPoll: '20' });
    expect(r.exitCode).toBe(0);
    expect(view(batch)).toEqual(view(online));
    for (const rec of readOutputs(batch).all) expect(rec.mode).toBe('batch');
    expect(journalOf(batch).jobs.map((j) => [j.records, j.state])).toEqual([[20, 'written'], [20, 'written'], [10, 'written']]);
    expect(box.emu.batch.batchesCreated).toBe(3);
    expect(r.stderr).toMatch(/batch 000001 \(batches\/\S+\): succeeded, 20 request\(s\)/);
  });

  it('an expired job and a retryable per-request error go into a new job; a permanent error is a failure record', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const f = join(box.dir, 'x.txt');
    writeFileSync(f, ['plain one', 'expires once [[emu:batchexpire]]', 'a 503 once [[emu:batch503x1]]', 'always bad [[emu:batchfail]]'].join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, [f], { out, mode: 'batch', batchPoll: '20' });
    expect(r.exitCode).toBe(3);
    const o = readOutputs(out);
    expect(o.failures.map((x) => [x.line, isFailure(x) && x.error.status])).toEqual([[4, 'INVALID_ARGUMENT']]);
    expect(o.shards.flatMap((s) => s.records).map((x) => x.line).sort()).toEqual([1, 2, 3]);
    const jobs = journalOf(out).jobs;
    expect(jobs[0]).toMatchObject({ state: 'ended', remoteState: 'JOB_STATE_EXPIRED' });
    expect(jobs.slice(1).every((j) => j.state === 'written')).toBe(true);
    expect(r.stderr).toMatch(/ended expired: its 4 request\(s\) go into a new batch/);
  });

  it('--detach submits and exits 0; the same command later collects, creating nothing new', async () => {
    box.emu = await startEmulator({ batchTimeScale: 600 });
    const inputs = writeInputs(box.dir, 1, 30);
    const out = join(box.dir, 'out');
    const first = await runAgainst(box.emu, inputs, { out, mode: 'batch', detach: true });
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(/detached: 1 batch job\(s\) with 30 request\(s\) are on the server; run the same command again/);
    // The summary says what it left running, not "done — 0 succeeded".
    expect(first.stderr).toMatch(/^gempipe: detached — 0 succeeded, 0 failed, 0 skipped/m);
    expect(first.stderr).toContain('  left running: 1 batch job(s) holding 30 request(s) — run the same command again to write their records');
    expect(first.stderr).toMatch(/requests: 0 online, 30 in batch jobs/);
    expect(first.batch).toEqual({ jobs: 1, requests: 30, leftJobs: 1, leftRequests: 30, detached: true });
    expect(readOutputs(out).all).toHaveLength(0);
    const again = await runAgainst(box.emu, inputs, { out, mode: 'batch', batchPoll: '50' });
    expect(again.exitCode).toBe(0);
    expect(readOutputs(out).all).toHaveLength(30);
    expect(box.emu.batch.batchesCreated).toBe(1);
    expect(again.stderr).toMatch(/^gempipe: done — 30 succeeded/m);
    expect(again.batch).toEqual({ jobs: 0, requests: 0, leftJobs: 0, leftRequests: 0, detached: false });
  });

  it('--detach again after `gempipe batches cancel`: the cancelled job is settled and its records go into a new job, not reported as still running', async () => {
    box.emu = await startEmulator({ batchTimeScale: 1 }); // a job pends for a minute: the cancel finds it live
    const inputs = writeInputs(box.dir, 1, 30);
    const out = join(box.dir, 'out');
    expect((await runAgainst(box.emu, inputs, { out, mode: 'batch', detach: true })).exitCode).toBe(0);
    const lines: string[] = [];
    expect(await batchesCommand('cancel', out, { apiKey: 'k', baseUrl: box.emu.url }, (l) => (lines.push(l), true))).toBe(0);
    expect(lines.join('\n')).toMatch(/^cancelled batches\/\S+ \(batch 000001, 30 request\(s\)\)/);
    const again = await runAgainst(box.emu, inputs, { out, mode: 'batch', detach: true });
    expect(again.exitCode).toBe(0);
    expect(box.emu.batch.batchesCreated).toBe(2);
    expect(again.stderr).toMatch(/ended cancelled: its 30 request\(s\) go into a new batch/);
    expect(again.batch).toEqual({ jobs: 1, requests: 30, leftJobs: 1, leftRequests: 30, detached: true });
    expect(journalOf(out).jobs.map((j) => j.state)).toEqual(['ended', 'created']);
  });

  it('SIGKILL at 10 instants between packing and writing, restarted each time: no second job for the same records, every record once', async () => {
    let events = 0;
    let killAt = Infinity;
    let child: ReturnType<typeof start> | undefined;
    box.emu = await startEmulator({
      batchTimeScale: 6000,
      onBatchEvent: () => {
        events++;
        if (events >= killAt && child && child.child.exitCode === null) child.child.kill('SIGKILL');
      },
    });
    const inputs = writeInputs(box.dir, 2, 50);
    const out = join(box.dir, 'out');
    const args = ['-o', out, '--mode', 'batch', '--batch-max-requests', '15', '--batch-poll', '20', '-q', ...inputs];
    let kills = 0;
    for (let i = 0; i < 30 && kills < 10; i++) {
      killAt = events + 1 + (i % 5); // an upload, a create, a poll or a download of this run
      child = start(args, { env: env(box.emu.url) });
      const code = await child.exited;
      if (code === 'SIGKILL') kills++;
      else {
        expect(code, child.stderr()).toBe(0);
        break;
      }
    }
    expect(kills).toBe(10);
    killAt = Infinity;
    child = start(args, { env: env(box.emu.url) });
    expect(await child.exited, child.stderr()).toBe(0);
    const all = readOutputs(out).all;
    expect(all).toHaveLength(100);
    expect(new Set(all.map((r) => r.id)).size).toBe(100);
    // Every batch the server created is a job of the journal, and no record was in two jobs: the
    // jobs' requests add up to the 100 records, each of which came from a job.
    const jobs = journalOf(out).jobs;
    expect(box.emu.batch.batchesCreated).toBe(jobs.filter((j) => j.batch).length);
    expect(jobs.every((j) => j.state === 'written')).toBe(true);
    expect(jobs.reduce((a, j) => a + j.records, 0)).toBe(100);
    expect(all.every((r) => r.mode === 'batch')).toBe(true);
    // Written jobs' files are removed (a run killed between the journal and the removal: the next run).
    expect(existsSync(join(out, JOBS_DIR))).toBe(false);
  });

  it('--fallback online sends an expired job\'s records online; --deadline cancels what is still out and sends it online', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const f = join(box.dir, 'x.txt');
    writeFileSync(f, ['one', 'two [[emu:batchexpire]]', 'three'].join('\n') + '\n');
    const out = join(box.dir, 'fb');
    const r = await runAgainst(box.emu, [f], { out, mode: 'batch', fallback: 'online', batchPoll: '20' });
    expect(r.exitCode).toBe(0);
    expect(readOutputs(out).all).toHaveLength(3);
    expect(box.emu.stats.requests).toBe(3); // online generateContent calls
    expect(journalOf(out).jobs.map((j) => j.remoteState)).toEqual(['JOB_STATE_EXPIRED']);
    await box.emu.close();

    // A batch that takes 11 minutes / 60 = 11 s; the deadline comes first.
    box.emu = await startEmulator({ batchTimeScale: 60 });
    const inputs = writeInputs(box.dir, 1, 12);
    const late = join(box.dir, 'late');
    const d = await runAgainst(box.emu, inputs, { out: late, mode: 'batch', deadline: '300ms', batchPoll: '50' });
    expect(d.exitCode).toBe(0);
    expect(d.stderr).toMatch(/--deadline reached: 1 batch job\(s\) still out; what they hold is sent online/);
    expect(readOutputs(late).all).toHaveLength(12);
    expect(box.emu.stats.requests).toBe(12);
    expect(journalOf(late).jobs[0]).toMatchObject({ state: 'ended', remoteState: 'CANCELLED_AT_DEADLINE' });
  });

  it('--mode auto goes batch over --batch-threshold records, online under it', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const inputs = writeInputs(box.dir, 1, 30);
    const a = await runAgainst(box.emu, inputs, { out: join(box.dir, 'a'), mode: 'auto', batchThreshold: '10', batchPoll: '20' });
    expect(a.stderr).toContain('--mode auto: batch (30 record(s) to do, over --batch-threshold 10)');
    expect(box.emu.batch.batchesCreated).toBe(1);
    const b = await runAgainst(box.emu, inputs, { out: join(box.dir, 'b'), mode: 'auto', batchThreshold: '100' });
    expect(b.stderr).toContain('--mode auto: online (30 record(s) to do, not over --batch-threshold 100)');
    expect(box.emu.stats.requests).toBe(30);
    expect(readOutputs(join(box.dir, 'a')).all).toHaveLength(30);
    expect(readOutputs(join(box.dir, 'b')).all).toHaveLength(30);
  });

  it('a rejected key ends the run as online does: exit 1, the fix named, nothing submitted', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const inputs = writeInputs(box.dir, 1, 5);
    const r = await runAgainst(box.emu, inputs, { out: join(box.dir, 'out'), mode: 'batch' }, { key: 'invalid-key-0000' });
    expect(r).toMatchObject({ exitCode: 1, outcome: 'fatal' });
    expect(r.error).toMatch(/the API key was rejected/);
    expect(box.emu.batch).toMatchObject({ uploads: 0, batchesCreated: 0 });
  });

  it('a 429 on creating a job (the Batch API\'s own limits) leaves it uploaded; the next poll creates it', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000, batchRefuseCreates: 2 });
    const inputs = writeInputs(box.dir, 1, 10);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, mode: 'batch', batchPoll: '20' });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/batch 000001: the server takes no new batch job for now \(.*(quota|limit)/);
    expect(readOutputs(out).all).toHaveLength(10);
    expect(box.emu.batch).toMatchObject({ uploads: 1, batchesCreated: 1 });
    expect(journalOf(out).jobs).toHaveLength(1);
  });
});
