// sniffMime(): the type from the first bytes, one row per signature of the table, text by its
// extension only when the bytes are text, an unknown binary refused; mimeOfUrl() by name alone.

import { describe, expect, it } from 'vitest';
import { mimeOfUrl, sniffMime } from '../../src/media/mime.js';

const b = (...xs: Array<number | string>) => Buffer.concat(xs.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from([x]))));
const pad = (head: Buffer) => Buffer.concat([head, Buffer.alloc(32, 0x41)]);

describe('sniffMime', () => {
  const rows: Array<[string, Buffer, string]> = [
    ['PNG', b(0x89, 'PNG\r\n', 0x1a, '\n'), 'image/png'],
    ['JPEG', b(0xff, 0xd8, 0xff, 0xe0), 'image/jpeg'],
    ['WebP', b('RIFF', 0, 0, 0, 0, 'WEBPVP8 '), 'image/webp'],
    ['GIF', b('GIF89a'), 'image/gif'],
    ['HEIC', b(0, 0, 0, 0x18, 'ftypheic'), 'image/heic'],
    ['HEIF', b(0, 0, 0, 0x18, 'ftypmif1'), 'image/heif'],
    ['PDF', b('%PDF-1.7'), 'application/pdf'],
    ['WAV', b('RIFF', 0, 0, 0, 0, 'WAVEfmt '), 'audio/wav'],
    ['AVI', b('RIFF', 0, 0, 0, 0, 'AVI LIST'), 'video/x-msvideo'],
    ['AIFF', b('FORM', 0, 0, 0, 0, 'AIFF'), 'audio/aiff'],
    ['FLAC', b('fLaC'), 'audio/flac'],
    ['Ogg', b('OggS'), 'audio/ogg'],
    ['MP3 with ID3', b('ID3', 4, 0), 'audio/mp3'],
    ['MP3 frame', b(0xff, 0xfb, 0x90, 0x64), 'audio/mp3'],
    ['AAC (ADTS)', b(0xff, 0xf1, 0x50, 0x80), 'audio/aac'],
    ['MP4', b(0, 0, 0, 0x20, 'ftypisom'), 'video/mp4'],
    ['MOV', b(0, 0, 0, 0x14, 'ftypqt  '), 'video/quicktime'],
    ['3GP', b(0, 0, 0, 0x14, 'ftyp3gp5'), 'video/3gpp'],
    ['WebM', b(0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x84, 'webm'), 'video/webm'],
    ['FLV', b('FLV', 1, 5), 'video/x-flv'],
    ['WMV', b(0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11), 'video/wmv'],
    ['MPEG', b(0, 0, 1, 0xba), 'video/mpeg'],
    ['RTF', b('{\\rtf1 Hello'), 'text/rtf'],
  ];
  it.each(rows)('%s', (_name, head, type) => {
    expect(sniffMime(pad(head), 'no-extension')).toBe(type);
    // The name never overrides the bytes.
    expect(sniffMime(pad(head), 'photo.txt')).toBe(type);
  });

  it('text has no signature: valid UTF-8 without NUL is text, typed by its extension; anything else is refused', () => {
    const text = Buffer.from('Bonjour, ça va? — données\n');
    expect(sniffMime(text, 'notes.md', true)).toBe('text/md');
    expect(sniffMime(text, 'table.csv', true)).toBe('text/csv');
    expect(sniffMime(text, 'x.py', true)).toBe('text/x-python');
    expect(sniffMime(text, 'README', true)).toBe('text/plain');
    // A multi-byte character cut at the end of the sniffed head is still text; inside a whole file it is not.
    const cut = Buffer.concat([Buffer.from('abc'), Buffer.from('é').subarray(0, 1)]);
    expect(sniffMime(cut, 'a.txt', false)).toBe('text/plain');
    expect(sniffMime(cut, 'a.txt', true)).toBeUndefined();
    expect(sniffMime(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), 'image.png')).toBeUndefined(); // an ELF binary named .png
    expect(sniffMime(Buffer.from('a\u0000b'), 'a.txt')).toBeUndefined();
    expect(sniffMime(Buffer.alloc(0), 'empty.txt', true)).toBeUndefined();
  });
});

describe('mimeOfUrl', () => {
  it('reads the path\'s extension, ignoring the query (signed URLs), else says nothing', () => {
    expect(mimeOfUrl('https://bucket.s3.amazonaws.com/a/cat.JPG?X-Amz-Signature=abc.pdf')).toBe('image/jpeg');
    expect(mimeOfUrl('https://example.com/report.pdf')).toBe('application/pdf');
    expect(mimeOfUrl('https://example.com/clip.mp4#t=3')).toBe('video/mp4');
    expect(mimeOfUrl('https://example.com/download?id=7')).toBeUndefined();
  });
});
