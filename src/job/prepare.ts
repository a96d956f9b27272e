// prepareJob(): the set-up every mode shares, in the order that keeps usage errors ahead of any
// request: the options (defaults filled, the flag rules), --post's module, the inputs (CSV headers
// checked), the output directory (its lock, resume state, source names, --dedupe index), the
// content check, the writer's reserve, --cache (moved lines' answers first), the stop control and
// the descriptor budget. What it opens close() releases; what a runner opens settle() closes.

import { existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Duplex, Readable } from 'node:stream';
import { DEFAULTS, type Options } from '../cli/options.js';
import { checkFlagRules } from '../cli/rules.js';
import { redact, UsageError } from '../errors.js';
import { fdBudget } from '../fd-budget.js';
import { plainHttpWarning } from '../gemini/plain-http.js';
import { checkInputs } from '../output/check-inputs.js';
import { readJobFile, restoreJobFile } from '../output/job-file.js';
import type { IdSet } from '../output/id-set.js';
import { loadOutputState, type LineRef } from '../output/output-state.js';
import { prepareOutput } from '../output/prepare-output.js';
import { dropReserve, makeReserve, noSpaceError, reserveBytesFor } from '../output/reserve.js';
import { nameRunSources } from '../output/source-names.js';
import { checkPostSpec, createPostStage, parsePostSpec } from '../post/stage.js';
import { createProgress, type Progress } from '../progress.js';
import { requestSpecOf } from '../request/spec.js';
import { createDedupe, type Dedupe } from '../reuse/dedupe.js';
import { indexMovedAnswers, movedThenCache } from '../reuse/moved-answers.js';
import { createResponseCache, type ResponseCache } from '../reuse/response-cache.js';
import { defaultInputs } from '../stages/default-inputs.js';
import { checkCsvInputs } from '../stages/csv-header.js';
import { parserOf } from '../stages/line-parsers.js';
import { resolveInputs } from '../stages/read-inputs.js';
import { createStats, watchEventLoop } from '../stats.js';
import { needPackage } from '../util/optional.js';
import type { Job, RunIO } from './job.js';
import { lineReading, openJobReader } from './reader.js';
import { createStopControl } from './stop-control.js';
import { loadContext } from '../context/context.js';
import { openJobWriter, type WrittenListener } from './writer.js';
import { watchRun, type RunWatch } from './watch.js';

export interface PreparedJob extends Job {
  /** Ids of the current inputs the directory held (for the orphan report). */
  readonly seen?: IdSet;
  /** Failure records the directory held at the start. */
  readonly failedAtStart: number;
  /** The meter, the time series, --metrics and --report (watch.ts). */
  readonly watch: RunWatch;
  redact(text: string): string;
  /** Closes what the runner deferred, last first. */
  settle(): Promise<void>;
  /** Releases what the job holds: the --dedupe files, the stdin spool, the cache, the lock. */
  close(): Promise<void>;
}

