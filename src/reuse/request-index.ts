// RequestIndex: request hash (64 bits) -> where its answer's record is on disk (file number,
// byte offset, length). Open addressing with linear probing over typed arrays: 24 bytes a slot,
// at most half full, so ~48 bytes per distinct request and no per-entry object (a Map of
// strings would take ~150). Never the prompt or the answer: those stay on disk.

export interface Located {
  file: number;
  offset: number;
  bytes: number;
}

export class RequestIndex {
  #keys = new BigUint64Array(1024);
  #file = new Int32Array(1024);
  #offset = new Float64Array(1024);
  #bytes = new Uint32Array(1024);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** `hash`: the record's 16 hex digits. */
  static key(hash: string): bigint {
    const k = BigInt.asUintN(64, BigInt('0x' + hash));
    return k === 0n ? 1n : k;
  }

  #slot(k: bigint): number {
    const mask = this.#keys.length - 1;
    let i = Number(k & BigInt(mask));
    while (this.#keys[i] !== 0n && this.#keys[i] !== k) i = (i + 1) & mask;
    return i;
  }

  get(k: bigint): Located | undefined {
    const i = this.#slot(k);
    return this.#keys[i] === 0n ? undefined : { file: this.#file[i], offset: this.#offset[i], bytes: this.#bytes[i] };
  }

  set(k: bigint, loc: Located): void {
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow();
    const i = this.#slot(k);
    if (this.#keys[i] === 0n) this.#size++;
    this.#keys[i] = k;
    this.#file[i] = loc.file;
    this.#offset[i] = loc.offset;
    this.#bytes[i] = loc.bytes;
  }

  #grow(): void {
    const [keys, file, offset, bytes] = [this.#keys, this.#file, this.#offset, this.#bytes];
    const n = keys.length * 2;
    this.#keys = new BigUint64Array(n);
    this.#file = new Int32Array(n);
    this.#offset = new Float64Array(n);
    this.#bytes = new Uint32Array(n);
    this.#size = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0n) this.set(keys[i], { file: file[i], offset: offset[i], bytes: bytes[i] });
  }
}
