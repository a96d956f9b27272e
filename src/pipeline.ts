// createPipeline(): the library's way to compose stages with per-stage concurrency, like seed
// 001's `Layer(work, 8)`: a source, any number of layers (async functions run in parallel up
// to their own concurrency, with back-pressure between them), and a sink, composed once with
// stream.pipeline so an error or abort tears every stage down.

import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createParallelStage } from './stages/parallel.js';

export type PipelineStage = Readable | Duplex | Writable | NodeJS.ReadWriteStream;

/** One layer: `work` on each item, at most `concurrency` at once; null drops the item. */
export function layer<I, O>(work: (item: I, signal: AbortSignal) => Promise<O | null> | O | null, concurrency = 8, opts: { ordered?: boolean } = {}): Duplex {
  return createParallelStage<I, O>({ work: async (item, signal) => work(item, signal), concurrency, ordered: opts.ordered });
}

/** Runs source -> ...layers -> sink; resolves when the sink has finished. */
export async function createPipeline(stages: PipelineStage[], opts: { signal?: AbortSignal } = {}): Promise<void> {
  if (stages.length < 2) throw new TypeError('createPipeline needs at least a source and a sink');
  await (pipeline as (...args: unknown[]) => Promise<void>)(...stages, opts.signal ? { signal: opts.signal } : {});
}
