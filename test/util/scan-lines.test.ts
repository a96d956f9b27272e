import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanLines } from '../../src/util/scan-lines.js';
import { tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe('scanLines', () => {
  it('gives every line with the offset past it, across chunk boundaries, and an unterminated last line', async () => {
    const long = 'x'.repeat((1 << 20) - 3); // the second line straddles the first 1 MiB chunk
    const text = `ab\n${long}\nlast`;
    const p = join(dir, 'f');
    writeFileSync(p, text);
    const got: Array<[string, number, boolean]> = [];
    const { bytes } = await scanLines(p, (d, s, e, next, terminated) => {
      got.push([d.toString('utf8', s, e).slice(0, 4), next, terminated]);
    });
    expect(got).toEqual([['ab', 3, true], ['xxxx', 3 + long.length + 1, true], ['last', text.length, false]]);
    expect(bytes).toBe(text.length);
  });

  it('stops when the visitor returns false', async () => {
    const p = join(dir, 'f');
    writeFileSync(p, 'a\nb\nc\n');
    const got: string[] = [];
    await scanLines(p, (d, s, e) => {
      got.push(d.toString('utf8', s, e));
      return got.length < 2;
    });
    expect(got).toEqual(['a', 'b']);
  });
});
