// -q never hides why a run failed (issue 20): every exit 1 or 2 prints its one line on stderr,
// naming the fix — a rejected key, a location the API refuses, no quota (limit 0), the daily
// quota, a full disk, a usage error — and nothing else. And a rerun over a directory that still
// holds failures exits 3, saying how many are from earlier runs.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorOptions } from '../../src/emulator/server.js';
import { env, start } from '../helpers/cli-helpers.js';
import { sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();

async function quietRun(emu: EmulatorOptions, args: string[], o: { key?: string; prompts?: readonly string[] } = {}) {
  box.emu = await startEmulator(emu);
  const input = join(box.dir, 'in.txt');
  writeFileSync(input, (o.prompts ?? Array.from({ length: 40 }, (_, i) => `What is two times ${i}?`)).join('\n') + '\n');
  const e = env(box.emu.url);
  if (o.key) e.GEMINI_API_KEY = o.key;
  const r = start(['-q', '-o', join(box.dir, 'out'), '--rpm', 'off', ...args, input], { env: e });
  const code = await r.exited;
  return { code, lines: r.stderr().split('\n').filter(Boolean) };
}

describe('-q and a whole-run fault: one stderr line naming the fix', () => {
  it.each([
    ['a rejected key', {}, { key: 'invalid-key-1234' }, /the API key was rejected; check GEMINI_API_KEY/],
    ['a location the API refuses', { locationError: true }, {}, /run from a supported region/],
    ['no quota at all (limit 0)', { limitZero: true }, {}, /limit 0\): enable billing for the project, or pick another --model/],
    ['the daily quota', {}, { prompts: ['one [[emu:429day]]', 'two [[emu:429day]]'] }, /daily .*quota .*exhausted .*rerun then to resume/],
  ] as const)('%s: exit 1', async (_what, emu, o, fix) => {
    const r = await quietRun(emu, [], o);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^gempipe: error: /);
    expect(r.lines[0]).toMatch(fix);
  });

  it('a usage error: exit 2, its one line naming the flag', async () => {
    const r = await quietRun({}, ['--concurrency', '0']);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(['gempipe: error: Expected `--concurrency` to be an integer from 1 to 10000, got `0`']);
  });

  it('a full disk (a 1 MB tmpfs): exit 1, each line an error, one naming the fix', async (ctx) => {
    const mnt = join(box.dir, 'fs');
    mkdirSync(mnt);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status !== 0) {
      console.warn('the disk-full case skipped: cannot mount a tmpfs here (needs root and mount permission)');
      return ctx.skip();
    }
    try {
      box.emu = await startEmulator({});
      const input = writeInputs(box.dir, 1, 3000, (_f, l) => `Prompt ${l}: ${'explain the water cycle in plain words, '.repeat(3)}`)[0];
      const r = start(['-q', '-o', join(mnt, 'out'), '--rpm', 'off', '--write-retry', '1', '--concurrency', '16', input], { env: env(box.emu.url) });
      expect(await r.exited).toBe(1);
      const lines = r.stderr().split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (const l of lines) expect(l).toMatch(/^gempipe: error: /);
      expect(lines.some((l) => /disk full .*free space/.test(l))).toBe(true);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('failures left in the directory', () => {
  it('a rerun that asks nothing still exits 3 while failures.jsonl holds records; the summary counts them and names --retry-failed', async () => {
    box.emu = await startEmulator({});
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, 'fine\nblocked [[emu:block]]\n');
    const args = ['-o', join(box.dir, 'out'), '--rpm', 'off', input];
    const first = start(args, { env: env(box.emu.url) });
    expect(await first.exited).toBe(3);
    const again = start(args, { env: env(box.emu.url) });
    expect(await again.exited).toBe(3);
    expect(again.stderr()).toMatch(/0 succeeded, 0 failed, 2 skipped/);
    expect(again.stderr()).toContain('1 failure record(s) from earlier runs are still in failures.jsonl: rerun with --retry-failed to ask them again');
    expect(box.emu.stats.requests).toBe(2);
  });
});
