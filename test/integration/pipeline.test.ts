// The whole pipeline, in-process, against the emulator over real HTTP through the real SDK.
// Assertions are on counts and pairing, never on elapsed time.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerFor, startEmulator, type Emulator } from '../../src/emulator/server.js';
import { isFailure, type FailureRecord, type SuccessRecord } from '../../src/records.js';
import { runAgainst, TEST_KEY } from '../helpers/run-helpers.js';
import { readOutputs, tempDir, writeInputs } from '../helpers/util.js';

let emu: Emulator;
let dir: string;
let cleanup: () => void;

beforeEach(async () => {
  emu = await startEmulator({ trackPrompts: true });
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await emu.close();
  cleanup();
});

/** A prompt with a fault by line number, so every fault kind shows up in every file. */
function faultyPrompt(f: number, l: number): string {
  const base = `File ${f} line ${l}: what is two times ${f * 1000 + l}?`;
  if (l % 41 === 0) return `${base} [[emu:500]]`; // always fails: a failure record after max attempts
  if (l % 37 === 0) return `${base} [[emu:block]]`;
  if (l % 31 === 0) return `${base} [[emu:429x1@0.05s]]`;
  if (l % 29 === 0) return `${base} [[emu:hangx1]]`;
  if (l % 23 === 0) return `${base} [[emu:resetx1]]`;
  if (l % 19 === 0) return `${base} [[emu:malformedx1]]`;
  if (l % 17 === 0) return `${base} [[emu:503x2]]`;
  if (l % 13 === 0) return `${base} [[emu:nocandidates]]`;
  return base;
}

