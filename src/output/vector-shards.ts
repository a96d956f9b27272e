// --vectors f32|npy|parquet: the stage before the writer that moves each record's vector into a
// binary shard and leaves `shard` and `row` in its place, so the JSONL shards become an index. A
// vector is on disk before its index line can be (the writer comes after, in order), so after a
// crash the rows an index names are a prefix of the shard being filled: resume cuts that shard
// to them and finishes it. A shard fills `.NAME.partial` (float32 rows; npy's header reserved),
// then is renamed (f32, npy with its header written) or converted on a worker thread (parquet).

import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { FsyncPolicy } from '../cli/options.js';
import { isEmbedding, type EmbeddingRecord } from '../embed/embed-record.js';
import { OutputStateError } from '../errors.js';
import type { OutputRecord } from '../records.js';
import { syncDir } from '../util/sync-dir.js';
import { writeFully } from './atomic.js';
import { isStaleVectorTmp, partialVectorName, PARTIAL_VECTOR_RE, tmpNameOf, VECTOR_RE, vectorShardName, type VectorFormat } from './layout.js';
import { writeParquetVectorsOffThread } from './parquet-vectors.js';
import { listRecordFiles, readJsonl } from './record-files.js';

/** npy's header, padded so the rows start at byte 128 (a multiple of 64, as the format asks). */
export const NPY_HEADER_BYTES = 128;

