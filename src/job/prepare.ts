// prepareJob(): the set-up every mode shares, in the order that keeps usage errors ahead of any
// request: the options (defaults filled, the flag rules), --post's module, the inputs, the output
// directory (its lock, resume state and --dedupe index), the content check, --cache, the stop
// control and the descriptor budget. What it opens is released by close(); what a runner opens
// it defers, and settle() closes that, last first, when the runner is done.

import { pipeline } from 'node:stream/promises';
import type { Duplex, Readable } from 'node:stream';
import { DEFAULTS, type Options } from '../cli/options.js';
import { checkFlagRules } from '../cli/rules.js';
import { redact, UsageError } from '../errors.js';
import { fdBudget } from '../fd-budget.js';
import { checkInputs } from '../output/check-inputs.js';
import type { IdSet } from '../output/id-set.js';
import { loadOutputState, type LineRef } from '../output/output-state.js';
import { prepareOutput } from '../output/prepare-output.js';
import { checkPostSpec, createPostStage, parsePostSpec } from '../post/stage.js';
import { createProgress, type Progress } from '../progress.js';
import { requestSpecOf } from '../request/spec.js';
import { createDedupe, type Dedupe } from '../reuse/dedupe.js';
import { createResponseCache, type ResponseCache } from '../reuse/response-cache.js';
import { resolveInputs } from '../stages/read-inputs.js';
import { createStats, watchEventLoop } from '../stats.js';
import type { Job, RunIO } from './job.js';
import { lineReading, openJobReader } from './reader.js';
import { createStopControl } from './stop-control.js';
import { loadContext } from '../context/context.js';
import { openJobWriter, type WrittenListener } from './writer.js';

/** The sources a run reads: the INPUT arguments, else stdin when piped, else ./inputs. */
export function defaultInputs(inputs: string[], stdinIsTTY: boolean | undefined): string[] {
  if (inputs.length > 0) return inputs;
  return stdinIsTTY ? ['inputs'] : ['-'];
}

export interface PreparedJob extends Job {
  /** Ids of the current inputs the directory held (for the orphan report). */
  readonly seen?: IdSet;
  /** Failure records the directory held at the start. */
  readonly failedAtStart: number;
  redact(text: string): string;
  /** Closes what the runner deferred, last first. */
  settle(): Promise<void>;
  /** Releases what the job holds: the --dedupe files, the stdin spool, the cache, the lock. */
  close(): Promise<void>;
}

export async function prepareJob(options: Partial<Options>, io: RunIO): Promise<PreparedJob> {
  const o: Options = { ...DEFAULTS, keep: [], inputs: [], ...options } as Options;
  checkFlagRules(o); // library callers build Options without parseOptions()
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
  const releases: Array<() => unknown> = [];
  const close = async () => {
    for (const r of releases.splice(0).reverse()) await r();
  };
  try {
    // A --post module that cannot be loaded (or lacks its export) is a usage error before anything else.
    const postSpec = o.post !== undefined ? parsePostSpec(o.post) : undefined;
    if (postSpec) await checkPostSpec(postSpec);
    const post = o.dryRun ? undefined : postSpec;
    let sources = resolveInputs(defaultInputs(o.inputs, io.stdin.isTTY));
    if (sources.some((s) => s.path === null) && io.stdin.isTTY && o.inputs.includes('-')) say('gempipe: reading prompts from the terminal (end with Ctrl-D)');

    // --dedupe: answers already on disk are indexed while the directory is read.
    let dedupe: Dedupe | undefined = o.dedupe ? createDedupe({ stats }) : undefined;
    const indexKnown = (d: Dedupe) => (ref: LineRef, path: string, at: { offset: number; bytes: number }, failed: boolean) => {
      // Copies are not sources; POST_FAILED and (with --retry-failed) failures are asked again.
      if (ref.hashText && !ref.copy && !ref.postFailed && !(failed && o.retryFailed)) d.known(ref.hashText, path, at.offset, at.bytes, failed);
    };
    releases.push(() => dedupe?.close());
    const prepared = toStdout ? undefined : await prepareOutput(o, say, dedupe && !o.dryRun ? indexKnown(dedupe) : undefined);
    if (prepared) releases.push(() => prepared.release()); // the directory's lock
    const state = prepared?.state;
    const failedAtStart = state?.failed.size ?? 0;
    const reading = lineReading(o, spec);
    if (state) {
      // Lines changed since their records were written stop the run here (exit 2), before any request.
      const checked = await checkInputs(o, sources, state, { ...reading, stdin: io.stdin }, say);
      releases.push(() => checked.cleanup());
      sources = checked.sources;
      if (dedupe && checked.changed > 0 && o.redoChanged && !o.dryRun) {
        // --redo-changed rewrote files: index them again where they now are.
        dedupe.close();
        dedupe = createDedupe({ stats });
        await loadOutputState(o.out, { readOnly: true, onRecord: indexKnown(dedupe) });
      }
    }
    const cache = o.dryRun ? undefined : await openCache(o, spec, stats, say);
    if (cache) releases.push(() => cache.close());
    const stop = createStopControl({ signal: io.signal, drainTimeoutSec: o.drainTimeoutSec, inFlight: () => stats.inFlight, say, shout });
    // Sockets and input files together stay under `ulimit -n`, decided before the reader opens anything.
    const budget = o.dryRun || io.generate ? undefined : fdBudget({ concurrency: o.concurrency, openFiles: o.ordered ? 1 : o.openFiles, inProcessEmulator: o.emulator });
    if (budget?.note) say(`gempipe: ${budget.note}`);

    const stopSending = new AbortController();
    const listeners: WrittenListener[] = [];
    const deferred: Array<() => unknown> = [() => stop.dispose()];
    // One line, whatever the server's message held (its quota 429s span several).
    const halt = (message: string) => stop.halt(redact(message, secrets).replace(/\s*\n\s*/g, ' '));
    const done = state ? state.succeeded.size + (o.retryFailed ? 0 : state.failed.size) : 0;
    const job: PreparedJob = {
      options: o, spec, io, stats, stop, toStdout, sources, context, state, dedupe, cache, post, budget,
      stopSending: stopSending.signal, seen: prepared?.seen, failedAtStart, say, shout, halt,
      redact: (text) => redact(text, secrets),
      onDisk: (s, l) => state !== undefined && (state.succeeded.has(s, l) || state.failed.has(s, l)),
      openReader: (mine) => openJobReader({
        options: o, spec, sources, stdin: io.stdin, stats, signal: stop.reading, skip: prepared?.skip, done, mine, shout,
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
        stages.push(ro.sink ?? job.openWriter());
        try {
          await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
          return undefined;
        } catch (e) {
          return e;
        }
      },
      showProgress(limiter) {
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
async function openCache(o: Options, spec: ReturnType<typeof requestSpecOf>, stats: ReturnType<typeof createStats>, say: (l: string) => void): Promise<ResponseCache | undefined> {
  if (o.cache === undefined) return undefined;
  if (o.temperature !== 0 && !o.cacheAll) {
    say(`gempipe: --cache ${o.cache} is not used: without --temperature 0 the answers are sampled and meant to vary; give --temperature 0, or --cache-all to cache them anyway`);
    return undefined;
  }
  try {
    return await createResponseCache({ path: o.cache, spec, ttlMs: o.cacheTtlMs, stats });
  } catch (e) {
    throw new UsageError(`Cannot open the cache \`--cache ${o.cache}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
