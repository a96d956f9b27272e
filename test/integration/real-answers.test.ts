// Every real-service answer of issue #10, against the emulator through the SDK over HTTP:
// empty MAX_TOKENS answers, thinking parts, location and limit-0 faults, limits named in 429s
// (for requests and for tokens, reused by the next run), 429s without details, a refused endpoint.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { LIMITS_FILE } from '../../src/output/layout.js';
import type { FailureRecord, SuccessRecord } from '../../src/records.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { expectExactlyOnce, readOutputs, writeInputs, sandbox } from '../helpers/util.js';

const box = sandbox();


describe('answers of the real service', () => {
  it('an answer with no text (thoughts used the budget) is a MAX_TOKENS failure that --retry-failed redoes; one cut short stays a success', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const inputs = writeInputs(box.dir, 1, 6, (_f, l) => (l === 2 ? `q${l} [[emu:maxtokensx1]]` : l === 3 ? `q${l} [[emu:cutx1]]` : `q${l}: two times ${l}`));
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out });
    expect(r.exitCode).toBe(3);
    const { failures, shards } = readOutputs(out);
    expect(failures).toHaveLength(1);
    const f = failures[0] as FailureRecord;
    expect(f).toMatchObject({ line: 2, error: { status: 'MAX_TOKENS' } });
    expect(f.error.message).toMatch(/--max-output-tokens .* --thinking-budget/);
    expect('response' in f).toBe(false);
    const cut = shards.flatMap((s) => s.records).find((x) => x.line === 3) as SuccessRecord;
    expect(cut).toMatchObject({ finishReason: 'MAX_TOKENS' });
    expect(cut.response.length).toBeGreaterThan(0);
    expect(r.truncated).toBe(1);
    expect(r.stderr).toMatch(/1 answer\(s\) cut at the output-token limit/);
    // The fault was once: --retry-failed gets a real answer for line 2.
    const again = await runAgainst(box.emu, inputs, { out, retryFailed: true });
    expect(again.exitCode).toBe(0);
    expect(readOutputs(out).failures).toHaveLength(0);
    expectExactlyOnce(out, 6);
  });

  it('--json-schema is sent and enforced: a schema-breaking answer is asked again, then fails with the validator message; a non-schema file is a usage error', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const schema = join(box.dir, 'label.schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { label: { type: 'string', enum: ['positive', 'negative'] }, score: { type: 'number' } }, required: ['label', 'score'] }));
    const inputs = writeInputs(box.dir, 1, 3, (_f, l) => (l === 2 ? `review ${l} [[emu:schemabadx1]]` : l === 3 ? `review ${l} [[emu:schemabad]]` : `review ${l}: great`));
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, jsonSchema: schema });
    expect(r.exitCode).toBe(3);
    const { failures, shards } = readOutputs(out);
    const ok = shards.flatMap((s) => s.records) as SuccessRecord[];
    expect(ok.map((x) => [x.line, x.json, x.attempts])).toEqual(expect.arrayContaining([[1, { label: 'positive', score: 1 }, 1], [2, { label: 'positive', score: 1 }, 2]]));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ line: 3, attempts: 3, error: { status: 'INVALID_RESPONSE', message: "the response does not fit --json-schema: answer must have required property 'label'" } });
    // The paid, invalid answer is kept in the failure record, not thrown away.
    expect(typeof failures[0].response).toBe('string');
    expect(JSON.parse(failures[0].response as string)).not.toHaveProperty('label');
    writeFileSync(schema, JSON.stringify({ type: 'strng' }));
    await expect(runAgainst(box.emu, inputs, { out: join(box.dir, 'out2'), jsonSchema: schema })).rejects.toThrow(/is not a valid JSON Schema: .*label\.schema\.json/);
  });

  it('thought parts never reach `response`; usage reports thoughtsTokens', async () => {
    box.emu = await startEmulator({ thinking: true });
    const inputs = writeInputs(box.dir, 1, 3);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out });
    expect(r.exitCode).toBe(0);
    for (const rec of readOutputs(out).all as SuccessRecord[]) {
      expect(rec.response).not.toMatch(/Thinking about it/);
      expect(rec.response).toMatch(/^Two times \d+ is \d+\.$/);
      expect(rec.usage.thoughtsTokens).toBeGreaterThan(0);
      expect(rec.usage.responseTokens).toBeGreaterThan(rec.usage.thoughtsTokens!);
    }
  });

  it('"User location is not supported" ends the run once (exit 1, the fix named), with no failure records', async () => {
    box.emu = await startEmulator({ locationError: true });
    const inputs = writeInputs(box.dir, 1, 50);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '4' });
    expect(r).toMatchObject({ outcome: 'fatal', exitCode: 1 });
    expect(r.error).toMatch(/not available where this request comes from \(user location not supported\)/);
    expect(box.emu.stats.requests).toBeLessThanOrEqual(4);
    expect(readOutputs(out).all).toHaveLength(0);
  });

  it('a quota of 0 ("limit: 0") ends the run at once saying waiting will not help, not "rerun at midnight"', async () => {
    box.emu = await startEmulator({ limitZero: true });
    const inputs = writeInputs(box.dir, 1, 50);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '4', rpm: 'auto' });
    expect(r).toMatchObject({ outcome: 'fatal', exitCode: 1 });
    expect(r.error).toMatch(/no quota at all for this model \(limit 0\): enable billing for the project, or pick another --model; waiting will not help/);
    expect(r.error).not.toMatch(/midnight/);
    expect(box.emu.stats.requests).toBeLessThanOrEqual(4);
    expect(readOutputs(out).all).toHaveLength(0);
  });

  it('a 429 naming its requests-per-minute limit sets that limit, says so once, and the next run into the directory starts at it', async () => {
    box.emu = await startEmulator({ rpm: 1200, quotaValue: true, quota: { mode: 'fixed-window', windowMs: 1000 } });
    const inputs = writeInputs(box.dir, 1, 60);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '32', rpm: 'auto', maxAttempts: '20' });
    expect(r.exitCode).toBe(0);
    expectExactlyOnce(out, 60);
    expect(r.stderr.match(/gempipe: the server says: 1,200 requests per minute for gemini-flash-latest/g)).toHaveLength(1); // said once as it happens
    expect(r.limits).toContainEqual(expect.stringMatching(/the server says: 1,200 requests per minute/));
    const saved = JSON.parse(readFileSync(join(out, LIMITS_FILE), 'utf8'));
    expect(saved['gemini-flash-latest'].rpm).toEqual({ value: 1200, source: 'server' });
    // The next run into the same directory starts at that limit: no probe, so no 429 at all.
    await box.emu.close();
    box.emu = await startEmulator({ rpm: 1200, quotaValue: true, quota: { mode: 'fixed-window', windowMs: 1000 } });
    mkdirSync(join(box.dir, 'more'));
    const extra = writeInputs(join(box.dir, 'more'), 1, 30);
    const next = await runAgainst(box.emu, [...inputs, ...extra], { out, concurrency: '32', rpm: 'auto' });
    expect(next.exitCode).toBe(0);
    expect(next.stderr).toMatch(/started at 1,200 requests\/min, the limit the server named in an earlier run/);
    expect(box.emu.stats.requests).toBe(30);
  });

  it('a 429 naming its input-tokens-per-minute limit sets a token budget', async () => {
    box.emu = await startEmulator({ tpm: 6000, quotaValue: true });
    const inputs = writeInputs(box.dir, 1, 40, (_f, l) => `Question ${l}: ${'some words to count '.repeat(3)} two times ${l}?`);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '16', rpm: 'auto', maxAttempts: '30' });
    expect(r.exitCode).toBe(0);
    expectExactlyOnce(out, 40);
    expect(r.stderr).toMatch(/the server says: 6,000 input tokens per minute for gemini-flash-latest/);
    expect(JSON.parse(readFileSync(join(out, LIMITS_FILE), 'utf8'))['gemini-flash-latest'].tpm).toEqual({ value: 6000, source: 'server' });
  });

  it('429s without details (shared capacity) are retried, teach no limit, and lose no record', async () => {
    box.emu = await startEmulator({ capacity429Rate: 0.2, seed: 3, trackPrompts: true });
    const inputs = writeInputs(box.dir, 2, 100);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '16', rpm: 'auto', maxAttempts: '20', retryBaseDelay: '1' });
    expect(r.exitCode).toBe(0);
    expectExactlyOnce(out, 200);
    expect(box.emu.stats.http429).toBeGreaterThan(0);
    expect(r.http429).toBe(box.emu.stats.http429);
    expect(r.limits ?? []).not.toContainEqual(expect.stringMatching(/the server says/));
    for (const [, n] of box.emu.stats.successes) expect(n).toBe(1);
    // A rate found from bare 429s alone is no limit: nothing is kept for the next run.
    expect(r.limits ?? []).not.toContainEqual(expect.stringMatching(/rate found/));
    const kept = existsSync(join(out, LIMITS_FILE)) ? (JSON.parse(readFileSync(join(out, LIMITS_FILE), 'utf8')) as Record<string, { rpm?: unknown }>) : {};
    expect(Object.values(kept).filter((m) => m.rpm !== undefined)).toEqual([]);
  });

  it('an endpoint that stops answering (connection refused) ends the run, exit 1, with no failure records; the rerun completes exactly once', async () => {
    box.emu = await startEmulator({ refuseAfter: 30, trackPrompts: true });
    const inputs = writeInputs(box.dir, 1, 100);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, concurrency: '4', maxAttempts: '3', retryBaseDelay: '5' });
    expect(r).toMatchObject({ outcome: 'fatal', exitCode: 1 });
    expect(r.error).toMatch(/the API cannot be reached: no answer at all for \d+ s .* rerun to resume/);
    expect(readOutputs(out).failures).toHaveLength(0);
    const written = readOutputs(out).all.length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(30);
    await box.emu.close();
    box.emu = await startEmulator({ trackPrompts: true });
    const again = await runAgainst(box.emu, inputs, { out });
    expect(again.exitCode).toBe(0);
    expectExactlyOnce(out, 100);
    expect(existsSync(join(out, 'failures.jsonl'))).toBe(false);
  });

  it('a prompt that alone keeps failing with 5xx while others succeed is still a failure record', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 20, (_f, l) => (l === 7 ? `q${l} [[emu:503]]` : `q${l}: two times ${l}`));
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, maxAttempts: '3', retryBaseDelay: '1' });
    expect(r.exitCode).toBe(3);
    expect(readOutputs(out).failures).toMatchObject([{ line: 7, error: { status: 'UNAVAILABLE', code: 503 } }]);
    expectExactlyOnce(out, 20);
  });
});
