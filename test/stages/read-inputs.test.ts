import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InputRecord } from '../../src/records.js';
import { countRecords, createInputReader, resolveInputs } from '../../src/stages/read-inputs.js';
import { parseTextLine } from '../../src/stages/line-parsers.js';
import { tempDir, openUnder } from '../helpers/util.js';

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


describe('createInputReader (one stream-chain per source, merged)', () => {
  it('never holds more than --open-files input files open, reads every line once, and closes them all', async () => {
    for (let f = 0; f < 60; f++) writeFileSync(join(dir, `f${String(f).padStart(3, '0')}.txt`), Array.from({ length: 50 }, (_, l) => `p${f}-${l + 1}`).join('\n') + '\n');
    const reader = createInputReader({ sources: resolveInputs([dir]), openFiles: 3, maxLineBytes: 1024, parse: parseTextLine });
    let peak = 0;
    const ids = new Set<string>();
    let n = 0;
    await pipeline(reader, new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(rec: InputRecord, _e, cb) {
        ids.add(rec.id);
        if (++n % 25 === 0) peak = Math.max(peak, openUnder(dir));
        setImmediate(cb); // a slow consumer: back-pressure reaches the files
      },
    }));
    expect(n).toBe(3000);
    expect(ids.size).toBe(3000);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
    expect(openUnder(dir)).toBe(0);
  });

  it('a consumer that fails tears every source chain down: no file is left open', async () => {
    for (let f = 0; f < 10; f++) writeFileSync(join(dir, `g${f}.txt`), 'line\n'.repeat(20_000));
    const reader = createInputReader({ sources: resolveInputs([dir]), openFiles: 4, maxLineBytes: 1024, parse: parseTextLine });
    let n = 0;
    await expect(pipeline(reader, new Writable({
      objectMode: true,
      write(_r, _e, cb) {
        cb(++n === 5000 ? new Error('disk full') : null);
      },
    }))).rejects.toThrow('disk full');
    // Closing a file is asynchronous (fs thread pool): give the closes their turns, bounded.
    for (let i = 0; i < 200 && openUnder(dir) > 0; i++) await new Promise((r) => setImmediate(r));
    expect(openUnder(dir)).toBe(0);
  });

  it('an unreadable source is reported and the others go on', async () => {
    writeFileSync(join(dir, 'a.txt'), 'one\ntwo\n');
    const errors: string[] = [];
    const reader = createInputReader({
      sources: [{ source: 'gone', path: join(dir, 'gone.txt') }, ...resolveInputs([join(dir, 'a.txt')])],
      maxLineBytes: 1024, parse: parseTextLine, onSourceError: (s, e) => errors.push(`${s}: ${(e as NodeJS.ErrnoException).code}`),
    });
    const got: string[] = [];
    for await (const r of reader) got.push((r as InputRecord).prompt);
    expect(got).toEqual(['one', 'two']);
    expect(errors).toEqual(['gone: ENOENT']);
  });
});
