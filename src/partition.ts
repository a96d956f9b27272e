// --partition i/N: the no-engine way to spread one job over N processes or machines. Each takes
// the records whose id hashes (FNV-1a, 32 bits: the same on every machine) to its part, into an
// output directory of its own; `gempipe merge` then makes one exactly-once directory of them.
// Parts are 1-based: 1/3, 2/3, 3/3.

import { UsageError } from './errors.js';

export interface Partition {
  index: number;
  count: number;
}

export function parsePartition(text: string): Partition {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 100_000 || index < 1 || index > count) {
    throw new UsageError(`Expected \`--partition\` to be i/N with 1 <= i <= N (e.g. 2/3), got \`${text}\``);
  }
  return { index, count };
}

/** FNV-1a over the id's UTF-16 code units, as an unsigned 32-bit number. */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Whether `source:line` belongs to this part. */
export function inPartition(p: Partition): (source: string, line: number) => boolean {
  if (p.count === 1) return () => true;
  return (source, line) => idHash(`${source}:${line}`) % p.count === p.index - 1;
}