export function npyHeader(rows: number, dims: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dims}), }`;
  const b = Buffer.alloc(NPY_HEADER_BYTES, 0x20);
  b.write('\x93NUMPY', 0, 'latin1');
  b[6] = 1;
  b[7] = 0;
  b.writeUInt16LE(NPY_HEADER_BYTES - 10, 8);
  b.write(dict, 10, 'latin1');
  b[NPY_HEADER_BYTES - 1] = 0x0a;
  return b;
}

const headerOf = (format: VectorFormat) => (format === 'npy' ? NPY_HEADER_BYTES : 0);

interface Open {
  name: string;
  path: string;
  fd: number;
  dims: number;
  rows: number;
  /** Of its rows, those whose index line the writer has written. */
  written: number;
  /** Full: finished as soon as its last index line is written (never before: see repair()). */
  full: boolean;
  /** The id of each row (parquet's id column). */
  ids: string[];
}

/** Finishes a filled shard: its rows become NAME (renamed, or converted to Parquet). */
async function finish(dir: string, format: VectorFormat, s: { name: string; path: string; dims: number; rows: number; ids: string[] }, sync: boolean): Promise<void> {
  const final = join(dir, s.name);
  if (format === 'parquet') {
    const tmp = join(dir, tmpNameOf(s.name));
    await writeParquetVectorsOffThread({ rows: s.path, offset: 0, dims: s.dims, ids: s.ids, out: tmp });
    if (sync) fsyncPath(tmp);
    renameSync(tmp, final);
    rmSync(s.path, { force: true });
  } else {
    const fd = openSync(s.path, 'r+');
    try {
      if (format === 'npy') writeSync(fd, npyHeader(s.rows, s.dims), 0, NPY_HEADER_BYTES, 0);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(s.path, final);
  }
  await syncDir(dir);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Shards a stopped run left being filled: each cut to the rows its index names (a prefix) and
 * finished. A shard shorter than its index (a power loss with --fsync close) is an error naming it.
 */
async function repair(dir: string, format: VectorFormat, names: string[], sync: boolean, say: (l: string) => void): Promise<void> {
  const partials = new Map<string, { rows: number; dims: number; ids: string[] }>();
  for (const n of names) {
    const m = PARTIAL_VECTOR_RE.exec(n);
    if (!m) continue;
    if (existsSync(join(dir, m[1]))) rmSync(join(dir, n), { force: true }); // finished, but not yet removed
    else partials.set(m[1], { rows: 0, dims: 0, ids: [] });
  }
  if (partials.size === 0) return;
  for (const file of listRecordFiles(dir)) {
    for await (const { value } of readJsonl<EmbeddingRecord>(join(dir, file))) {
      const p = value.shard !== undefined ? partials.get(value.shard) : undefined;
      if (!p || value.row === undefined) continue;
      p.rows = Math.max(p.rows, value.row + 1);
      p.dims = value.dimensions;
      if (value.dedupedFrom === undefined || p.ids[value.row] === undefined) p.ids[value.row] = value.id;
    }
  }
  for (const [name, p] of partials) {
    const path = join(dir, partialVectorName(name));
    const shardFormat = VECTOR_RE.exec(name)![2] as VectorFormat;
    if (p.rows === 0) {
      rmSync(path, { force: true });
      continue;
    }
    const want = headerOf(shardFormat) + p.rows * p.dims * 4;
    const fd = openSync(path, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size < want) {
        throw new OutputStateError(`${path} holds ${Math.floor((size - headerOf(shardFormat)) / (p.dims * 4))} vector(s) but the index names ${p.rows}: the end of it was lost (a power loss with --fsync ${sync ? 'always' : 'close'}?); move the records that name ${name} out of the shards, or start a new --out`);
      }
      if (size > want) ftruncateSync(fd, want);
    } finally {
      closeSync(fd);
    }
    for (let i = 0; i < p.rows; i++) p.ids[i] ??= '';
    await finish(dir, shardFormat, { name, path, dims: p.dims, rows: p.rows, ids: p.ids }, sync);
    say(`gempipe: resume: finished ${join(dir, name)} (${p.rows} vector(s) a stopped run left; ${format === shardFormat ? '' : `--vectors was ${shardFormat}; `}rows past its index cut off)`);
  }
}

export interface VectorShards {
  stage: Transform;
  /** The writer's onWritten: these records' index lines are on disk. */
  written(records: readonly OutputRecord[]): void;
  /** Finishes the last shard if its index is whole (else it stays partial for the next run) and waits for the finishing. */
  close(): Promise<void>;
}

export async function openVectorShards(o: { dir: string; format: VectorFormat; rowsPerShard: number; fsync: FsyncPolicy; overwrite?: boolean; say: (line: string) => void }): Promise<VectorShards> {
  const { dir, format } = o;
  const sync = o.fsync !== 'none';
  let names = readdirSync(dir);
  for (const n of names) {
    if (isStaleVectorTmp(n)) rmSync(join(dir, n), { force: true }); // a conversion cut short
    if (o.overwrite && (VECTOR_RE.test(n) || PARTIAL_VECTOR_RE.test(n))) rmSync(join(dir, n), { force: true });
  }
  names = readdirSync(dir);
  await repair(dir, format, names, sync, o.say);
  let next = 0;
  for (const n of readdirSync(dir)) {
    const m = VECTOR_RE.exec(n);
    if (m) next = Math.max(next, Number(m[1]) + 1);
  }
  let cur: Open | undefined;
  const finishing: Promise<void>[] = [];
  let failed: Error | undefined;
  // Records this stage made (their index lines count towards their shard's), and the shards not yet finished.
  const ours = new WeakMap<object, Open>();

  function openShard(dims: number): Open {
    const name = vectorShardName(next++, format);
    const path = join(dir, partialVectorName(name));
    const fd = openSync(path, 'w');
    if (format === 'npy') writeFully(fd, npyHeader(0, dims));
    return { name, path, fd, dims, rows: 0, written: 0, full: false, ids: [] };
  }

  function finishSoon(s: Open): void {
    if (sync) fsyncSync(s.fd);
    closeSync(s.fd);
    finishing.push(finish(dir, format, s, sync).catch((e: Error) => {
      failed ??= e;
    }));
  }

  /** The filled shard is finished once its index is on disk; at most two being finished at once (back-pressure on a slow conversion). */
  async function rotate(): Promise<void> {
    const s = cur;
    cur = undefined;
    if (!s) return;
    s.full = true;
    if (s.written === s.rows) finishSoon(s);
    while (finishing.length > 2) await finishing.shift();
  }

  /** The index record: `embedding` replaced, where it stood, by `shard` and `row`. */
  function indexOf(r: EmbeddingRecord, name: string, row: number): OutputRecord {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(r)) {
      if (k === 'embedding') {
        out.shard = name;
        out.row = row;
      } else out[k] = r[k];
    }
    return out as unknown as OutputRecord;
  }

  const stage = new Transform({
    objectMode: true,
    transform(r: OutputRecord, _enc, cb) {
      if (failed) return cb(failed);
      if (!isEmbedding(r) || !r.embedding) return cb(null, r);
      const v = r.embedding;
      (async () => {
        if (cur && cur.dims !== v.length) await rotate();
        cur ??= openShard(v.length);
        const s = cur;
        writeFully(s.fd, Buffer.from(Float32Array.from(v).buffer));
        if (o.fsync === 'always') fsyncSync(s.fd); // the row is durable before its index line is written
        const row = s.rows++;
        s.ids.push(r.id);
        const out = indexOf(r, s.name, row);
        ours.set(out, s);
        if (s.rows >= o.rowsPerShard) await rotate();
        return out;
      })().then((out) => cb(null, out), (e: Error) => cb(e));
    },
  });
  return {
    stage,
    written(records) {
      for (const r of records) {
        const s = ours.get(r);
        if (s && ++s.written === s.rows && s.full) finishSoon(s);
      }
    },
    async close() {
      const s = cur;
      cur = undefined;
      // The last shard is finished when its whole index is on disk; else (a fault, a hard stop) it
      // stays partial and the next run cuts it to its index and finishes it.
      if (s && s.written === s.rows) finishSoon(s);
      else if (s) closeSync(s.fd);
      await Promise.all(finishing);
      if (failed) throw failed;
    },
  };
}
