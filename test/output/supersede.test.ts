// supersede(): the move of changed lines' records to superseded.jsonl is repeatable after a
// crash at any step: the shards end with one record per line, superseded.jsonl with each once.

import { appendFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdSet } from '../../src/output/id-set.js';
import { loadOutputState } from '../../src/output/output-state.js';
import { supersede } from '../../src/output/supersede.js';
import { readJsonl, tempDir } from '../helpers/util.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t.cleanup());

const rec = (line: number, extra = '') => JSON.stringify({ id: `x.txt:${line}`, hash: `${line}000000aaaaaaaa`, source: 'x.txt', line, prompt: `p${line}${extra}`, response: 'r' }) + '\n';

describe('supersede', () => {
  it('moves exactly the changed records; a crash before the rename, redone, adds nothing twice; a torn superseded tail is cut', async () => {
    t = tempDir();
    const s0 = join(t.dir, 'shard-00000.jsonl');
    const s1 = join(t.dir, 'shard-00001.jsonl');
    writeFileSync(s0, rec(1) + rec(2) + rec(3));
    writeFileSync(s1, rec(4) + rec(5));
    writeFileSync(join(t.dir, 'failures.jsonl'), JSON.stringify({ id: 'x.txt:6', source: 'x.txt', line: 6, prompt: 'p6', attempts: 1, error: { status: 'X', code: 0, message: 'm' } }) + '\n');
    const changed = new IdSet();
    for (const l of [2, 4, 5, 6]) changed.add('x.txt', l);
    const before = { s0: readJsonl(s0), s1: readJsonl(s1) };
    expect(await supersede(t.dir, changed)).toBe(4);
    expect(readJsonl(s0).map((r) => r.line)).toEqual([1, 3]);
    expect(existsSync(s1)).toBe(false); // emptied: removed
    expect(readJsonl(join(t.dir, 'failures.jsonl'))).toEqual([]);
    expect(readJsonl(join(t.dir, 'superseded.jsonl')).map((r) => r.line)).toEqual([6, 2, 4, 5]);

    // A crash after superseded.jsonl was written but before shard-00000's rename: the shard
    // still holds line 2, a torn line ends superseded.jsonl, a .tmp is left behind.
    writeFileSync(s0, before.s0.map((r) => JSON.stringify(r) + '\n').join(''));
    appendFileSync(join(t.dir, 'superseded.jsonl'), '{"id":"x.txt:2","sou');
    writeFileSync(join(t.dir, '.shard-00000.jsonl.tmp'), rec(1));
    const state = await loadOutputState(t.dir);
    expect(state.repairs).toContain('removed an unfinished .shard-00000.jsonl.tmp');
    expect(readdirSync(t.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await supersede(t.dir, changed)).toBe(1);
    expect(readJsonl(s0).map((r) => r.line)).toEqual([1, 3]);
    expect(readJsonl(join(t.dir, 'superseded.jsonl')).map((r) => r.line)).toEqual([6, 2, 4, 5]);
  });

  it('loadOutputState keeps each record hash (the last failure of an id wins) and counts records without one', async () => {
    t = tempDir();
    writeFileSync(join(t.dir, 'shard-00000.jsonl'), rec(1) + JSON.stringify({ id: 'x.txt:2', source: 'x.txt', line: 2, prompt: 'old', response: 'r' }) + '\n');
    const fail = (hash: string) => JSON.stringify({ id: 'x.txt:3', hash, source: 'x.txt', line: 3, prompt: 'p', attempts: 1, error: { status: 'X', code: 0, message: 'm' } }) + '\n';
    writeFileSync(join(t.dir, 'failures.jsonl'), fail('1111111100000000') + fail('2222222200000000'));
    const s = await loadOutputState(t.dir);
    expect(s.hashes.get('x.txt', 1)).toBe(0x1000000a);
    expect(s.hashes.get('x.txt', 2)).toBe(0);
    expect(s.hashes.get('x.txt', 3)).toBe(0x22222222);
    expect(s.unhashed).toBe(1);
  });
});
