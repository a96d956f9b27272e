// run(): one batch job. Resolves the inputs, reads the resume state of the output directory
// (repairing a torn tail), starts the emulator if asked, builds the limiter and the client,
// composes reader -> generate -> writer once with stream.pipeline, and returns the summary.
// Stopping: `signal` (first SIGINT/SIGTERM) stops reading and lets in-flight requests finish;
// after `drainTimeoutSec` they are abandoned (not written; resume redoes them). Whole-run
// faults reject out of the generate stage and end the run with outcome "fatal".

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURES_FILE } from './output/layout.js';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable, Duplex } from 'node:stream';
import { FatalRunError, ExitCode, UsageError, redact } from './errors.js';
import { decideOutcome } from './job/outcome.js';
import { prepareOutput } from './output/prepare-output.js';
import { checkInputs, type CheckedInputs } from './output/check-inputs.js';
import { requestSpecOf } from './request/spec.js';
import { compileSchema } from './schema.js';
import { inPartition } from './partition.js';
import { createStopControl } from './job/stop-control.js';
import { createBackend, type Backend } from './job/backend.js';
import { createRemoteStage, type RemoteStage } from './distributed/remote-stage.js';
import { once } from 'node:events';
import { GoogleGenAI } from '@google/genai';
import { startEmulator, type Emulator } from './emulator/server.js';
import { createBatchMode } from './batch/batch-mode.js';
import { idsInLiveJobs, liveJobs, loadJournal } from './batch/journal.js';
import { queueSettingsOf } from './distributed/queue-names.js';
import { fdBudget } from './fd-budget.js';
import { restRequestOf, type GenerateFn } from './gemini/client.js';
import { RETRY_DEFAULTS, classifyError, fatalMessage } from './gemini/retry-policy.js';
import { DEFAULTS, type Options } from './cli/options.js';
import { createProgress, type Progress } from './progress.js';
import { isFailure, type OutputRecord } from './records.js';
import { compactFailures, loadOutputState, type LineRef, type OutputState } from './output/output-state.js';
import { createDedupe, type Dedupe } from './reuse/dedupe.js';
import { createResponseCache, type ResponseCache } from './reuse/response-cache.js';
import { createGenerateStage, createGenerateWork } from './stages/generate.js';
import { countRecords, createInputReader, createJsonlParser, parseTextLine, resolveInputs, type InputSource } from './stages/read-inputs.js';
import { createRotatingWriter, WriteFailedError, writeErrorText } from './stages/rotating-writer.js';
import { checkPostSpec, createPostStage, parsePostSpec } from './post/stage.js';
import { createStdoutWriter } from './stages/stdout-writer.js';
import { DailyCap, SharedDailyCap, describeReset } from './quota/daily-cap.js';
import { fixedTokensOf, TokenEstimator } from './quota/token-estimate.js';
import { formatPlan, makePlan, readHistory } from './plan.js';
import { createStats, formatSummary, summarize, watchEventLoop, type RunStats, type Summary } from './stats.js';

export interface RunIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Graceful stop: stop reading, drain in-flight requests, close shards. */
  signal?: AbortSignal;
  /** Replaces the Gemini call (tests, library users with their own backend). */
  generate?: GenerateFn;
}

export interface RunResult extends Summary {
  stats: RunStats;
}

/** The sources a run reads: the INPUT arguments, else stdin when piped, else ./inputs. */
export function defaultInputs(inputs: string[], stdinIsTTY: boolean | undefined): string[] {
  if (inputs.length > 0) return inputs;
  return stdinIsTTY ? ['inputs'] : ['-'];
}


/**
 * Runs one job. `options` may be partial (library use): what is missing takes its default, as
 * on the command line; `apiKey` defaults to GEMINI_API_KEY / GOOGLE_API_KEY only in the CLI.
 */
