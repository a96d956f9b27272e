// gempipe verify: what it finds wrong, in plain words, and that a clean directory passes.

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestSpecOf } from '../../src/request/spec.js';
import { formatVerify, jobShape, verify } from '../../src/output/verify.js';
import { tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const hash = requestSpecOf({ model: 'gemini-flash-latest' }).hash;
const rec = (source: string, line: number, prompt: string) => JSON.stringify({ id: `${source}:${line}`, hash: hash(prompt), source, line, prompt, response: 'r' }) + '\n';

describe('verify', () => {
  it('passes a directory that holds every current line once with matching hashes', async () => {
    const x = join(dir, 'x.txt');
    writeFileSync(x, 'a\nb\n\nc\n');
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'shard-00000.jsonl'), rec(x, 1, 'a') + rec(x, 4, 'c'));
    writeFileSync(join(out, 'failures.jsonl'), JSON.stringify({ id: `${x}:2`, hash: hash('b'), source: x, line: 2, prompt: 'b', attempts: 1, error: { status: 'BLOCKED', code: 0, message: 'm' } }) + '\n');
    writeFileSync(join(out, '.gempipe-job.json'), JSON.stringify({ model: 'gemini-flash-latest', inputFormat: 'text' }));
    const r = await verify({ out, inputs: [x], shape: jobShape(out, {}).shape });
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, succeeded: 2, failed: 1, lines: 3 });
    expect(r.notes.join()).toContain('1 record(s) are failures');
    expect(formatVerify(out, r)).toMatch(/^gempipe verify: .*: OK — 2 succeeded and 1 failed record\(s\), 3 input line\(s\) checked: every input line has exactly one record/);
  });

  it('names a torn tail, a bad line, an id twice, a missing line, a changed line and an orphan', async () => {
    const x = join(dir, 'x.txt');
    writeFileSync(x, 'a\nb\nc\nd\n');
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'shard-00000.jsonl'), rec(x, 1, 'a') + rec(x, 2, 'B (old)') + rec(x, 9, 'gone'));
    writeFileSync(join(out, 'shard-00001.jsonl'), rec(x, 1, 'a'));
    appendFileSync(join(out, 'shard-00001.jsonl'), '{"id":"x.txt:3","sour');
    writeFileSync(join(out, 'shard-00002.jsonl'), 'not json\n' + rec(x, 3, 'c'));
    const r = await verify({ out, inputs: [x], shape: {} });
    expect(r.ok).toBe(false);
    const text = r.problems.join('\n');
    expect(text).toContain('shard-00001.jsonl ends with a torn line');
    expect(text).toContain('shard-00002.jsonl line 1 is not a valid gempipe record');
    expect(text).toContain(`1 id(s) have more than one record in the shards (e.g. ${x}:1)`);
    expect(text).toContain(`2 input line(s) have no record (e.g. ${x}:3, ${x}:4)`);
    expect(text).toContain(`1 input line(s) changed since their records were written (e.g. ${x}:2)`);
    expect(text).toContain(`1 record(s) are for lines not in these inputs (e.g. ${x}:9)`);
  });
});
