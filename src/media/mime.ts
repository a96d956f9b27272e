// An attachment's MIME type from its first bytes — the signatures of the formats Gemini takes
// (images, PDF, audio, video) — and, for text (no signature: valid UTF-8 without NUL bytes), from
// the file name's extension among the text types it takes; a URL's type from its name alone (its
// bytes are never fetched here). A tight table rather than a library: the service accepts a
// closed list of about thirty types, and file-type (the well-kept library for this) is ESM-only,
// brings four packages and knows ~150 formats the service would refuse anyway; this table is one
// screen, reviewed against each format's specification, and tested byte by byte.

/** How many leading bytes sniffMime() reads. */
export const SNIFF_BYTES = 4100;

const ascii = (b: Buffer, at: number, s: string) => b.length >= at + s.length && b.toString('latin1', at, at + s.length) === s;
const bytes = (b: Buffer, at: number, xs: number[]) => b.length >= at + xs.length && xs.every((x, i) => b[at + i] === x);

/** ISO base media (MP4, MOV, 3GP, HEIF): the `ftyp` box's major brand. */
function ftyp(b: Buffer): string | undefined {
  if (!ascii(b, 4, 'ftyp')) return undefined;
  const brand = b.toString('latin1', 8, 12);
  if (/^(heic|heix|hevc|hevx)/.test(brand)) return 'image/heic';
  if (/^(mif1|msf1|heim|heis)/.test(brand)) return 'image/heif';
  if (/^(avif|avis)/.test(brand)) return 'image/avif';
  if (/^qt {2}/.test(brand)) return 'video/quicktime';
  if (/^3g[p2]/.test(brand)) return 'video/3gpp';
  if (/^M4A /.test(brand)) return 'audio/mp4';
  return 'video/mp4';
}

const SIGNATURES: Array<(b: Buffer) => string | undefined> = [
  (b) => (bytes(b, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ? 'image/png' : undefined),
  (b) => (bytes(b, 0, [0xff, 0xd8, 0xff]) ? 'image/jpeg' : undefined),
  (b) => (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') ? 'image/webp' : undefined),
  (b) => (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a') ? 'image/gif' : undefined),
  (b) => (ascii(b, 0, '%PDF-') ? 'application/pdf' : undefined),
  (b) => (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WAVE') ? 'audio/wav' : undefined),
  (b) => (ascii(b, 0, 'RIFF') && ascii(b, 8, 'AVI ') ? 'video/x-msvideo' : undefined),
  (b) => (ascii(b, 0, 'FORM') && (ascii(b, 8, 'AIFF') || ascii(b, 8, 'AIFC')) ? 'audio/aiff' : undefined),
  (b) => (ascii(b, 0, 'fLaC') ? 'audio/flac' : undefined),
  (b) => (ascii(b, 0, 'OggS') ? 'audio/ogg' : undefined),
  (b) => (ascii(b, 0, 'ID3') ? 'audio/mp3' : undefined),
  ftyp,
  // EBML: WebM says so in its DocType near the start; otherwise Matroska.
  (b) => (bytes(b, 0, [0x1a, 0x45, 0xdf, 0xa3]) ? (b.subarray(0, 64).includes('webm') ? 'video/webm' : 'video/x-matroska') : undefined),
  (b) => (ascii(b, 0, 'FLV') && b[3] === 1 ? 'video/x-flv' : undefined),
  (b) => (bytes(b, 0, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]) ? 'video/wmv' : undefined),
  (b) => (bytes(b, 0, [0x00, 0x00, 0x01, 0xba]) || bytes(b, 0, [0x00, 0x00, 0x01, 0xb3]) ? 'video/mpeg' : undefined),
  (b) => (ascii(b, 0, '{\\rtf') ? 'text/rtf' : undefined),
  // Frame sync last: an MPEG audio frame (MP3) without a tag, or ADTS (AAC).
  (b) => (b.length >= 2 && b[0] === 0xff && (b[1] & 0xf6) === 0xf0 ? 'audio/aac' : undefined),
  (b) => (b.length >= 2 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0 && (b[1] & 0x06) !== 0 ? 'audio/mp3' : undefined),
];

/** Text types the service takes, by extension (text has no signature). */
const TEXT_BY_EXT: Record<string, string> = {
  txt: 'text/plain', text: 'text/plain', log: 'text/plain', md: 'text/md', markdown: 'text/md', csv: 'text/csv', tsv: 'text/tab-separated-values',
  html: 'text/html', htm: 'text/html', xml: 'text/xml', css: 'text/css', js: 'text/javascript', mjs: 'text/javascript', ts: 'text/plain',
  py: 'text/x-python', json: 'application/json', rtf: 'text/rtf',
};

/** Types by extension, for URLs only (their bytes are the service's to fetch). */
const URL_BY_EXT: Record<string, string> = {
  ...TEXT_BY_EXT, png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic', heif: 'image/heif',
  pdf: 'application/pdf', wav: 'audio/wav', mp3: 'audio/mp3', aiff: 'audio/aiff', aac: 'audio/aac', ogg: 'audio/ogg', flac: 'audio/flac',
  mp4: 'video/mp4', mpeg: 'video/mpeg', mpg: 'video/mpeg', mov: 'video/quicktime', avi: 'video/x-msvideo', flv: 'video/x-flv', webm: 'video/webm',
  wmv: 'video/wmv', '3gp': 'video/3gpp',
};

const extOf = (name: string) => /\.([A-Za-z0-9]+)$/.exec(name)?.[1].toLowerCase() ?? '';

/** Valid UTF-8 without NUL or other C0 controls but tab, CR, LF, FF: text. A cut multi-byte character at the end is allowed. */
function looksLikeText(head: Buffer, whole: boolean): boolean {
  if (head.length === 0) return false;
  for (const b of head) if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b)) return false;
  let end = head.length;
  if (!whole) {
    // Back up over an incomplete sequence at the cut.
    let i = head.length - 1;
    while (i > head.length - 4 && i > 0 && (head[i] & 0xc0) === 0x80) i--;
    if (head[i] >= 0xc0) end = i;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

/**
 * The MIME type of a file from its first bytes (`head`, at most SNIFF_BYTES; `whole`: that is all
 * of it) and its name; undefined when it is none the service takes (an unknown binary).
 */
export function sniffMime(head: Buffer, name: string, whole = false): string | undefined {
  for (const sig of SIGNATURES) {
    const t = sig(head);
    if (t) return t;
  }
  if (looksLikeText(head, whole)) return TEXT_BY_EXT[extOf(name)] ?? 'text/plain';
  return undefined;
}

/** A URL's type from its path's extension, or undefined (the service then tells it from what it fetches). */
export function mimeOfUrl(url: string): string | undefined {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    /* not a URL: use it as it is */
  }
  return URL_BY_EXT[extOf(path)];
}