export async function run(options: Partial<Options>, io: RunIO): Promise<RunResult> {
  const o: Options = { ...DEFAULTS, keep: [], inputs: [], ...options } as Options;
  const secrets = [o.apiKey];
  const stats = createStats();
  watchEventLoop();
  const toStdout = o.out === '-';
  // Messages go above the progress bar while there is one (Progress.log), so they never land
  // on the bar's line; errors are printed even with --quiet.
  let progress: Progress | undefined;
  const shout = (line: string) => {
    const l = redact(line, secrets);
    if (progress) progress.log(l);
    else io.stderr.write(l + '\n');
  };
  const say = (line: string) => {
    if (!o.quiet) shout(line);
  };
  if (o.format === 'text' && !toStdout) {
    throw new UsageError('`--format text` writes to stdout only (`-o -`): shards are always JSONL, so that resume can read the ids back');
  }

  // A --post module that cannot be loaded (or lacks its export) is a usage error before anything else.
  const postSpec = o.post !== undefined ? parsePostSpec(o.post) : undefined;
  if (postSpec) await checkPostSpec(postSpec);

  // 1. Inputs and output state — every usage problem surfaces here, before any request.
  let sources: InputSource[] = resolveInputs(defaultInputs(o.inputs, io.stdin.isTTY));
  if (sources.some((s) => s.path === null) && io.stdin.isTTY && o.inputs.includes('-')) {
    say('gempipe: reading prompts from the terminal (end with Ctrl-D)');
  }
  // --dedupe: answers already on disk are indexed while the directory is read.
  let dedupe = o.dedupe ? createDedupe({ stats }) : undefined;
  const indexKnown = (d: Dedupe) => (ref: LineRef, path: string, at: { offset: number; bytes: number }, failed: boolean) => {
    // Copies are not sources; POST_FAILED and (with --retry-failed) failures are asked again.
    if (ref.hashText && !ref.copy && !ref.postFailed && !(failed && o.retryFailed)) d.known(ref.hashText, path, at.offset, at.bytes, failed);
  };
  const prepared = toStdout ? undefined : await prepareOutput(o, say, dedupe && !o.dryRun ? indexKnown(dedupe) : undefined);
  const state = prepared?.state;
  let checked: CheckedInputs | undefined;
  try {
    // What each record asks, hashed; lines changed since their records were written stop the
    // run here (exit 2), before any request, unless --redo-changed.
    const spec = requestSpecOf(o);
    const hash = spec.hash;
    const fields = { promptField: o.promptField, template: o.template, keep: o.keep };
    const parse = o.inputFormat === 'jsonl' ? createJsonlParser(fields) : parseTextLine;
    const csv = o.inputFormat === 'csv' ? fields : undefined;
    if (state) {
      checked = await checkInputs(o, sources, state, { stdin: io.stdin, maxLineBytes: o.maxLineBytes, parse, hash, csv }, say);
      sources = checked.sources;
      if (dedupe && checked.changed > 0 && o.redoChanged && !o.dryRun) {
        // --redo-changed rewrote files: index them again where they now are.
        dedupe.close();
        dedupe = createDedupe({ stats });
        await loadOutputState(o.out, { readOnly: true, onRecord: indexKnown(dedupe) });
      }
    }
    // 2. The reader (a dry run only counts what it reads).
    // Stopping: SIGINT/SIGTERM or a whole-run fault stops reading; the drain timeout abandons.
    const stop = createStopControl({ signal: io.signal, drainTimeoutSec: o.drainTimeoutSec, inFlight: () => stats.inFlight, say, shout });
    // --mode batch: the journal of this directory's batch jobs; records in a live one are not read again.
    const mode = o.mode === 'auto' ? await decideMode(o, sources, state, toStdout, say) : o.mode;
    const journal = mode === 'batch' && !toStdout && !o.dryRun ? loadJournal(o.out) : undefined;
    const inLiveJob = journal ? await idsInLiveJobs(o.out, journal) : undefined;
    const skip = prepared?.skip;
    // Lines not this run's to send: another --partition's, or in a live batch job (not counted as done).
    const part = o.partition ? inPartition(o.partition) : undefined;
    const mine = part || inLiveJob ? (s: string, l: number) => (!part || part(s, l)) && !inLiveJob?.has(s, l) : undefined;
    // Sockets and input files together stay under `ulimit -n` (fd-budget.ts), decided before
    // the reader opens anything.
    const budget = o.dryRun || io.generate ? undefined : fdBudget({ concurrency: o.concurrency, openFiles: o.ordered ? 1 : o.openFiles, inProcessEmulator: o.emulator });
    if (budget?.note) say(`gempipe: ${budget.note}`);
    const reader: Readable = createInputReader({
      sources,
      stdin: io.stdin,
      openFiles: budget?.openFiles ?? (o.ordered ? 1 : o.openFiles),
      maxLineBytes: o.maxLineBytes,
      parse,
      csv,
      hash,
      mine,
      skip,
      onSkip: () => stats.skipped++,
      // Counted as emitted: a 'data' listener here would set the reader flowing before the
      // pipeline is attached, and whatever it read meanwhile would be lost.
      onRecord: () => stats.read++,
      onSourceError: (source, err) => {
        const code = (err as NodeJS.ErrnoException).code;
        const message = code === 'ENOENT' ? 'the file vanished before it was read' : code === 'EISDIR' ? 'is a directory' : code === 'EBINARY' ? err.message : code ? writeErrorText(code) : err.message;
        stats.inputErrors.push({ source, message });
        shout(code === 'EBINARY'
          ? `gempipe: error: skipped input ${source}: ${message} (give text files, one prompt a line, UTF-8)`
          : `gempipe: error: cannot read input ${source}: ${message}; its prompts are not done (rerun to resume)`);
      },
      signal: stop.reading,
    });
    if (!o.quiet && !o.dryRun) {
      // The progress bar's total before the (back-pressured) reader reaches the end.
      const done = state ? state.succeeded.size + (o.retryFailed ? 0 : state.failed.size) : 0;
      void countRecords(sources, undefined, stop.reading).then((n) => {
        if (n !== undefined) stats.expected = Math.max(0, Math.round(n / (o.partition?.count ?? 1)) - done);
      });
    }
    reader.on('end', () => {
      if (!stop.reading.aborted) stats.total = stats.read + stats.skipped;
    });

    if (o.dryRun) {
      const historyP = readHistory(toStdout ? undefined : o.out, fixedTokensOf(o.system));
      const plan = await makePlan(reader, o, () => stats.skipped, historyP);
      const history = await historyP;
      io.stdout.write(formatPlan(plan, o, history));
      stop.dispose();
      const summary = summarize(stats, stop.reading.aborted ? 'interrupted' : 'completed', stop.reading.aborted ? ExitCode.INTERRUPTED : ExitCode.OK, Date.now());
      return { ...summary, stats };
    }
    // 3. The backend: emulator, transport, client, limiter — one close(). A coordinator has
    // none: its records are answered by workers through the queue (distributed/remote-stage.ts).
    let backend: Backend | undefined;
    let remote: RemoteStage | undefined;
    let batchEmulator: Emulator | undefined;
    let ai: GoogleGenAI | undefined;
    let requestOf: ((prompt: string) => string) | undefined;
    try {
      if (journal) {
        // Batch mode talks to the Files and Batch endpoints through the SDK; no limiter.
        let baseUrl = o.baseUrl;
        let apiKey = o.apiKey;
        if (o.emulator) {
          batchEmulator = await startEmulator({ batchTimeScale: 600 });
          baseUrl = batchEmulator.url;
          apiKey = 'emulator-key';
          say(`gempipe: responses are EMULATED (local Gemini emulator at ${baseUrl}, batches 600 times faster); set GEMINI_API_KEY and drop --emulator for real answers`);
        }
        ai = new GoogleGenAI({ apiKey, httpOptions: baseUrl ? { baseUrl } : undefined });
        requestOf = await restRequestOf(apiKey ?? '', baseUrl, spec);
      } else if (o.coordinator) {
        remote = await createRemoteStage({
          redis: o.redis!, queue: o.coordinator.queue, maxQueued: o.coordinator.maxQueued, ordered: o.ordered, settings: queueSettingsOf(o),
          done: (source, line) => state!.succeeded.has(source, line) || state!.failed.has(source, line), stats, signal: stop.abandon, say,
        });
        say(`gempipe: coordinator: records go to queue ${o.coordinator.queue} (at most ${o.coordinator.maxQueued} queued at once); start workers with \`gempipe worker --redis URL --queue ${o.coordinator.queue}\``);
      } else {
        backend = await createBackend(o, { generate: io.generate, say, connections: budget?.connections });
      }
    } catch (e) {
      // The reader is already reading ahead: release its files before giving up.
      reader.destroy();
      stop.dispose();
      throw e;
    }
    const limiter = backend?.limiter;
    const limits = backend?.limits ?? [];
    // --cache: only deterministic requests (--temperature 0) unless --cache-all.
    let cache: ResponseCache | undefined;
    if (o.cache !== undefined) {
      if (o.temperature === 0 || o.cacheAll) {
        try {
          cache = createResponseCache({ path: o.cache, spec, ttlMs: o.cacheTtlMs, stats });
        } catch (e) {
          reader.destroy();
          stop.dispose();
          await backend?.close();
          throw new UsageError(`Cannot open the cache \`--cache ${o.cache}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      } else {
        say(`gempipe: --cache ${o.cache} is not used: without --temperature 0 the answers are sampled and meant to vary; give --temperature 0, or --cache-all to cache them anyway`);
      }
    }

    // 4. The daily cap and whole-run faults halt the run (stop control, above).
    // --rpd: counted in Redis with --redis (every process sharing the quota), else per output directory.
    const dailyCap = !o.rpd ? undefined
      : backend?.shared ? new SharedDailyCap(o.rpd, backend.shared.link.client, backend.shared.quotaId, o.model)
        : new DailyCap(o.rpd, o.model, toStdout ? undefined : o.out);
    const halt = (message: string) => stop.halt(redact(message, secrets));
    const onDailyCapReached = () => halt(`reached --rpd ${o.rpd}: ${dailyCap!.used} requests to ${o.model} today (Pacific time); ${describeReset()}; rerun then to resume`);
    const onFatal = (err: FatalRunError) => halt(err.message);

    // 5. The stages. A writer that cannot write (disk full) stops the sending for good: the
    // answers already on the wire are kept and written when there is room (the writer frees
    // the space it holds in reserve first), then the run ends (exit 1, resumable).
    const stopSending = new AbortController();

    const generateStage: Duplex | undefined = journal ? undefined : remote ? remote.stage : createGenerateStage({
      generate: backend!.generate, limiter: limiter!, concurrency: o.concurrency, model: o.model,
      retry: { ...RETRY_DEFAULTS, maxAttempts: o.maxAttempts, baseDelayMs: o.retryBaseDelayMs },
      ordered: o.ordered, expectJson: o.jsonSchema !== undefined, signal: stop.abandon, stats,
      checkJson: o.jsonSchema !== undefined ? compileSchema(o.jsonSchema as object) : undefined, schemaRetries: o.schemaRetries,
      tokenEstimator: new TokenEstimator(fixedTokensOf(o.system)),
      dailyCap, onDailyCapReached, onFatal, stopSending: stopSending.signal, dedupe, cache,
    });
    // --post: the user's function on worker threads, between the answers and the writer.
    const post = postSpec && !o.dryRun
      ? createPostStage({ spec: postSpec, workers: o.postWorkers, timeoutMs: o.postTimeoutMs, ordered: o.ordered, signal: stop.abandon, stats })
      : undefined;
    let writer: Writable;
    const stdoutErrorSink = () => {};
    if (toStdout) {
      io.stdout.on('error', stdoutErrorSink);
      writer = createStdoutWriter({ stream: io.stdout, format: o.format, stats });
    } else {
      writer = createRotatingWriter({
        dir: o.out, shardSize: o.shardSize, shardBytes: o.shardBytes, firstShard: state!.nextShard,
        fsync: o.fsync, stats, retryForMs: o.writeRetrySec * 1000,
        onLocated: dedupe ? (r, path, offset, bytes) => dedupe!.located(r, path, offset, bytes) : undefined,
        reserveBytes: Math.min(8 << 20, Math.max(256 << 10, o.concurrency * (16 << 10))),
        onStall: (w) => {
          stopSending.abort();
          const space = w.code === 'ENOSPC' || w.code === 'EDQUOT';
          halt(`${writeErrorText(w.code)} writing ${w.path}; ${space ? 'free space' : 'fix it'} — retrying for ${o.writeRetrySec} s. No new request is sent; the answers received and in flight (${stats.inFlight}) are kept and written${space ? ' into the space gempipe kept in reserve' : ''}, then the run ends: rerun the same command to resume`);
        },
        onRecover: (path, waitedMs) => say(`gempipe: ${path} written after ${(waitedMs / 1000).toFixed(1)} s`),
        onWritten: (records) => {
          remote?.written(records);
          batchMode?.written(records);
          for (const r of records) {
            prepared!.seen.add(r.source, r.line);
            if (!isFailure(r)) state!.succeeded.add(r.source, r.line);
          }
        },
      });
    }

    // --mode batch: the batch driver reads the records and writes through the same writer.
    const batchMode = journal && ai && requestOf && !toStdout ? createBatchMode({
      o, ai, requestOf, dir: o.out, journal, reader, writer, stats, say, signal: stop.reading,
      conn: batchEmulator ? { apiKey: 'emulator-key', baseUrl: batchEmulator.url } : { apiKey: o.apiKey, baseUrl: o.baseUrl },
      online: async (records) => {
        // --fallback online / --deadline: the online path, made when first needed.
        backend ??= await createBackend({ ...o, emulator: false, baseUrl: batchEmulator?.url ?? o.baseUrl, apiKey: batchEmulator ? 'emulator-key' : o.apiKey }, { say, connections: budget?.connections });
        const work = createGenerateWork({
          generate: backend.generate, limiter: backend.limiter, concurrency: o.concurrency, model: o.model, stats,
          retry: { ...RETRY_DEFAULTS, maxAttempts: o.maxAttempts, baseDelayMs: o.retryBaseDelayMs },
          expectJson: o.jsonSchema !== undefined, checkJson: o.jsonSchema !== undefined ? compileSchema(o.jsonSchema as object) : undefined,
          schemaRetries: o.schemaRetries, tokenEstimator: new TokenEstimator(fixedTokensOf(o.system)), signal: stop.abandon,
        });
        const out: OutputRecord[] = [];
        let next = 0;
        const lane = async () => {
          while (next < records.length) {
            const r = await work(records[next++], stop.abandon);
            if (r) out.push(r);
          }
        };
        await Promise.all(Array.from({ length: Math.min(o.concurrency, records.length) }, lane));
        return out;
      },
      onDisk: (s, l) => state!.succeeded.has(s, l) || state!.failed.has(s, l),
      checkJson: o.jsonSchema !== undefined ? compileSchema(o.jsonSchema as object) : undefined,
    }) : undefined;

    // 6. Run.
    progress = createProgress({ stream: io.stderr, stats, limiter, concurrency: o.concurrency, intervalSec: o.progressIntervalSec, quiet: o.quiet });
    let pipelineError: unknown;
    try {
      if (batchMode) {
        // A refusal of the whole job (bad key, no quota, model not found) reads as it does online.
        await batchMode.run().catch((e: unknown) => {
          const c = classifyError(e);
          throw c.kind === 'fatal' ? new FatalRunError(c.fatalCode ?? 'FATAL', fatalMessage(c, o.model)) : e;
        });
        writer.end();
        await once(writer, 'finish');
      } else if (post) await pipeline(reader, generateStage!, post.stage, writer);
      else await pipeline(reader, generateStage!, writer);
    } catch (err) {
      pipelineError = err;
    } finally {
      progress.stop();
      progress = undefined;
      stop.dispose();
      await dailyCap?.stop();
      await backend?.close();
      await remote?.close();
      await batchEmulator?.close();
      await post?.close();
      await cache?.close();
      if (toStdout) io.stdout.off('error', stdoutErrorSink);
    }

    if (pipelineError instanceof WriteFailedError) {
      const unwritten = stats.succeeded + stats.failed - stats.written;
      if (unwritten > 0) pipelineError.message += ` (${unwritten} answer(s) received could not be written)`;
    }
    const decided = decideOutcome({
      pipelineError, toStdout, haltMessage: stop.haltMessage, interrupted: stop.interrupted, failed: stats.failed, inputErrors: stats.inputErrors.length,
    });
    const { outcome, exitCode } = decided;
    const error = decided.error === undefined ? undefined : redact(decided.error, secrets);
    if (state && outcome === 'completed') {
      if (o.retryFailed && state.failed.size > 0) {
        const n = await compactFailures(o.out, state.succeeded);
        if (n > 0) say(`gempipe: ${n} earlier failure(s) superseded by this run were removed from ${join(o.out, FAILURES_FILE)}`);
      }
      if (stats.inputErrors.length === 0) {
        const a = state.succeeded.minus(prepared!.seen);
        const b = state.failed.minus(prepared!.seen);
        stats.orphans = a.count + b.count;
        if (stats.orphans > 0) {
          say(`gempipe: warning: ${stats.orphans} record(s) in ${o.out}/ have ids not in the current inputs (e.g. ${[...a.examples, ...b.examples].slice(0, 3).join(', ')}); they are kept, not dropped`);
        }
      }
    }

    const summary = summarize(stats, outcome, exitCode, Date.now(), error);
    if (limits.length > 0) summary.limits = limits;
    if (remote) summary.workers = remote.workers();
    if (error && error !== stop.haltMessage) io.stderr.write(`gempipe: error: ${error}\n`);
    if (!o.quiet) io.stderr.write(formatSummary(summary));
    if (o.summaryJson) {
      try {
        writeFileSync(o.summaryJson, JSON.stringify(summary, null, 2) + '\n');
      } catch (e) {
        io.stderr.write(`gempipe: error: cannot write --summary-json ${o.summaryJson}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      }
    }
    return { ...summary, stats };
  } finally {
    dedupe?.close();
    await checked?.cleanup();
    prepared?.release(); // the directory's lock
  }
}

/**
 * --mode auto: batch when more than --batch-threshold records are to do and the deadline (if
 * any) leaves the Batch API its 24 hours; online otherwise — and always batch while the directory
 * has live batch jobs (their records must not be asked again online).
 */
async function decideMode(o: Options, sources: InputSource[], state: OutputState | undefined, toStdout: boolean, say: (l: string) => void): Promise<'online' | 'batch'> {
  if (toStdout || o.dryRun || o.coordinator) return 'online';
  if (liveJobs(loadJournal(o.out)).length > 0) {
    say('gempipe: --mode auto: batch, since batch jobs of an earlier run are still out');
    return 'batch';
  }
  const n = await countRecords(sources);
  const done = state ? state.succeeded.size + (o.retryFailed ? 0 : state.failed.size) : 0;
  const toDo = n === undefined ? undefined : Math.max(0, n - done);
  const deadlineOk = o.deadlineMs === undefined || o.deadlineMs >= 24 * 3_600_000;
  const unsupported = o.dedupe || o.cache !== undefined || o.post !== undefined;
  const batch = toDo !== undefined && toDo > o.batchThreshold && deadlineOk && !unsupported;
  const why = toDo === undefined ? 'the number of records is not known ahead (stdin)' : unsupported ? '--dedupe, --cache and --post are online only'
    : !deadlineOk ? '--deadline is shorter than the Batch API\'s 24 hours' : `${toDo} record(s) to do, ${batch ? 'over' : 'not over'} --batch-threshold ${o.batchThreshold}`;
  say(`gempipe: --mode auto: ${batch ? 'batch' : 'online'} (${why})`);
  return batch ? 'batch' : 'online';
}
