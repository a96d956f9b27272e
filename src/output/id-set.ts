// IdSet: a compact set of record ids. Ids are `<source>:<line>` with few sources and dense
// line numbers, so the set is one growable bitset per source: a million done records of one
// file cost ~125 KB, not a million strings in a Set (~80 MB).

export class IdSet {
  readonly #bits = new Map<string, Uint32Array>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(source: string, line: number): boolean {
    const b = this.#bits.get(source);
    if (!b) return false;
    const w = line >>> 5;
    return w < b.length && (b[w] & (1 << (line & 31))) !== 0;
  }

  /** Adds; returns false when it was already there. */
  add(source: string, line: number): boolean {
    let b = this.#bits.get(source);
    const w = line >>> 5;
    if (!b || w >= b.length) {
      const grown = new Uint32Array(Math.max(w + 1, (b?.length ?? 0) * 2, 4));
      if (b) grown.set(b);
      b = grown;
      this.#bits.set(source, b);
    }
    const m = 1 << (line & 31);
    if (b[w] & m) return false;
    b[w] |= m;
    this.#size++;
    return true;
  }

  /** Removes; returns false when it was not there. */
  delete(source: string, line: number): boolean {
    if (!this.has(source, line)) return false;
    this.#bits.get(source)![line >>> 5] &= ~(1 << (line & 31));
    this.#size--;
    return true;
  }

  /** The sources with at least one id. */
  sources(): string[] {
    return [...this.#bits.keys()].filter((s) => this.lastLine(s) > 0);
  }

  /** The highest line of `source` in the set, 0 when none. */
  lastLine(source: string): number {
    const b = this.#bits.get(source);
    if (!b) return 0;
    for (let w = b.length - 1; w >= 0; w--) if (b[w]) return w * 32 + 31 - Math.clz32(b[w]);
    return 0;
  }

  /** Calls fn for every id, by source then line. */
  forEach(fn: (source: string, line: number) => void): void {
    for (const [source, b] of this.#bits) {
      for (let w = 0; w < b.length; w++) {
        for (let word = b[w], bit = 0; word; bit++, word >>>= 1) if (word & 1) fn(source, w * 32 + bit);
      }
    }
  }

  /** Ids here and not in `other`, as a count plus a few examples. */
  minus(other: IdSet, examples = 3): { count: number; examples: string[] } {
    let count = 0;
    const ex: string[] = [];
    for (const [source, b] of this.#bits) {
      for (let w = 0; w < b.length; w++) {
        let word = b[w];
        if (!word) continue;
        for (let bit = 0; word; bit++, word >>>= 1) {
          if (word & 1 && !other.has(source, w * 32 + bit)) {
            count++;
            if (ex.length < examples) ex.push(`${source}:${w * 32 + bit}`);
          }
        }
      }
    }
    return { count, examples: ex };
  }

  /** Approximate heap bytes held by the bitsets. */
  get bytes(): number {
    let n = 0;
    for (const [k, b] of this.#bits) n += b.byteLength + k.length * 2 + 64;
    return n;
  }
}
