// createPipeline(): the library's way to compose stages with per-stage concurrency, as in
// `Layer(work, 8)` (SPEC §9): a source, any number of layers, and a sink, composed once with
// stream.pipeline so an error or abort tears every stage down. A layer runs an async function
// on the event loop (layer()) or a module's function on a worker-thread pool (workerLayer(),
// piscina) — CPU-heavy steps belong there. Each holds its write callback while its slots are
// busy, so back-pressure runs from the sink to the source and nothing queues without bound.

import type { Duplex, Readable, Writable } from 'node:stream';
import { isAbsolute, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { OutputRecord } from './records.js';
import { createParallelStage } from './stages/parallel.js';
import { isClosedPipe, stdoutWriters } from './stages/stdout-writer.js';
import { createPool } from './post/stage.js';

export type PipelineStage = Readable | Duplex | Writable | NodeJS.ReadWriteStream;

export interface LayerOptions {
  /** Items in progress at once. @default 8 */
  concurrency?: number;
  /** Emit in input order. @default false */
  ordered?: boolean;
}

/**
 * One layer on the event loop: `work` on each item, at most `concurrency` at once; null drops the
 * item. The item is an OutputRecord unless told (`layer<InputRecord>(…)`): what a layer after
 * the generate stage gets, so an untyped `(r) => ({ ...r })` compiles under `tsc --strict`.
 */
export function layer<I = OutputRecord, O = I>(work: (item: I, signal: AbortSignal) => Promise<O | null> | O | null, options: LayerOptions | number = {}): Duplex {
  const o = typeof options === 'number' ? { concurrency: options } : { ...options };
  return createParallelStage<I, O>({ work: async (item, signal) => work(item, signal), concurrency: o.concurrency ?? 8, ordered: o.ordered });
}

export interface WorkerLayerOptions {
  /** Worker threads (and items in progress). @default 2 */
  workers?: number;
  /** The function to run: this named export, else the default export. */
  exportName?: string;
  /** Emit in input order. @default false */
  ordered?: boolean;
}

/**
 * One layer on worker threads: `module` (a path, or a file: URL) exports a function of one item
 * (its result, structured-cloned back, goes on; null drops the item). A throw fails the
 * pipeline. The pool closes with the stage.
 */
export function workerLayer<I, O>(module: string | URL, options: WorkerLayerOptions = {}): Duplex {
  const o = { workers: 2, ...options };
  const url = module instanceof URL ? module.href : module.startsWith('file:') ? module : pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
  const pool = createPool(o.workers);
  const stage = createParallelStage<I, O>({
    concurrency: o.workers,
    ordered: o.ordered,
    work: async (item, signal) => (await (await pool).run({ url, exportName: o.exportName, record: item }, { signal })) as O | null,
  });
  // A task cut off by a teardown (a closed pipe downstream, an abort) may still answer after the
  // stage is gone; piscina reports that as an 'error' on the pool, which must not crash the host.
  void pool.then((p) => p.on('error', (e: Error) => {
    if (!stage.destroyed) stage.destroy(e);
  }), () => {});
  stage.once('close', () => void pool.then((p) => p.destroy()));
  return stage;
}

/**
 * Runs source -> ...layers -> sink; resolves when the sink has finished — or, as the CLI does,
 * when a createStdoutWriter() sink met a closed pipe (`| head`): every stage is torn down
 * (nothing more is asked) and the end is quiet.
 */
export async function createPipeline(stages: PipelineStage[], opts: { signal?: AbortSignal } = {}): Promise<void> {
  if (stages.length < 2) throw new TypeError('createPipeline needs at least a source and a sink');
  try {
    await (pipeline as (...args: unknown[]) => Promise<void>)(...stages, opts.signal ? { signal: opts.signal } : {});
  } catch (e) {
    const sink = stages[stages.length - 1];
    if (!(stdoutWriters.has(sink as Writable) && isClosedPipe(e))) throw e;
  }
}