describe('run() against the emulator', () => {
  it('puts every input line exactly once across shards and failures, under scripted faults', async () => {
    const inputs = writeInputs(dir, 4, 300, faultyPrompt);
    const out = join(dir, 'out');
    const r = await runAgainst(emu, inputs, { out, concurrency: '32', shardSize: '100', maxAttempts: '4', retryBaseDelay: '5', timeout: '700' });
    expect(r.outcome).toBe('completed');
    expect(r.exitCode).toBe(3); // some records failed, by design
    const o = readOutputs(out);
    // Exactly once.
    const ids = o.all.map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(1200);
    const idSet = new Set(ids);
    for (const path of inputs) for (let l = 1; l <= 300; l++) expect(idSet.has(`${path}:${l}`)).toBe(true);
    // No shard over its size.
    for (const s of o.shards) expect(s.records.length).toBeLessThanOrEqual(100);
    // Each response paired with its own prompt (the emulator's answer is a function of the prompt).
    const lines = inputs.map((p) => readFileSync(p, 'utf8').split('\n'));
    for (const rec of o.all) {
      const f = inputs.indexOf(rec.source);
      expect(rec.prompt).toBe(lines[f][rec.line - 1]);
      if (!isFailure(rec)) expect((rec as SuccessRecord).response).toBe(answerFor(rec.prompt));
    }
    // The failures are exactly the scripted permanent ones.
    const failed = o.failures as FailureRecord[];
    for (const rec of failed) {
      if (rec.line % 41 === 0) expect(rec.error).toMatchObject({ status: 'INTERNAL', code: 500 });
      else if (/block|nocandidates/.test(rec.prompt)) expect(rec.error.status).toBe('BLOCKED');
      else throw new Error(`unexpected failure ${rec.id}: ${JSON.stringify(rec.error)}`);
    }
    expect(failed.filter((x) => x.line % 41 === 0).every((x) => x.attempts === 4)).toBe(true);
    const permanent = (l: number) => /\[\[emu:(500|block|nocandidates)\]\]/.test(faultyPrompt(0, l));
    expect(failed.length).toBe(4 * Array.from({ length: 300 }, (_, i) => i + 1).filter(permanent).length);
    // Transient faults were retried to success: never answered twice — but for a request the
    // client gave up on while its answer was on the way (--timeout 700 ms on a loaded machine, the
    // emulator in this process): at most one repeat per timeout that was not a scripted hang.
    const repeats = [...emu.stats.successes.values()].reduce((n, k) => n + (k - 1), 0);
    expect(repeats).toBeLessThanOrEqual((r.retriesByCause.timeout ?? 0) - (emu.stats.byStatus.hang ?? 0));
    expect(r.retries).toBeGreaterThan(0);
    expect(r.http429).toBeGreaterThan(0);
  });

  it('resumes: a rerun skips done records without calling the API', async () => {
    const inputs = writeInputs(dir, 3, 50);
    const out = join(dir, 'out');
    const first = await runAgainst(emu, inputs, { out, shardSize: '40' });
    expect(first.exitCode).toBe(0);
    const requests = emu.stats.requests;
    expect(requests).toBe(150);
    const again = await runAgainst(emu, inputs, { out, shardSize: '40' });
    expect(again.exitCode).toBe(0);
    expect(again.skipped).toBe(150);
    expect(again.done).toBe(0);
    expect(emu.stats.requests).toBe(requests);
    // Add a file: only its lines are sent, into a new shard numbered after the old ones.
    const more = writeInputs(join(dir), 4, 50).slice(3);
    const third = await runAgainst(emu, [...inputs, ...more], { out, shardSize: '40' });
    expect(third.skipped).toBe(150);
    expect(third.succeeded).toBe(50);
    expect(readdirSync(out).filter((n) => n.startsWith('shard-')).sort()).toEqual(
      ['shard-00000.jsonl', 'shard-00001.jsonl', 'shard-00002.jsonl', 'shard-00003.jsonl', 'shard-00004.jsonl', 'shard-00005.jsonl'],
    );
    expect(readOutputs(out).all.length).toBe(200);
  });

  it('--retry-failed retries failures and leaves each id listed once', async () => {
    const inputs = writeInputs(dir, 1, 20, (_f, l) => (l % 5 === 0 ? `q${l} [[emu:503x2]]` : `q${l}`));
    const out = join(dir, 'out');
    const first = await runAgainst(emu, inputs, { out, maxAttempts: '1' });
    expect(first.failed).toBe(4);
    expect(first.exitCode).toBe(3);
    const second = await runAgainst(emu, inputs, { out, maxAttempts: '1', retryFailed: true });
    expect(second.failed).toBe(4); // second arrival is still a 503
    const third = await runAgainst(emu, inputs, { out, maxAttempts: '1', retryFailed: true });
    expect(third.succeeded).toBe(4);
    expect(third.exitCode).toBe(0);
    const o = readOutputs(out);
    expect(o.failures.length).toBe(0);
    expect(o.all.length).toBe(20);
    expect(new Set(o.all.map((x) => x.id)).size).toBe(20);
  });

  it('writes JSONL to stdout in input order with --ordered, and the text layout with --format text', async () => {
    const inputs = writeInputs(dir, 2, 30, (f, l) => (l % 7 === 0 ? `two times ${f}${l} [[emu:slow=30]]` : `two times ${f}${l}`));
    const r = await runAgainst(emu, inputs, { out: '-', ordered: true, concurrency: '8' });
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SuccessRecord);
    expect(recs.map((x) => x.id)).toEqual(inputs.flatMap((p) => Array.from({ length: 30 }, (_, i) => `${p}:${i + 1}`)));
    const t = await runAgainst(emu, [inputs[0]], { out: '-', format: 'text', ordered: true });
    expect(t.stdout.split('\n')[0]).toBe('two times 01 - Two times 01 is 2.');
  });

  it('reads stdin, handles BOM/CRLF/blank lines/invalid UTF-8, and turns an over-long line into a failure record', async () => {
    const out = join(dir, 'out');
    const r = await runAgainst(emu, ['-'], { out, maxLineBytes: '64' }, { stdin: '\uFEFFfirst\r\n\n  \nsecond\n' + 'x'.repeat(100) + '\nthird' });
    expect(r.exitCode).toBe(3);
    const o = readOutputs(out);
    expect(o.shards[0].records.map((x) => [x.id, x.prompt])).toEqual(
      expect.arrayContaining([['stdin:1', 'first'], ['stdin:4', 'second'], ['stdin:6', 'third']]),
    );
    expect(o.failures).toEqual([expect.objectContaining({ id: 'stdin:5', error: expect.objectContaining({ status: 'INVALID_INPUT' }) })]);
  });

  it('reads a directory: its regular, non-hidden text files in name order, not sub-directories', async () => {
    const d = join(dir, 'in');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'b.txt'), 'b1\n');
    writeFileSync(join(d, 'a.txt'), 'a1\na2\n');
    writeFileSync(join(d, '.hidden'), 'h\n');
    writeFileSync(join(d, 'sub', 'c.txt'), 'c\n');
    writeFileSync(join(d, 'empty.txt'), '');
    writeFileSync(join(d, 'binary.bin'), Buffer.from([0, 1, 2, 0xff, 0x0a, 0x80, 0x0a]));
    const r = await runAgainst(emu, [d], { out: '-', ordered: true, concurrency: '1' });
    const ids = r.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
    expect(ids).toEqual([`${d}/a.txt:1`, `${d}/a.txt:2`, `${d}/b.txt:1`]);
    // A binary file is not turned into garbage prompts: it is skipped, named, and the run says so.
    expect(r.stderr).toContain(`skipped input ${d}/binary.bin: a NUL byte at offset 0`);
    expect(r.exitCode).toBe(3);
  });

  it('stops at once on an invalid key, with one message and exit 1, and never prints the key', async () => {
    const inputs = writeInputs(dir, 2, 200);
    const out = join(dir, 'out');
    const r = await runAgainst(emu, inputs, { out, concurrency: '4' }, { key: 'invalid-key-abcdef123456' });
    expect(r.outcome).toBe('fatal');
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatch(/API key was rejected/);
    expect(emu.stats.requests).toBeLessThanOrEqual(8);
    expect(r.stderr).not.toContain('invalid-key-abcdef123456');
    expect(readOutputs(out).all.length).toBe(0);
  });

  it('stops at once on an unknown model and on a per-day quota, and the run resumes later', async () => {
    const inputs = writeInputs(dir, 1, 100, (_f, l) => (l === 30 ? `q${l} [[emu:429day]]` : `q${l}`));
    const out = join(dir, 'out');
    const bad = await runAgainst(emu, inputs, { out, model: 'no-such-model' });
    expect(bad).toMatchObject({ outcome: 'fatal', exitCode: 1 });
    expect(bad.error).toMatch(/model was not found/);
    const day = await runAgainst(emu, inputs, { out, concurrency: '2' });
    expect(day).toMatchObject({ outcome: 'fatal', exitCode: 1 });
    expect(day.error).toMatch(/the daily quota of 250 requests for gemini-flash-latest is exhausted/);
    const before = readOutputs(out).all.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(100);
    // "The next day": the fault is gone (a fresh emulator), the run resumes.
    await emu.close();
    emu = await startEmulator({ trackPrompts: true });
    const next = await runAgainst(emu, writeInputs(dir, 1, 100, (_f, l) => `q${l}`), { out }); // the fault marker gone: line 30 was never answered
    expect(next.skipped).toBe(before);
    expect(next.exitCode).toBe(0);
    const all = readOutputs(out).all;
    expect(all.length).toBe(100);
    expect(new Set(all.map((x) => x.id)).size).toBe(100);
    expect(JSON.stringify(all)).not.toContain(TEST_KEY);
  });

  it('a graceful stop finishes in-flight requests, writes them, and exits 130; the rerun completes', async () => {
    const inputs = writeInputs(dir, 2, 500);
    const out = join(dir, 'out');
    const ctl = new AbortController();
    let stopped = false;
    const origSend = emu.stats;
    const r = runAgainst(emu, inputs, { out, concurrency: '8' }, { signal: ctl.signal });
    // Stop once the emulator has answered some requests.
    while (!stopped) {
      await new Promise((res) => setImmediate(res));
      if (origSend.ok >= 100) {
        ctl.abort();
        stopped = true;
      }
    }
    const res = await r;
    expect(res.outcome).toBe('interrupted');
    expect(res.exitCode).toBe(130);
    const written = readOutputs(out).all.length;
    expect(written).toBe(res.succeeded);
    expect(written).toBeLessThan(1000);
    // Everything answered was written (in-flight ones drained, not lost).
    expect(emu.stats.ok).toBe(written);
    const rerun = await runAgainst(emu, inputs, { out });
    expect(rerun.skipped).toBe(written);
    const all = readOutputs(out).all;
    expect(all.length).toBe(1000);
    for (const [, n] of emu.stats.successes) expect(n).toBe(1);
  });
  it('5,000 prompts against a faulty emulator (random 503s, resets, hangs, malformed bodies, 429 bursts): nothing lost or duplicated', async () => {
    await emu.close();
    emu = await startEmulator({ trackPrompts: true, errorRate: 0.08, seed: 7 });
    const prompt = (f: number, l: number) => {
      const base = `F${f} L${l}: two times ${f * 10_000 + l}`;
      if (l % 97 === 0) return `${base} [[emu:500]]`; // never succeeds: a failure record
      if (l % 13 === 0) return `${base} [[emu:429x3@0.01s]]`; // a burst of 429s with RetryInfo
      if (l % 11 === 0) return `${base} [[emu:resetx2]]`;
      if (l % 7 === 0) return `${base} [[emu:malformedx1]]`;
      if (l % 43 === 0) return `${base} [[emu:hangx1]]`;
      return base;
    };
    const inputs = writeInputs(dir, 5, 1000, prompt);
    const out = join(dir, 'out');
    const r = await runAgainst(emu, inputs, { out, concurrency: '64', shardSize: '500', maxAttempts: '10', retryBaseDelay: '2', timeout: '1000' });
    expect(r.outcome).toBe('completed');
    const o = readOutputs(out);
    const ids = o.all.map((x) => x.id);
    expect(ids.length).toBe(5000);
    expect(new Set(ids).size).toBe(5000);
    // Only the prompts scripted to fail always are failures (random 503s were all retried).
    expect(o.failures.length).toBe(5 * Math.floor(1000 / 97));
    for (const f of o.failures) expect(f.prompt).toContain('[[emu:500]]');
    for (const rec of o.all) if (!isFailure(rec)) expect((rec as SuccessRecord).response).toBe(answerFor(rec.prompt));
    // Every kind of fault was played, and no prompt was answered twice.
    expect(emu.stats.byStatus['503']).toBeGreaterThan(200);
    expect(emu.stats.http429).toBeGreaterThan(3 * 300);
    expect(emu.stats.byStatus.reset).toBeGreaterThan(2 * 300);
    expect(emu.stats.byStatus.hang).toBeGreaterThan(50);
    // A prompt is answered again only when the client gave up on an answer being sent (--timeout
    // fired: in-process, with other test files on the same 2 cores, a first request can take a
    // second). Against the emulator as its own process, timeouts = hangs exactly: no repeats.
    const repeats = [...emu.stats.successes].reduce((a, [, n]) => a + n - 1, 0);
    expect(repeats).toBeLessThanOrEqual(r.retriesByCause.timeout - emu.stats.byStatus.hang);
    expect(r.retriesByCause).toMatchObject({ 503: expect.any(Number), 429: expect.any(Number), connection: expect.any(Number), 'malformed body': expect.any(Number), timeout: expect.any(Number) });
    expect(r.exitCode).toBe(3);
  });
});
