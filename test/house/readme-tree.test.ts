// The README's Architecture tree, one line per file of src/, cannot drift from src/: every file
// is in it, and every file in it exists.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [relative(join(ROOT, 'src'), p)] : [];
  });
}

describe("the README's Architecture tree", () => {
  it('lists every file of src/, and no other', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = readme.slice(readme.indexOf('```\nsrc/\n') + 4, readme.indexOf('\ntest/\n', readme.indexOf('```\nsrc/\n')));
    const listed: string[] = [];
    let folder = '';
    for (const line of block.split('\n').slice(1)) {
      const dir = /^ {2}(\S+)\/$/.exec(line);
      const top = /^ {2}(\S+\.ts)\s/.exec(line);
      const inner = /^ {4}(\S+\.ts)\s/.exec(line);
      if (dir) folder = dir[1] + '/';
      else if (top) listed.push(top[1]);
      else if (inner) listed.push(folder + inner[1]);
    }
    expect(listed.sort()).toEqual(files(join(ROOT, 'src')).sort());
  });
});
