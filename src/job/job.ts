// A Job: what every run mode shares, set up once by prepareJob() (prepare.ts) — the options and
// the request they ask, the lock and resume state of the output directory, the content check,
// the reader, the writer with its onWritten fan-out, the stats, the stop control, --dedupe and
// --cache — and the runners (src/runners/) that each move records through it in their own way.

import type { Duplex, Readable, Writable } from 'node:stream';
import type { Options } from '../cli/options.js';
import type { GenerateFn } from '../gemini/client.js';
import type { OutputState } from '../output/output-state.js';
import type { PostSpec } from '../post/stage.js';
import type { Limiter } from '../quota/limiter.js';
import type { OutputRecord } from '../records.js';
import type { RequestSpec } from '../request/spec.js';
import type { Dedupe } from '../reuse/dedupe.js';
import type { ResponseCache } from '../reuse/response-cache.js';
import type { FdBudget } from '../fd-budget.js';
import type { InputSource } from '../stages/read-inputs.js';
import type { RunMeter } from '../observe/run-meter.js';
import type { RunStats, Summary } from '../stats.js';
import type { StopControl } from './stop-control.js';
import type { LoadedContext } from '../context/context.js';

export interface RunIO {
  /** `fd` (process.stdin has one): with no INPUT, stdin is read only when it is a pipe or a file with data. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Graceful stop: stop reading, drain in-flight requests, close shards. */
  signal?: AbortSignal;
  /** Replaces the Gemini call (tests, library users with their own backend). */
  generate?: GenerateFn;
  /** The command line, kept in the time series (credentials removed). */
  argv?: readonly string[];
}

export interface RunResult extends Summary {
  stats: RunStats;
}

export interface Job {
  readonly options: Readonly<Options>;
  readonly spec: RequestSpec;
  readonly io: RunIO;
  readonly stats: RunStats;
  /** What the time series and --metrics count beyond `stats` (none when neither is kept). */
  readonly meter?: RunMeter;
  readonly stop: StopControl;
  readonly toStdout: boolean;
  readonly sources: readonly InputSource[];
  /** --context, loaded and hashed (its digest is in every record's hash). */
  readonly context?: LoadedContext;
  /** The output directory's resume state (none with `-o -`). */
  readonly state?: OutputState;
  readonly dedupe?: Dedupe;
  readonly cache?: ResponseCache;
  readonly post?: PostSpec;
  /** Sockets and input files within `ulimit -n` (none for a dry run or an injected generate). */
  readonly budget?: FdBudget;
  /** Aborted when the writer cannot write: no new request goes out. */
  readonly stopSending: AbortSignal;
  /** After a usage error with nothing sent or written: the job file as the run found it (its `complete` mark kept). */
  keepEarlierJobFile(): void;
  /** A line on stderr, unless --quiet. */
  say(line: string): void;
  /** A fault on stderr, whatever --quiet. */
  shout(line: string): void;
  /** A whole-run fault: said once, reading stops, the run ends with exit 1. */
  halt(message: string): void;
  /** Whether a line is on disk already (resume state). */
  onDisk(source: string, line: number): boolean;
  /** The records still to do; `mine` narrows them further (not counted as skipped). */
  openReader(mine?: (source: string, line: number) => boolean): Readable;
  /** The shards' or stdout's writer; each batch it writes goes to the onWritten listeners. */
  openWriter(): Writable;
  onWritten(listener: (records: readonly OutputRecord[]) => void): void;
  /**
   * reader -> `middle` -> --post -> writer through pipeline() (`sink` in place of --post and the
   * writer); resolves to its error, if any. `mine`: see openReader().
   */
  run(middle: Duplex[], o?: { mine?: (source: string, line: number) => boolean; sink?: Writable; /** Stages between --post and the writer (embed's vector shards). */ beforeWriter?: Duplex[] }): Promise<unknown>;
  /** The progress bar or status lines, for this runner's limiter. */
  showProgress(limiter?: Limiter): void;
  /** Closes what a runner opened once its pipeline is done, before the summary; last first. */
  defer(close: () => unknown): void;
}

/** How a runner's part of the run ended. */
export interface RunnerEnd {
  /** What pipeline() rejected with. */
  pipelineError?: unknown;
  /** What was learned about the quota, in words (summary). */
  limits?: string[];
  /** A coordinator's workers. */
  workers?: Summary['workers'];
  /** Batch Mode: the jobs this run created and what it left out. */
  batch?: Summary['batch'];
  /** --dry-run: the plan was printed; no summary. */
  planOnly?: boolean;
}

export type Runner = (job: Job) => Promise<RunnerEnd>;
