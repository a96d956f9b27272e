// AnswersOnDisk: request hash -> the record on disk that answered it (a RequestIndex of file,
// offset and length), read back with one pread through a few descriptors kept open. --dedupe
// finds the answers of its duplicates here; --redo-changed the answers of lines that moved.

import { closeSync, openSync, readSync } from 'node:fs';
import type { OutputRecord } from '../records.js';
import { RequestIndex } from './request-index.js';

const OPEN_FILES = 8;

export class AnswersOnDisk {
  readonly #index = new RequestIndex();
  readonly #files: string[] = [];
  readonly #fileNo = new Map<string, number>();
  readonly #fds = new Map<number, number>(); // file number -> fd, oldest first

  get size(): number {
    return this.#index.size;
  }

  #numberOf(path: string): number {
    let n = this.#fileNo.get(path);
    if (n === undefined) {
      n = this.#files.push(path) - 1;
      this.#fileNo.set(path, n);
    }
    return n;
  }

  /** Where the record answering `hash` is; `weak` (a failure) does not replace what is there. */
  set(hash: string, path: string, offset: number, bytes: number, weak = false): void {
    const k = RequestIndex.key(hash);
    if (weak && this.#index.get(k)) return;
    this.#index.set(k, { file: this.#numberOf(path), offset, bytes });
  }

  /** Whether an answer to `hash` is known on disk (not read). */
  has(hash: string): boolean {
    return this.#index.get(RequestIndex.key(hash)) !== undefined;
  }

  /** The record answering `hash`, read back; undefined when none is known or the file changed since. */
  read(hash: string): OutputRecord | undefined {
    const loc = this.#index.get(RequestIndex.key(hash));
    if (!loc) return undefined;
    try {
      let fd = this.#fds.get(loc.file);
      if (fd === undefined) {
        if (this.#fds.size >= OPEN_FILES) {
          const [oldest, ofd] = this.#fds.entries().next().value as [number, number];
          this.#fds.delete(oldest);
          closeSync(ofd);
        }
        fd = openSync(this.#files[loc.file], 'r');
        this.#fds.set(loc.file, fd);
      }
      const buf = Buffer.allocUnsafe(loc.bytes);
      readSync(fd, buf, 0, loc.bytes, loc.offset);
      const r = JSON.parse(buf.toString('utf8')) as OutputRecord;
      return r.hash === hash ? r : undefined; // a file rewritten meanwhile: ask again
    } catch {
      return undefined;
    }
  }

  close(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }
}
