// LineHashes: the 32-bit prefix of each written record's `hash`, by source and line — a growable
// Uint32Array per source like IdSet's bitsets (a million records of one file: 4 MB). 0 means
// no hash is known (a record written before records carried one): such a record is trusted.

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
