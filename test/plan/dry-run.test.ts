// --dry-run plans what the run would do (issue 21, item 8): the requests --dedupe and --cache
// leave (answers on disk counted, the cache read only), and --mode auto by the run's own
// decision. The built CLI, spawned; its emulator runs in the child.

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli-helpers.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

/** `n` lines asking `distinct` different questions, in turn. */
function lines(name: string, n: number, distinct: number): string {
  const p = join(box.dir, name);
  writeFileSync(p, Array.from({ length: n }, (_, i) => `What is two times ${i % distinct}?`).join('\n') + '\n');
  return p;
}

/** The plan's `label:` line's text. */
const line = (plan: string, label: string) => plan.split('\n').find((l) => l.trimStart().startsWith(label + ':'))?.slice(label.length + 3).trim();

function dryRun(args: string[]): string {
  const r = cli(box.dir, ['--dry-run', ...args], { noKey: true });
  expect(r.stderr).not.toMatch(/error/);
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('--dry-run with --dedupe', () => {
  it('counts the distinct requests: tokens, time and cost are those of the distinct prompts alone', () => {
    const plan = dryRun(['--dedupe', '--rpm', '60', '-o', join(box.dir, 'out'), lines('dup.txt', 1000, 30)]);
    expect(line(plan, 'records to do')).toBe('1,000');
    expect(line(plan, 'requests to send')).toMatch(/^30 \(970 of the 1,000 cost no request — --dedupe: 970 repeat a request asked earlier in this job, 0 are answered in .*out\/ already\)$/);
    const alone = dryRun(['--rpm', '60', '-o', join(box.dir, 'out2'), lines('distinct.txt', 30, 30)]);
    for (const l of ['input tokens (est.)', 'output tokens (est.)', 'duration (est.)', 'cost (est.)', 'with --mode batch']) expect(line(plan, l), l).toBe(line(alone, l));
  });

  it('counts the requests answered in the directory already as free', () => {
    const out = join(box.dir, 'out');
    expect(cli(box.dir, ['--emulator', '-q', '-o', out, lines('first.txt', 10, 10)]).status).toBe(0);
    const plan = dryRun(['--dedupe', '-o', out, lines('more.txt', 40, 20)]); // the 20 lines asking the 10 questions answered in out/ cost nothing; the other 20 ask 10
    expect(line(plan, 'requests to send')).toMatch(/^10 \(30 of the 40 cost no request — --dedupe: 10 repeat a request asked earlier in this job, 20 are answered in .*out\/ already\)$/);
  });
});

describe('--dry-run with --cache', () => {
  it('counts the cache\'s answers, reading it only: the cache file is left as it was', () => {
    const cache = join(box.dir, 'answers.lmdb');
    const questions = lines('q.txt', 12, 12);
    expect(cli(box.dir, ['--emulator', '-q', '--temperature', '0', '--cache', cache, '-o', join(box.dir, 'paid'), questions]).status).toBe(0);
    const before = readFileSync(cache);
    const mtime = statSync(cache).mtimeMs;
    const more = lines('more.txt', 20, 20); // the 12 cached questions and 8 new ones
    const plan = dryRun(['--temperature', '0', '--cache', cache, '-o', join(box.dir, 'new'), more]);
    expect(line(plan, 'requests to send')).toBe(`8 (12 of the 20 cost no request — --cache: 12 answered by ${cache})`);
    expect(readFileSync(cache).equals(before)).toBe(true);
    expect(statSync(cache).mtimeMs).toBe(mtime);
    expect(readdirSync(box.dir)).not.toContain('new'); // a dry run makes nothing
  });

  it('a cache file that is not there yet answers nothing, and is not made', () => {
    const plan = dryRun(['--temperature', '0', '--cache', join(box.dir, 'none.lmdb'), '-o', join(box.dir, 'out'), lines('q.txt', 5, 5)]);
    expect(line(plan, 'requests to send')).toMatch(/^5 \(0 of the 5 cost no request/);
    expect(readdirSync(box.dir).filter((n) => n.startsWith('none'))).toEqual([]);
  });
});

describe('--dry-run and --mode auto', () => {
  it('predicts what the run decides, by the run\'s own count (invalid lines included)', () => {
    const input = join(box.dir, 'j.jsonl');
    writeFileSync(input, '{"prompt":"a"}\n{"prompt":"b"}\n{"prompt":"c"}\nnot json\nnot json\n{"x":1}\n{"y":2}\n');
    const args = ['--input-format', 'jsonl', '--mode', 'auto', '--batch-threshold', '5', '-o', join(box.dir, 'out'), input];
    const predicted = line(dryRun(args), '--mode auto would');
    const r = cli(box.dir, ['--emulator', '--detach', ...args]);
    expect(r.status).toBe(3); // the invalid lines are failures
    const decided = /--mode auto: (\w+) \((.*)\)/.exec(r.stderr);
    expect(decided, r.stderr).not.toBeNull();
    expect(predicted).toBe(`go ${decided![1]} (${decided![2]})`);
    expect(decided![1]).toBe('batch');
  });
});
