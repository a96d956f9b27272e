// LineHashes: the 32-bit prefix of each written record's `hash`, by source and line — a growable
// Uint32Array per source like IdSet's bitsets (a million records of one file: 4 MB). 0 means
// no hash is known (a record written before records carried one): such a record is trusted.

import { hash } from 'node:crypto';

/**
 * 32 bits naming the kept fields (--keep, by output name) of a record or an input line, so that an
 * edited kept field is seen by the content check and verify though it is not in the request hash
 * (which stays as pinned). An absent field differs from any value. 0 when nothing is kept.
 */
export function keptHash32(fields: Readonly<Record<string, unknown>> | undefined, names: readonly string[]): number {
  if (names.length === 0) return 0;
  const pairs = names.map((n) => (fields && Object.prototype.hasOwnProperty.call(fields, n) ? [n, fields[n]] : [n]));
  return Number.parseInt(hash('sha1', JSON.stringify(pairs), 'hex').slice(0, 8), 16) >>> 0 || 1;
}

/** The first 32 bits of a record's hash, as resume keeps it in memory (0: none). */
export function hash32(hash: unknown): number {
  if (typeof hash !== 'string' || hash.length < 8) return 0;
  const n = Number.parseInt(hash.slice(0, 8), 16);
  return Number.isNaN(n) ? 0 : n >>> 0 || 1;
}

export class LineHashes {
  readonly #by = new Map<string, Uint32Array>();

  get(source: string, line: number): number {
    const a = this.#by.get(source);
    return a && line < a.length ? a[line] : 0;
  }

  set(source: string, line: number, h: number): void {
    let a = this.#by.get(source);
    if (!a || line >= a.length) {
      const grown = new Uint32Array(Math.max(line + 1, (a?.length ?? 0) * 2, 64));
      if (a) grown.set(a);
      a = grown;
      this.#by.set(source, a);
    }
    a[line] = h;
  }
}
