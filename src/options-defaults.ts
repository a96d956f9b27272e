// The run's defaults in one block, apart from options.ts so that the flag table (flags.ts),
// which options.ts reads, can show them without an import cycle.

import { availableParallelism } from 'node:os';
import type { Options } from './options.js';

export const DEFAULTS = {
  out: 'outputs',
  openFiles: 8,
  inputFormat: 'text',
  promptField: 'prompt',
  keep: [] as string[],
  maxLineBytes: 1024 * 1024,
  model: 'gemini-flash-latest',
  concurrency: 16,
  adaptiveRate: true,
  dryRun: false,
  maxAttempts: 6,
  retryBaseDelayMs: 1000,
  timeoutMs: 120_000,
  emulator: false,
  shardSize: 1000,
  ordered: false,
  format: 'jsonl',
  retryFailed: false,
  overwrite: false,
  redoChanged: false,
  dedupe: false,
  cacheAll: false,
  schemaRetries: 2,
  writeRetrySec: 60,
  progressIntervalSec: 10,
  quiet: false,
  drainTimeoutSec: 30,
  fsync: 'close',
  postWorkers: Math.max(1, availableParallelism() - 1),
  postTimeoutMs: 60_000,
} as const satisfies Partial<Options>;
