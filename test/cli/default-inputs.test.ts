// No INPUT as cron, systemd, nohup and CI run gempipe: stdin at /dev/null (or an empty file) is
// not a job — ./inputs is read; without ./inputs it is a usage error; an empty pipe while ./inputs
// exists is said, even with -q. The built CLI spawned with each kind of stdin.

import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultInputs, stdinKind } from '../../src/stages/default-inputs.js';
import { env, start } from '../helpers/cli-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

function withInputsDir(): void {
  mkdirSync(join(box.dir, 'inputs'));
  writeFileSync(join(box.dir, 'inputs', 'a.txt'), 'What is two times 1?\nWhat is two times 2?\n');
  writeFileSync(join(box.dir, 'inputs', 'b.txt'), 'What is two times 3?\n');
}

/** The CLI with its stdin from `stdin` (a path opened for reading, or 'pipe' with `input`). */
async function run(args: string[], stdin: string | 'pipe', input?: string) {
  const fd = stdin === 'pipe' ? 'pipe' : openSync(stdin, 'r');
  try {
    const p = start(['--emulator', ...args], { cwd: box.dir, env: env(), stdio: [fd, 'ignore', 'pipe'], input });
    return { code: await p.exited, stderr: p.stderr() };
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

describe('no INPUT: stdin or ./inputs', () => {
  it('stdin at /dev/null in a directory holding inputs/: the inputs are run (also with -q), and stderr says why', async () => {
    withInputsDir();
    const r = await run(['-o', 'out'], '/dev/null');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('stdin holds nothing (/dev/null or an empty file, as under cron, systemd or nohup): reading ./inputs');
    expect(readOutputs(join(box.dir, 'out')).all.map((x) => x.id).sort()).toEqual(['inputs/a.txt:1', 'inputs/a.txt:2', 'inputs/b.txt:1']);
    const q = await run(['-q', '-o', 'out-q'], '/dev/null');
    expect(q.code, q.stderr).toBe(0);
    expect(readOutputs(join(box.dir, 'out-q')).all).toHaveLength(3);
  });

  it('stdin from an empty file reads ./inputs; from a file with data, stdin', async () => {
    withInputsDir();
    writeFileSync(join(box.dir, 'empty.txt'), '');
    expect((await run(['-q', '-o', 'o1'], join(box.dir, 'empty.txt'))).code).toBe(0);
    expect(readOutputs(join(box.dir, 'o1')).all).toHaveLength(3);
    writeFileSync(join(box.dir, 'one.txt'), 'What is two times 9?\n');
    expect((await run(['-q', '-o', 'o2'], join(box.dir, 'one.txt'))).code).toBe(0);
    expect(readOutputs(join(box.dir, 'o2')).all.map((x) => x.id)).toEqual(['stdin:1']);
  });

  it('stdin at /dev/null and no ./inputs: exit 2 saying what to give, nothing written', async () => {
    const r = await run(['-q', '-o', 'out'], '/dev/null');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No INPUT given, stdin holds nothing');
    expect(r.stderr).toContain('there is no ./inputs directory');
    expect(readOutputs(box.dir).all).toEqual([]);
  });

  it('an empty pipe while ./inputs exists: exit 0 with a warning naming ./inputs, even with -q', async () => {
    withInputsDir();
    const r = await run(['-q', '-o', 'out'], 'pipe', '');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('stdin (a pipe) held no prompt, so nothing was done; ./inputs was not read');
    const piped = await run(['-q', '-o', 'out2'], 'pipe', 'What is two times 5?\n');
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(readOutputs(join(box.dir, 'out2')).all.map((x) => x.id)).toEqual(['stdin:1']);
  });

  it('the rule: a terminal or no data -> ./inputs; data -> stdin; a stream without a descriptor keeps the old rule', () => {
    expect(stdinKind({ isTTY: true, fd: 0 })).toBe('tty');
    const devnull = openSync('/dev/null', 'r');
    try {
      expect(stdinKind({ fd: devnull })).toBe('empty');
    } finally {
      closeSync(devnull);
    }
    expect(stdinKind({})).toBe('unknown');
    expect(defaultInputs(['x.txt'], { isTTY: true }).inputs).toEqual(['x.txt']);
    expect(defaultInputs([], {}).inputs).toEqual(['-']);
    expect(defaultInputs([], { isTTY: true }).inputs).toEqual(['inputs']);
  });
});
