// A vector shard as Parquet (--vectors parquet): the rows of a filled shard (little-endian
// float32, `dims` a row) and their ids -> a file of two columns, `id` (string) and `embedding`
// (LIST<FLOAT>: DuckDB reads FLOAT[], pyarrow list<float>), one row group per 1,000 rows. Written
// by hyparquet-writer (pure JavaScript, one pure-JS dependency): ~1 ms a 768-value row on this
// machine, so it runs on a worker thread, off the event loop that feeds the API.

import { closeSync, openSync, readSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { builtFile } from '../post/stage.js';

export interface ParquetJob {
  rows: string;
  /** Bytes before the first row (npy's header; 0 here). */
  offset: number;
  dims: number;
  ids: string[];
  out: string;
}

const GROUP = 1000;

export async function writeParquetVectors(j: ParquetJob): Promise<void> {
  const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
  const w = new ParquetWriter({
    writer: fileWriter(j.out),
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'embedding', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
    ],
    statistics: false,
    createdBy: 'gempipe embed (hyparquet-writer)',
  });
  const fd = openSync(j.rows, 'r');
  try {
    const rowBytes = j.dims * 4;
    const buf = Buffer.alloc(rowBytes * GROUP);
    for (let first = 0; first < j.ids.length; first += GROUP) {
      const n = Math.min(GROUP, j.ids.length - first);
      const got = readSync(fd, buf, 0, n * rowBytes, j.offset + first * rowBytes);
      if (got < n * rowBytes) throw new Error(`${j.rows} holds fewer rows than its index names (${first + Math.floor(got / rowBytes)} < ${j.ids.length})`);
      const rows: number[][] = [];
      for (let i = 0; i < n; i++) rows.push(Array.from(new Float32Array(buf.buffer, buf.byteOffset + i * rowBytes, j.dims)));
      w.write({ columnData: [{ name: 'id', data: j.ids.slice(first, first + n) }, { name: 'embedding', data: rows }], rowGroupSize: GROUP });
    }
  } finally {
    closeSync(fd);
  }
  w.finish();
}

/** The same on a worker thread: the event loop goes on meanwhile. */
export function writeParquetVectorsOffThread(j: ParquetJob): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(builtFile('../output/parquet-vectors.js'), { workerData: { parquetVectors: j } });
    w.once('message', (m: { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve()));
    w.once('error', reject);
    w.once('exit', (code) => (code !== 0 ? reject(new Error(`the Parquet writer thread exited with code ${code}`)) : undefined));
  });
}

if (!isMainThread && (workerData as { parquetVectors?: ParquetJob } | undefined)?.parquetVectors) {
  writeParquetVectors((workerData as { parquetVectors: ParquetJob }).parquetVectors).then(
    () => parentPort!.postMessage({}),
    (e: Error) => parentPort!.postMessage({ error: e.message }),
  );
}
