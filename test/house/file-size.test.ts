// No file in src/ over 300 lines (issue 22, code-review-3): a file that grows past it is split by
// role, not left to grow back into a hub. The test names each offender and its length.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '../../src');
const MOST = 300;

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('file size', () => {
  it(`no file in src/ is over ${MOST} lines`, () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(100);
    const over = files
      .map((p) => ({ file: relative(SRC, p), lines: readFileSync(p, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MOST)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(over).toEqual([]);
  });
});