export async function prepareJob(options: Partial<Options>, io: RunIO): Promise<PreparedJob> {
  const o: Options = { ...DEFAULTS, keep: [], inputs: [], ...options } as Options;
  checkFlagRules(o); // library callers build Options without parseOptions()
  // The CLI reads the key from the environment; a library caller passes it. Said here, once,
  // before the SDK warns per client it makes and the run ends as an unreachable endpoint.
  if (!o.apiKey && !o.emulator && !o.dryRun && !o.coordinator && !io.generate) {
    throw new UsageError('No API key: pass `apiKey` to run() (the CLI reads it from GEMINI_API_KEY or GOOGLE_API_KEY), or `emulator: true` for the local emulator');
  }
  // --context first: its digest is part of every record's hash (a usage error if it cannot be read).
  const context = o.context !== undefined ? await loadContext(o.context) : undefined;
  const spec = requestSpecOf(o, { contextDigest: context?.digest });
  const secrets = [o.apiKey];
  const stats = createStats();
  watchEventLoop();
  const toStdout = o.out === '-';
  // Messages go above the progress bar while there is one; faults are printed even with --quiet.
  let progress: Progress | undefined;
  const shout = (line: string) => {
    const l = redact(line, secrets);
    if (progress && !o.quiet) progress.log(l);
    else io.stderr.write(l + '\n');
  };
  const say = (line: string) => {
    if (!o.quiet) shout(line);
  };
  // Optional features' packages (util/optional.ts): a missing one is a usage error before the lock.
  if (o.redis || o.coordinator) needPackage('ioredis');
  if (o.coordinator) needPackage('bullmq');
  if (cacheUsed(o)) needPackage('lmdb');
  // Said whatever --quiet: the key is the one secret the run holds.
  const clear = o.dryRun || o.emulator || o.coordinator || io.generate ? undefined : plainHttpWarning(o.baseUrl, o.apiKey);
  if (clear) shout(clear);
  const watch = watchRun(o, { stats, argv: io.argv, say });
  const releases: Array<() => unknown> = [];
  const close = async () => {
    for (const r of releases.splice(0).reverse()) await r();
  };
  try {
    // A --post module that cannot be loaded (or lacks its export) is a usage error before anything else.
    const postSpec = o.post !== undefined ? parsePostSpec(o.post) : undefined;
    if (postSpec) await checkPostSpec(postSpec);
    const post = o.dryRun ? undefined : postSpec;
    // No INPUT: stdin when it holds data (a pipe, a file), else ./inputs (stages/default-inputs.ts).
    const given = defaultInputs(o.inputs, io.stdin);
    if (given.note) say(given.note);
    let sources = resolveInputs(given.inputs);
    if (sources.some((s) => s.path === null) && io.stdin.isTTY && o.inputs.includes('-')) say('gempipe: reading prompts from the terminal (end with Ctrl-D)');
    // CSV: every header checked against --template, --prompt-field and --keep before anything else (exit 2).
    let stdin: NodeJS.ReadableStream = io.stdin;
    if (o.inputFormat === 'csv') stdin = (await checkCsvInputs(sources, parserOf(o).csv!, { maxLineBytes: o.maxLineBytes, stdin: io.stdin })) ?? stdin;

    // --dedupe: answers already on disk are indexed while the directory is read.
    let dedupe: Dedupe | undefined = o.dedupe ? createDedupe({ stats }) : undefined;
    const indexKnown = (d: Dedupe) => (ref: LineRef, path: string, at: { offset: number; bytes: number }, failed: boolean) => {
      // Copies are not sources; POST_FAILED and (with --retry-failed) failures are asked again.
      if (ref.hashText && !ref.copy && !ref.postFailed && !(failed && o.retryFailed)) d.known(ref.hashText, path, at.offset, at.bytes, failed);
    };
    releases.push(() => dedupe?.close());
    // --dry-run indexes too: its plan counts the requests answered on disk already.
    const prepared = toStdout ? undefined : await prepareOutput(o, say, dedupe ? indexKnown(dedupe) : undefined);
    if (prepared) releases.push(() => prepared.release()); // the directory's lock
    const state = prepared?.state;
    const failedAtStart = state?.failed.size ?? 0;
    const reading = lineReading(o, spec);
    // A file the directory knows by another spelling (q.txt, /abs/q.txt) keeps its name: one file, one source.
    const named = nameRunSources(o, sources, state, say);
    sources = named.sources;
    let jobFileBefore: ReturnType<typeof readJobFile>;
    if (state) {
      jobFileBefore = o.dryRun ? undefined : readJobFile(o.out);
      // Lines changed since their records were written stop the run here (exit 2), before any request.
      const checked = await checkInputs(o, sources, state, { ...reading, stdin }, say);
      releases.push(() => checked.cleanup());
      sources = checked.sources;
      if (dedupe && checked.changed > 0 && o.redoChanged && !o.dryRun) {
        // --redo-changed rewrote files: index them again where they now are.
        dedupe.close();
        dedupe = createDedupe({ stats });
        await loadOutputState(o.out, { readOnly: true, onRecord: indexKnown(dedupe) });
      }
    }
    if (state && !o.dryRun) {
      try {
        named.save();
      } catch (e) {
        throw noSpaceError(e, o.out) ?? e;
      }
      // The writer's reserve before the first request: a disk too full to keep it sends nothing (exit 1).
      releases.push(() => dropReserve(o.out));
      makeReserve(o.out, reserveBytesFor(o.concurrency), o.concurrency);
    }
    let cache = await openCache(o, spec, stats, say); // --dry-run: read only, for the plan's count
    if (state && o.redoChanged && !o.dryRun) {
      // Lines moved by an insertion or deletion reuse the answers the directory holds for them.
      const moved = await indexMovedAnswers(o.out, stats);
      if (moved.size > 0) cache = movedThenCache(moved, cache);
      else moved.close();
    }
    const opened = cache;
    if (opened) releases.push(() => opened.close());
    const stop = createStopControl({ signal: io.signal, drainTimeoutSec: o.drainTimeoutSec, inFlight: () => stats.inFlight, say, shout });
    // Sockets and input files together stay under `ulimit -n`, decided before the reader opens anything.
    const budget = o.dryRun || io.generate ? undefined : fdBudget({ concurrency: o.concurrency, openFiles: o.ordered ? 1 : o.openFiles, inProcessEmulator: o.emulator });
    if (budget?.note) say(`gempipe: ${budget.note}`);

    releases.push(() => watch.close()); // the series ends before the lock goes
    const stopSending = new AbortController();
    const listeners: WrittenListener[] = [];
    const deferred: Array<() => unknown> = [() => stop.dispose()];
    // One line, whatever the server's message held (its quota 429s span several).
    const halt = (message: string) => stop.halt(redact(message, secrets).replace(/\s*\n\s*/g, ' '));
    const done = state ? state.succeeded.size + (o.retryFailed ? 0 : state.failed.size) : 0;
    const job: PreparedJob = {
      options: o, spec, io, stats, meter: watch.meter, watch, stop, toStdout, sources, context, state, dedupe, cache, post, budget,
      stopSending: stopSending.signal, seen: prepared?.seen, failedAtStart, say, shout, halt,
      keepEarlierJobFile: () => {
        if (stats.attempts === 0 && stats.written === 0 && !o.dryRun) restoreJobFile(o.out, jobFileBefore);
      },
      redact: (text) => redact(text, secrets),
      onDisk: (s, l) => state !== undefined && (state.succeeded.has(s, l) || state.failed.has(s, l)),
      openReader: (mine) => openJobReader({
        options: o, spec, sources, stdin, stats, signal: stop.reading, skip: prepared?.skip, done, mine, shout, say,
        emptyStdinNote: given.inputsDirToo ? 'gempipe: warning: stdin (a pipe) held no prompt, so nothing was done; ./inputs was not read: to run it, give it as INPUT (gempipe ... inputs)' : undefined,
        openFiles: budget?.openFiles ?? (o.ordered ? 1 : o.openFiles),
      }),
      openWriter: () => openJobWriter({
        options: o, stdout: io.stdout, stats, state, seen: prepared?.seen, dedupe, listeners, say, defer: job.defer,
        onStall: (message) => {
          stopSending.abort();
          halt(message);
        },
      }),
      onWritten: (l) => void listeners.push(l),
      async run(middle: Duplex[], ro = {}) {
        const stages: Array<Readable | Duplex | NodeJS.WritableStream> = [job.openReader(ro.mine), ...middle];
        if (post && !ro.sink) {
          const p = createPostStage({ spec: post, workers: o.postWorkers, timeoutMs: o.postTimeoutMs, ordered: o.ordered, signal: stop.abandon, stats });
          job.defer(() => p.close());
          stages.push(p.stage);
        }
        if (!ro.sink) stages.push(...(ro.beforeWriter ?? []));
        stages.push(ro.sink ?? job.openWriter());
        try {
          await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
          return undefined;
        } catch (e) {
          return e;
        }
      },
      showProgress(limiter) {
        if (limiter) watch.setLimiter(limiter);
        progress = createProgress({ stream: io.stderr, stats, limiter, concurrency: o.concurrency, intervalSec: o.progressIntervalSec, quiet: o.quiet });
        job.defer(() => {
          progress?.stop();
          progress = undefined;
        });
      },
      defer: (c) => void deferred.push(c),
      async settle() {
        for (const c of deferred.splice(0).reverse()) await c();
      },
      close,
    };
    return job;
  } catch (e) {
    await close();
    throw e;
  }
}

/** --cache: only deterministic requests (--temperature 0) unless --cache-all. */
const cacheUsed = (o: Options) => o.cache !== undefined && (o.temperature === 0 || o.cacheAll);

async function openCache(o: Options, spec: ReturnType<typeof requestSpecOf>, stats: ReturnType<typeof createStats>, say: (l: string) => void): Promise<ResponseCache | undefined> {
  if (o.cache === undefined) return undefined;
  if (!cacheUsed(o)) {
    say(`gempipe: --cache ${o.cache} is not used: without --temperature 0 the answers are sampled and meant to vary; give --temperature 0, or --cache-all to cache them anyway`);
    return undefined;
  }
  if (o.dryRun && !existsSync(o.cache)) return undefined; // nothing in it yet, and a dry run makes nothing
  try {
    // A dry run's lookups count into stats of their own: the plan counts them (plan.ts), the run did not answer them.
    return await createResponseCache({ path: o.cache, spec, ttlMs: o.cacheTtlMs, stats: o.dryRun ? createStats() : stats, readOnly: o.dryRun });
  } catch (e) {
    if (e instanceof UsageError) throw e; // lmdb not installed (util/optional.ts)
    throw new UsageError(`Cannot open the cache \`--cache ${o.cache}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
