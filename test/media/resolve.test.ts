// --attach's resolver: paths relative to the input file's folder, each file read into its
// SHA-256 and type, inline or uploaded by size (a record's inline files together under the
// limit), URLs handed on; whatever cannot be sent makes the record INVALID_INPUT naming the
// field, the line and the file — and the default inline limit from --concurrency.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, ftruncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAttachmentResolver, inlineLimitOf } from '../../src/media/resolve.js';
import type { InputRecord } from '../../src/records.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function rec(line: number, refs: Array<[string, string]>): InputRecord {
  const source = join(box.dir, 'in', 'job.jsonl');
  return { id: `${source}:${line}`, source, line, prompt: 'Caption', attach: refs.map(([field, value]) => ({ field, value })) };
}

describe('createAttachmentResolver', () => {
  it('reads a path relative to the input file\'s folder: its SHA-256, type and size; inline or uploaded by size; a URL handed on', async () => {
    mkdirSync(join(box.dir, 'in', 'img'), { recursive: true });
    const small = Buffer.concat([PNG, randomBytes(100)]);
    const large = Buffer.concat([PNG, randomBytes(5000)]);
    writeFileSync(join(box.dir, 'in', 'img', 'small.png'), small);
    writeFileSync(join(box.dir, 'in', 'img', 'large.png'), large);
    const resolve = createAttachmentResolver({ inlineMax: 1000 });
    const r = await resolve(rec(3, [['image', 'img/small.png'], ['scan', 'img/large.png'], ['link', 'https://example.com/a/b.pdf?sig=1']]));
    expect(r.invalid).toBeUndefined();
    expect(r.attach).toBeUndefined();
    expect(r.media).toEqual([
      { field: 'image', path: join(box.dir, 'in', 'img', 'small.png'), mimeType: 'image/png', sha256: sha(small), size: small.length, via: 'inline' },
      { field: 'scan', path: join(box.dir, 'in', 'img', 'large.png'), mimeType: 'image/png', sha256: sha(large), size: large.length, via: 'file' },
      { field: 'link', url: 'https://example.com/a/b.pdf?sig=1', mimeType: 'application/pdf', via: 'url' },
    ]);
  });

  it('a record\'s inline files together stay under the limit: the largest go through the Files API', async () => {
    mkdirSync(join(box.dir, 'in'), { recursive: true });
    for (const [name, n] of [['a', 400], ['b', 700], ['c', 300]] as const) writeFileSync(join(box.dir, 'in', `${name}.png`), Buffer.concat([PNG, randomBytes(n - 8)]));
    const r = await createAttachmentResolver({ inlineMax: 1000 })(rec(1, [['x', 'a.png'], ['y', 'b.png'], ['z', 'c.png']]));
    expect(r.media!.map((m) => m.via)).toEqual(['inline', 'file', 'inline']);
  });

  it('a missing, unreadable, empty, oversized or unknown file, or another scheme, makes the record INVALID_INPUT naming field, line and file', async () => {
    mkdirSync(join(box.dir, 'in', 'dir'), { recursive: true });
    writeFileSync(join(box.dir, 'in', 'empty.png'), '');
    writeFileSync(join(box.dir, 'in', 'elf.png'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]));
    // Sparse: 3 GB of nothing, never read (the size alone refuses it).
    const fd = openSync(join(box.dir, 'in', 'huge.mp4'), 'w');
    writeSync(fd, Buffer.from([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70]));
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    const resolve = createAttachmentResolver({ inlineMax: 1000 });
    const job = join('in', 'job.jsonl');
    const cases: Array<[string, RegExp]> = [
      ['nope.png', /line 7 of .*job\.jsonl: field "image" \(--attach\) names nope\.png, which does not exist \(.*in\/nope\.png\)/],
      ['dir', /names dir, which is a directory/],
      ['empty.png', /names empty\.png, which is empty/],
      ['huge.mp4', /names huge\.mp4, which is 3,221,225,472 bytes: over the 2,147,483,648 bytes a file the Files API takes/],
      ['elf.png', /names elf\.png, which is none of the types Gemini takes .* it starts 7f454c4602010100/],
      ['gs://bucket/x.png', /names gs:\/\/bucket\/x\.png, a URL gempipe cannot hand on/],
    ];
    for (const [value, message] of cases) {
      const r = await resolve(rec(7, [['image', value]]));
      expect(r.invalid?.message, value).toMatch(message);
      expect(r.invalid!.message).toContain(job);
      expect(r.media).toBeUndefined();
    }
  });

  it('--inline-max auto: 192 MiB / --concurrency within 256 KiB and 20 MiB; a given value as it is', () => {
    expect(inlineLimitOf({ concurrency: 16 })).toBe(12 * 1024 ** 2);
    expect(inlineLimitOf({ concurrency: 64 })).toBe(3 * 1024 ** 2);
    expect(inlineLimitOf({ concurrency: 4 })).toBe(20 * 1024 ** 2);
    expect(inlineLimitOf({ concurrency: 10_000 })).toBe(256 * 1024);
    expect(inlineLimitOf({ concurrency: 16, inlineMax: 0 })).toBe(0);
  });
});
