// One file, one source: a file given by another spelling — relative then absolute, from another
// working directory, moved — keeps the name its records have (OUT/.gempipe-sources.json), so
// nothing is asked again and verify passes; the same file twice in one run is refused (exit 2).
// The built CLI against an emulator in this process.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { verify } from '../../src/output/verify.js';
import { env, start } from '../helpers/cli-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

async function gempipe(cwd: string, args: string[]) {
  const p = start(['--rpm', 'off', ...args], { cwd, env: env(box.emu.url) });
  return { code: await p.exited, stderr: p.stderr() };
}

describe('a file spelled another way is the same source', () => {
  it('relative, then absolute, then from another directory, then moved: 0 requests after the first run; verify passes with any spelling', async () => {
    box.emu = await startEmulator({});
    const q = join(box.dir, 'q.txt');
    writeFileSync(q, Array.from({ length: 40 }, (_, i) => `What is two times ${i + 1}?`).join('\n') + '\n');
    mkdirSync(join(box.dir, 'sub'));
    expect((await gempipe(box.dir, ['-o', 'out', 'q.txt'])).code).toBe(0);
    expect(box.emu.stats.requests).toBe(40);

    const abs = await gempipe(box.dir, ['-o', 'out', q]);
    expect(abs.code, abs.stderr).toBe(0);
    expect(abs.stderr).toContain(`gempipe: 1 input(s) are files out/ knows by another name (the same real path): ${q} as q.txt; their records keep those names, so nothing is asked again`);
    const other = await gempipe(join(box.dir, 'sub'), ['-o', '../out', '../q.txt']);
    expect(other.code, other.stderr).toBe(0);
    renameSync(q, join(box.dir, 'moved.txt'));
    const moved = await gempipe(box.dir, ['-o', 'out', 'moved.txt']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toContain('(the same device and inode): moved.txt as q.txt');
    expect(box.emu.stats.requests).toBe(40);
    const recs = readOutputs(join(box.dir, 'out')).all;
    expect(recs).toHaveLength(40);
    expect(new Set(recs.map((r) => r.source))).toEqual(new Set(['q.txt']));
    expect((await verify({ out: join(box.dir, 'out'), inputs: [join(box.dir, 'moved.txt')] })).problems).toEqual([]);
  });

  it('a directory written before names were recorded: the absolute spelling finds the relative records', async () => {
    box.emu = await startEmulator({});
    writeFileSync(join(box.dir, 'q.txt'), 'What is two times 1?\nWhat is two times 2?\n');
    expect((await gempipe(box.dir, ['-o', 'out', 'q.txt'])).code).toBe(0);
    rmSync(join(box.dir, 'out', '.gempipe-sources.json'));
    const abs = await gempipe(box.dir, ['-o', 'out', join(box.dir, 'q.txt')]);
    expect(abs.code, abs.stderr).toBe(0);
    expect(box.emu.stats.requests).toBe(2);
  });

  it('the same file given twice in one run is a usage error naming both spellings, nothing sent', async () => {
    box.emu = await startEmulator({});
    writeFileSync(join(box.dir, 'q.txt'), 'What is two times 1?\n');
    const r = await gempipe(box.dir, ['-o', 'out', 'q.txt', join(box.dir, 'q.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`gempipe: error: q.txt and ${join(box.dir, 'q.txt')} are the same file (${join(box.dir, 'q.txt')}), given twice: give it once`);
    expect(box.emu.stats.requests).toBe(0);
  });
});
