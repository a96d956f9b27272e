// --post against the emulator: the user's function on worker threads (piscina), through the
// real pipeline. Needs the built worker (npm test builds first).
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { startEmulator } from '../../src/emulator/server.js';
import type { FailureRecord, SuccessRecord } from '../../src/records.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, writeInputs, sandbox } from '../helpers/util.js';

const FIX = resolve(__dirname, '../fixtures/post');
const box = sandbox();

describe('--post', () => {
  it('merges the fields a named export returns into each success record (builtin:wordcount too)', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 2, 20);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, post: `${FIX}/good.mjs:label`, postWorkers: '2' });
    expect(r.exitCode).toBe(0);
    const recs = readOutputs(out).all as SuccessRecord[];
    expect(recs).toHaveLength(40);
    for (const rec of recs) {
      expect(rec.label).toBe(rec.response.length % 2 === 0 ? 'even' : 'odd');
      expect(rec.words).toBe(rec.response.split(/\s+/).length);
    }
    expect(r.time.postMs).toBeGreaterThan(0);
    const wc = await runAgainst(box.emu, inputs, { out: join(box.dir, 'wc'), post: 'builtin:wordcount', postWorkers: '1' });
    expect(wc.exitCode).toBe(0);
    for (const rec of readOutputs(join(box.dir, 'wc')).all as SuccessRecord[]) {
      expect(rec.words).toBe(rec.response.trim().split(/\s+/).length);
      expect(rec.characters).toBe([...rec.response].length);
    }
  });

  it('a default export that returns the record\'s own id replaces the record, identity and answer kept', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 5);
    const out = join(box.dir, 'out');
    expect((await runAgainst(box.emu, inputs, { out, post: `${FIX}/good.mjs` })).exitCode).toBe(0);
    for (const rec of readOutputs(out).all as SuccessRecord[]) {
      expect(Object.keys(rec).sort()).toEqual(['answerOnly', 'id', 'line', 'prompt', 'response', 'source']);
      expect(rec.answerOnly).toBe(rec.response.toUpperCase());
    }
  });

  it('a module that cannot be loaded, or lacks the export, is a usage error before any request', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 5);
    await expect(runAgainst(box.emu, inputs, { out: join(box.dir, 'a'), post: `${FIX}/nope.mjs` })).rejects.toThrow(UsageError);
    await expect(runAgainst(box.emu, inputs, { out: join(box.dir, 'b'), post: `${FIX}/good.mjs:missing` })).rejects.toThrow(/has no exported function `missing`/);
    await expect(runAgainst(box.emu, inputs, { out: join(box.dir, 'c'), post: 'builtin:nothing' })).rejects.toThrow(/builtin:wordcount/);
    expect(box.emu.stats.requests).toBe(0);
  });

  it('a throw becomes a POST_FAILED failure that keeps the paid answer; a rerun sends nothing again', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const inputs = writeInputs(box.dir, 1, 12);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, post: `${FIX}/throws.mjs` });
    expect(r.exitCode).toBe(3);
    const { failures, shards } = readOutputs(out);
    expect(failures.map((f) => f.line).sort((a, b) => a - b)).toEqual([3, 6, 9, 12]);
    for (const f of failures as Array<FailureRecord & { response: string }>) {
      expect(f.error).toMatchObject({ status: 'POST_FAILED' });
      expect(f.error.message).toMatch(new RegExp(`cannot score line ${f.line}`));
      expect(f.response).toMatch(/^Two times \d+ is \d+\.$/); // the answer that was paid for
    }
    expect(shards.flatMap((s) => s.records)).toHaveLength(8);
    expect(r).toMatchObject({ succeeded: 8, failed: 4, failedByStatus: { POST_FAILED: 4 } });
    // Resume never posts (or asks) again for a record already written.
    const again = await runAgainst(box.emu, inputs, { out, post: `${FIX}/throws.mjs` });
    expect(again.skipped).toBe(12);
    expect(box.emu.stats.requests).toBe(12);
    // Not even --retry-failed pays again for an answer a POST_FAILED record holds.
    const retry = await runAgainst(box.emu, inputs, { out, post: `${FIX}/throws.mjs`, retryFailed: true });
    expect(retry.skipped).toBe(12);
    expect(box.emu.stats.requests).toBe(12);
  });

  it('a function that hangs is stopped by --post-timeout (its thread replaced) and the run goes on', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 6);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, post: `${FIX}/hangs.mjs`, postWorkers: '1', postTimeout: '300' });
    expect(r.exitCode).toBe(3);
    const { failures, all } = readOutputs(out);
    expect(all).toHaveLength(6);
    expect(failures).toMatchObject([{ line: 2, error: { status: 'POST_FAILED', message: expect.stringMatching(/did not finish within --post-timeout 300 ms/) } }]);
  });

  it('--ordered with --post writes in input order', async () => {
    box.emu = await startEmulator({ jitterMs: 30 });
    const inputs = writeInputs(box.dir, 1, 40);
    const r = await runAgainst(box.emu, inputs, { out: '-', ordered: true, post: 'builtin:wordcount', postWorkers: '2', concurrency: '16' });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SuccessRecord);
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const l of lines) expect(typeof l.words).toBe('number');
  });

  it('SIGINT while posts run: in-flight answers are posted and written, the rerun does the rest exactly once', async () => {
    box.emu = await startEmulator({ latencyMs: 20, trackPrompts: true });
    const inputs = writeInputs(box.dir, 1, 300);
    const out = join(box.dir, 'out');
    const stop = new AbortController();
    const t = setInterval(() => {
      if (box.emu!.stats.ok > 40 && !stop.signal.aborted) stop.abort(new Error('interrupted'));
    }, 5);
    const r = await runAgainst(box.emu, inputs, { out, post: `${FIX}/slow.mjs`, postWorkers: '1', concurrency: '8' }, { signal: stop.signal });
    clearInterval(t);
    expect(r).toMatchObject({ outcome: 'interrupted', exitCode: 130 });
    const first = readOutputs(out).all as SuccessRecord[];
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBe(box.emu.stats.ok); // every answer received was posted and written
    for (const rec of first) expect(rec.spun).toBe(true);
    const again = await runAgainst(box.emu, inputs, { out, post: `${FIX}/slow.mjs`, postWorkers: '1', concurrency: '8' });
    expect(again.exitCode).toBe(0);
    const all = readOutputs(out).all;
    expect(all).toHaveLength(300);
    expect(new Set(all.map((x) => x.id)).size).toBe(300);
    for (const [, n] of box.emu.stats.successes) expect(n).toBe(1);
  });
});
