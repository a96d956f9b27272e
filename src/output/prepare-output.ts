// prepareOutput(): the output directory's state for a run (SPEC §5) — read once, a torn tail
// repaired, failures.jsonl compacted when due — plus the resume skip for the reader and the set
// of ids seen this run (for the orphan report). fs errors become usage errors naming --out.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FAILURES_FILE } from './layout.js';
import { FatalRunError, UsageError } from '../errors.js';
import { lockOutputDir } from './dir-lock.js';
import type { Options } from '../cli/options.js';
import { IdSet } from './id-set.js';
import { compactFailures, loadOutputState, type OutputState } from './output-state.js';
import { noSpaceError } from './reserve.js';
import { parseKeep } from '../stages/fields.js';

export interface PreparedOutput {
  state: OutputState;
  /** Gives the directory's lock back (a no-op for --dry-run, which takes none). */
  release: () => void;
  /** For the reader: true when a line is done already (skip it, do not send it). */
  skip: (source: string, line: number) => boolean;
  /** Ids of the current inputs that the output already held (what skip() was asked about). */
  seen: IdSet;
}

export async function prepareOutput(
  o: Pick<Options, 'out' | 'overwrite' | 'dryRun' | 'retryFailed'> & { keep?: readonly string[] },
  say: (line: string) => void,
  onRecord?: NonNullable<Parameters<typeof loadOutputState>[1]>['onRecord'],
): Promise<PreparedOutput> {
  let state: OutputState;
  let lock: ReturnType<typeof lockOutputDir> | undefined;
  try {
    // One run per directory: the lock comes before anything is read, repaired or sent.
    // --dry-run only reads, and takes none.
    if (!o.dryRun) {
      await mkdir(o.out, { recursive: true });
      lock = lockOutputDir(o.out);
      if (lock.tookOver) say(`gempipe: took over the lock of a run that is gone (pid ${lock.tookOver.pid} on ${lock.tookOver.host}, started ${lock.tookOver.startedAt})`);
    }
    state = await loadOutputState(o.out, { overwrite: o.overwrite, readOnly: o.dryRun, onRecord, keptNames: parseKeep(o.keep ?? []).map((k) => k.to) });
  } catch (e) {
    lock?.release();
    if (e instanceof FatalRunError || e instanceof UsageError) throw e;
    const full = noSpaceError(e, o.out);
    if (full) throw full;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'it exists and is not a directory' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
    throw new UsageError(`Cannot use the output directory \`--out ${o.out}\`: ${why}${err.path && err.path !== o.out ? ` (${err.path})` : ''}`);
  }
  for (const r of state.repairs) say(`gempipe: resume: ${r}`);
  if (state.failuresNeedCompaction && !o.dryRun) {
    try {
      const n = await compactFailures(o.out, state.succeeded);
      say(`gempipe: resume: removed ${n} superseded line(s) from ${join(o.out, FAILURES_FILE)}`);
    } catch (e) {
      lock?.release();
      throw noSpaceError(e, join(o.out, FAILURES_FILE)) ?? e;
    }
  }
  if (state.records > 0) say(`gempipe: resume: ${state.succeeded.size} succeeded and ${state.failed.size} failed record(s) already in ${o.out}/${o.retryFailed ? ' (failed ones will be retried)' : ''}`);
  const seen = new IdSet();
  const skip = (source: string, line: number) => {
    const ok = state.succeeded.has(source, line);
    const failed = state.failed.has(source, line);
    if (ok || failed) seen.add(source, line);
    // A POST_FAILED record holds its paid answer: --retry-failed does not send it again.
    return ok || (failed && (!o.retryFailed || state.postFailed.has(source, line)));
  };
  return { state, skip, seen, release: () => lock?.release() };
}
