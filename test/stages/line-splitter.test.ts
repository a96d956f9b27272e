import { describe, expect, it } from 'vitest';
import { createLineSplitter, type SplitLine } from '../../src/stages/line-splitter.js';

async function split(chunks: Buffer[], maxLineBytes = 1024): Promise<SplitLine[]> {
  const s = createLineSplitter({ maxLineBytes });
  const out: SplitLine[] = [];
  s.on('data', (l: SplitLine) => out.push(l));
  const done = new Promise((r, j) => {
    s.on('end', r);
    s.on('error', j);
  });
  for (const c of chunks) s.write(c);
  s.end();
  await done;
  return out;
}

const bytewise = (b: Buffer) => [...b].map((x) => Buffer.from([x]));

describe('createLineSplitter (split2 behind a byte guard)', () => {
  it('numbers physical lines, skipping blank ones but counting them', async () => {
    const out = await split([Buffer.from('a\n\n   \nb\n')]);
    expect(out).toEqual([{ line: 1, text: 'a' }, { line: 4, text: 'b' }]);
  });

  it('gives the same lines when fed one byte at a time, multi-byte characters included', async () => {
    const text = '\uFEFFhéllo wörld 🎉\r\nсекунда\n\n日本語 line\r\nlast without newline';
    const whole = await split([Buffer.from(text)]);
    const bytes = await split(bytewise(Buffer.from(text)));
    expect(bytes).toEqual(whole);
    expect(whole).toEqual([
      { line: 1, text: 'héllo wörld 🎉' },
      { line: 2, text: 'секунда' },
      { line: 4, text: '日本語 line' },
      { line: 5, text: 'last without newline' },
    ]);
  });

  it('drops a BOM only at the start of the input', async () => {
    const out = await split([Buffer.from('\uFEFFfirst\n\uFEFFsecond\n')]);
    expect(out.map((l) => l.text)).toEqual(['first', '\uFEFFsecond']);
  });

  it('turns invalid UTF-8 into U+FFFD instead of failing', async () => {
    const out = await split([Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a, 0xc3, 0x0a])]);
    expect(out).toEqual([{ line: 1, text: 'a\uFFFD\uFFFDb' }, { line: 2, text: '\uFFFD' }]);
  });

  it('reports an over-long line by its size without buffering it, then goes on', async () => {
    const long = Buffer.alloc(10_000, 0x78);
    const chunks = [Buffer.from('short\n'), ...Array.from({ length: 10 }, (_, i) => long.subarray(i * 1000, (i + 1) * 1000)), Buffer.from('\nafter\n')];
    const out = await split(chunks, 100);
    expect(out).toEqual([{ line: 1, text: 'short' }, { line: 2, text: '', tooLongBytes: 10_000 }, { line: 3, text: 'after' }]);
  });

  it('catches a long line that sits wholly inside one chunk (split2 does not)', async () => {
    const out = await split([Buffer.from(`ok\n${'y'.repeat(200)}\nok2\n`)], 100);
    expect(out.map((l) => l.tooLongBytes ?? l.text)).toEqual(['ok', 200, 'ok2']);
  });

  it('reports an over-long last line without a newline by its size (split2 alone emits it truncated), at any chunking', async () => {
    const text = Buffer.from(`a\n${'é'.repeat(150)}`); // 300 bytes, 150 UTF-16 units
    for (const chunks of [[text], bytewise(text)]) {
      expect(await split(chunks, 200)).toEqual([{ line: 1, text: 'a' }, { line: 2, text: '', tooLongBytes: 300 }]);
    }
    // Counted in bytes, not characters: 150 two-byte characters fit 300 bytes, not 299.
    expect((await split([text], 300))[1]).toEqual({ line: 2, text: 'é'.repeat(150) });
  });

  it('numbers lines after several over-long ones exactly, whatever their place in the chunks', async () => {
    const text = Buffer.from(`${'x'.repeat(50)}\nok\n\n${'y'.repeat(70)}\r\nend\r\n`);
    for (const chunks of [[text], bytewise(text), [text.subarray(0, 30), text.subarray(30, 75), text.subarray(75)]]) {
      expect(await split(chunks, 20)).toEqual([
        { line: 1, text: '', tooLongBytes: 50 },
        { line: 2, text: 'ok' },
        { line: 4, text: '', tooLongBytes: 71 },
        { line: 5, text: 'end' },
      ]);
    }
  });

  it('emits nothing for an empty input', async () => {
    expect(await split([])).toEqual([]);
    expect(await split([Buffer.alloc(0)])).toEqual([]);
  });

  it('fails with EBINARY on a NUL byte in the first 8 KB, whatever the chunking; not after', async () => {
    const head = Buffer.alloc(8191, 0x61);
    const bin = Buffer.concat([head, Buffer.from([0, 0x0a])]);
    for (const chunks of [[bin], [bin.subarray(0, 5000), bin.subarray(5000)], [bin.subarray(0, 8180), ...bytewise(bin.subarray(8180))]]) {
      await expect(split(chunks, 1 << 20)).rejects.toMatchObject({ code: 'EBINARY', offset: 8191 });
    }
    const late = Buffer.concat([Buffer.alloc(8192, 0x61), Buffer.from([0x0a, 0, 0x0a])]);
    expect((await split([late], 1 << 20)).map((l) => l.line)).toEqual([1, 2]);
  });
});
