// The batch stage's vocabulary: what createBatchStage() is given (the service, the journal, the
// request builder, settings, what is on disk, --dedupe/--cache, the online fallback), what it
// reports for the summary's `batch`, and what it hands the runner.

import type { Duplex } from 'node:stream';
import type { Options } from '../cli/options.js';
import type { BatchService } from '../gemini/batch-client.js';
import type { InputRecord, OutputRecord } from '../records.js';
import type { RunMeter } from '../observe/run-meter.js';
import type { RequestSpec } from '../request/spec.js';
import type { Dedupe } from '../reuse/dedupe.js';
import type { ResponseCache } from '../reuse/response-cache.js';
import type { Work } from '../reuse/reuse.js';
import type { RunStats } from '../stats.js';
import type { Journal, LiveRecords } from './journal.js';
import type { ResponseVerdict } from './responses.js';

export interface BatchStageOptions {
  service: BatchService;
  dir: string;
  journal: Journal;
  /** What the directory's live jobs hold (journal.ts readLiveJobs). */
  live: LiveRecords;
  spec: RequestSpec;
  requestOf: (prompt: string, rec: InputRecord) => string;
  /** A response line's verdict for a request, when not a GenerateContentResponse's (embeddings). */
  verdictOf?: ResponseVerdict;
  settings: Pick<Options, 'batchMaxRequests' | 'batchMaxMb' | 'batchPollMs' | 'batchResultWaitMs' | 'deadlineMs' | 'fallback' | 'maxAttempts' | 'detach' | 'concurrency'>;
  /** The jobs go to the in-process emulator of an --emulator run (gone with it). */
  emulated?: boolean;
  /** Whether a record is on disk already (written before a stop). */
  onDisk: (source: string, line: number) => boolean;
  dedupe?: Dedupe;
  cache?: ResponseCache;
  /** The online work (--fallback online, --deadline), made when first needed. */
  online?: () => Promise<Work>;
  stats: RunStats;
  /** The run's meter: the answers' tokens at the Batch API's price. */
  meter?: RunMeter;
  say: (line: string) => void;
  /** Stops packing and polling (the stop control's `reading`). */
  signal: AbortSignal;
}

/** What the run did with batch jobs (the summary's `batch`). */
export interface BatchReport {
  /** Jobs created on the server by this run, and the requests they hold. */
  jobs: number;
  requests: number;
  /** Jobs still out at the end (detached, stopped, or not collected), and their requests. */
  leftJobs: number;
  leftRequests: number;
  detached: boolean;
}

export interface BatchStage {
  stage: Duplex;
  /** The writer's onWritten: these records are on disk. */
  written(records: readonly OutputRecord[]): void;
  report(): BatchReport;
}
