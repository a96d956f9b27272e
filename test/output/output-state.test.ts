import { readdirSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdSet } from '../../src/output/id-set.js';
import { isFailure } from '../../src/records.js';
import { compactFailures, loadOutputState } from '../../src/output/output-state.js';
import { readJsonl, tempDir } from '../helpers/util.js';

let cleanup = () => {};
afterEach(() => cleanup());

const line = (source: string, l: number, extra: object = { response: 'r' }) => JSON.stringify({ id: `${source}:${l}`, source, line: l, prompt: 'p', ...extra }) + '\n';
const fail = (source: string, l: number, msg = 'x') => line(source, l, { attempts: 1, error: { status: 'UNAVAILABLE', code: 503, message: msg } });

describe('loadOutputState', () => {
  it('indexes shards and failures, and continues numbering after the highest shard', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeFileSync(join(t.dir, 'shard-00000.jsonl'), line('a', 1) + line('a', 2));
    writeFileSync(join(t.dir, 'shard-00004.jsonl'), line('b', 1));
    writeFileSync(join(t.dir, 'failures.jsonl'), fail('a', 3));
    const s = await loadOutputState(t.dir);
    expect(s.nextShard).toBe(5);
    expect(s.succeeded.size).toBe(3);
    expect(s.succeeded.has('a', 2) && s.succeeded.has('b', 1)).toBe(true);
    expect(s.failed.has('a', 3)).toBe(true);
    expect(s.failuresNeedCompaction).toBe(false);
  });

  it('truncates a torn last line (a crash mid-write) so the record is redone', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const p = join(t.dir, 'shard-00000.jsonl');
    writeFileSync(p, line('a', 1) + line('a', 2) + line('a', 3).slice(0, 25));
    const s = await loadOutputState(t.dir);
    expect(s.succeeded.has('a', 3)).toBe(false);
    expect(s.succeeded.size).toBe(2);
    expect(s.repairs[0]).toMatch(/truncated a torn last line/);
    expect(readFileSync(p, 'utf8')).toBe(line('a', 1) + line('a', 2));
  });

  it('refuses a file with a bad line in the middle, naming file and line', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeFileSync(join(t.dir, 'shard-00000.jsonl'), line('a', 1) + 'garbage\n' + line('a', 3));
    await expect(loadOutputState(t.dir)).rejects.toThrow(/shard-00000.jsonl line 2 is not a valid gempipe record/);
  });

  it('keeps the index compact: a million done ids of one file fit in about 128 KB', () => {
    const ids = new IdSet();
    for (let i = 1; i <= 1_000_000; i++) ids.add('inputs/big.txt', i);
    expect(ids.size).toBe(1_000_000);
    expect(ids.bytes).toBeLessThan(140_000);
  });

  it('--overwrite removes shards and failures only', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeFileSync(join(t.dir, 'shard-00000.jsonl'), line('a', 1));
    writeFileSync(join(t.dir, 'failures.jsonl'), fail('a', 2));
    writeFileSync(join(t.dir, 'notes.txt'), 'mine');
    writeFileSync(join(t.dir, 'shard-00007.jsonl'), line('a', 3));
    const s = await loadOutputState(t.dir, { overwrite: true });
    expect(s.succeeded.size + s.failed.size).toBe(0);
    expect(s.nextShard).toBe(0);
    // The shards and failures.jsonl are gone from the disk; anything else is left alone.
    expect(readdirSync(t.dir).sort()).toEqual(['notes.txt']);
    expect(readFileSync(join(t.dir, 'notes.txt'), 'utf8')).toBe('mine');
  });
});

describe('compactFailures', () => {
  it('keeps one line per id — the last failure — and drops ids that later succeeded', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const f = join(t.dir, 'failures.jsonl');
    writeFileSync(f, fail('a', 1, 'old') + fail('a', 2, 'old') + fail('a', 3));
    appendFileSync(f, fail('a', 1, 'new'));
    writeFileSync(join(t.dir, 'shard-00000.jsonl'), line('a', 2));
    const s = await loadOutputState(t.dir);
    expect(s.failuresNeedCompaction).toBe(true);
    expect(await compactFailures(t.dir, s.succeeded)).toBe(2);
    const left = readJsonl(f);
    expect(left.map((r) => [r.line, isFailure(r) ? r.error.message : ''])).toEqual([[3, 'x'], [1, 'new']]);
  });
});
