import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countRecords, resolveInputs } from '../../src/stages/read-inputs.js';
import { tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe('countRecords (the progress total before the reader reaches the end)', () => {
  it('counts non-blank lines across files: BOM, CRLF, blank and whitespace-only lines, no final newline', async () => {
    writeFileSync(join(dir, 'a.txt'), '\uFEFFone\r\n\r\n  \t \ntwo\nthree');
    writeFileSync(join(dir, 'b.txt'), '\n\nfour\n');
    writeFileSync(join(dir, 'c.txt'), '');
    writeFileSync(join(dir, 'd.txt'), '\uFEFF\n');
    expect(await countRecords(resolveInputs([dir]))).toBe(4);
  });

  it('gives up on stdin, on inputs over the size limit, and on a file it cannot read', async () => {
    writeFileSync(join(dir, 'a.txt'), 'x\n'.repeat(100));
    expect(await countRecords(resolveInputs([join(dir, 'a.txt'), '-']))).toBeUndefined();
    expect(await countRecords(resolveInputs([join(dir, 'a.txt')]), 50)).toBeUndefined();
    expect(await countRecords([{ source: 'gone', path: join(dir, 'gone.txt') }])).toBeUndefined();
    expect(await countRecords(resolveInputs([join(dir, 'a.txt')]))).toBe(100);
  });
});
