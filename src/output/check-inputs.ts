// checkInputs(): the content check of a resumed run, between reading the output directory and
// sending anything (SPEC §10). Stdin that the directory already holds records of is spooled to
// OUT/.gempipe-stdin.spool first (it can be read only once, and must be read twice: checked,
// then run). Changed lines stop the run (UsageError, exit 2) unless --redo-changed, which moves
// their old records to superseded.jsonl and lets them be answered again. The job's request shape
// is kept in OUT/.gempipe-job.json for `gempipe verify`.

import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../errors.js';
import { STDIN_SPOOL, SUPERSEDED_FILE } from './layout.js';
import { saveJobShape } from './job-file.js';
import type { Options } from '../cli/options.js';
import type { JobShape } from '../request/spec.js';
import type { InputReaderOptions, InputSource } from '../stages/read-inputs.js';
import { findChangedLines, firstDifference, keptDifference, quoteAt, writtenRecord } from './changed-lines.js';
import { parseKeep } from '../stages/fields.js';
import type { OutputState } from './output-state.js';
import { supersede } from './supersede.js';
import { noSpaceError } from './reserve.js';

export interface CheckedInputs {
  sources: InputSource[];
  /** Lines changed since their records were written (moved away with --redo-changed). */
  changed: number;
  /** Removes the stdin spool, if one was made. */
  cleanup: () => Promise<void>;
}

type CheckOptions = Pick<Options, 'out' | 'dryRun' | 'redoChanged' | 'overwrite'> & Partial<JobShape>;

export async function checkInputs(
  o: CheckOptions,
  sources: InputSource[],
  state: OutputState,
  read: Pick<InputReaderOptions, 'stdin' | 'maxLineBytes' | 'parse' | 'hash' | 'csv' | 'resolve'>,
  say: (line: string) => void,
): Promise<CheckedInputs> {
  let spool: string | undefined;
  const cleanup = async () => {
    if (spool) await rm(spool, { force: true });
  };
  const hasRecords = (s: string) => state.succeeded.lastLine(s) > 0 || state.failed.lastLine(s) > 0;
  let checked = sources;
  let changedCount = 0;
  try {
    if (!o.overwrite && !o.dryRun && sources.some((s) => s.path === null && hasRecords(s.source)) && read.stdin) {
      spool = join(o.out, STDIN_SPOOL);
      say(`gempipe: resume: ${o.out}/ holds records of an earlier stdin job: reading stdin to the end first (into ${spool}) to check it against them`);
      await pipeline(read.stdin, createWriteStream(spool));
      checked = sources.map((s) => (s.path === null ? { ...s, path: spool! } : s));
    }
    if (state.unhashed > 0) say(`gempipe: resume: ${state.unhashed} record(s) in ${o.out}/ carry no hash (written by an older gempipe): they are trusted without a content check`);
    // Stdin in a dry run is not spooled (a dry run writes nothing): it is checked as it is read.
    const keptNames = parseKeep(o.keep ?? []).map((k) => k.to);
    const changed = await findChangedLines(checked.filter((s) => s.path !== null), state, read, keptNames);
    changedCount = changed.count + (o.redoChanged ? changed.gone.size : 0);
    if (o.redoChanged && changed.gone.size > 0) {
      // Records of lines the files no longer have (deleted at the end, blank now) leave the shards too.
      const gone = o.dryRun ? changed.gone.size : await supersede(o.out, changed.gone);
      say(`gempipe: --redo-changed: ${gone} record(s) of lines the inputs no longer have ${o.dryRun ? 'would move' : 'moved'} to ${join(o.out, SUPERSEDED_FILE)}`);
      for (const set of [state.succeeded, state.failed, state.postFailed]) changed.gone.forEach((s, l) => set.delete(s, l));
    }
    if (changed.count > 0) {
      const f = changed.first!;
      const written = await writtenRecord(o.out, f.source, f.line);
      const was = written === undefined ? undefined : String(written.prompt ?? '');
      const at = was === undefined ? 0 : firstDifference(was, f.prompt);
      const what = f.keptOnly ? `it asks the same, but its --keep field(s) differ: ${keptDifference(written, f.kept, keptNames)}; --redo-changed rewrites such records without asking again`
        : was === undefined ? `now ${quoteAt(f.prompt)}`
          : was === f.prompt ? `the prompt is the same, so the model, --system, --temperature, --max-output-tokens, --thinking-budget or --json-schema differ from the run that wrote it${o.attach?.length || o.context !== undefined || o.inputFormat === 'request' ? ', or an attachment\'s bytes (--attach), the --context or the rest of the request line' : ''}`
            : `was ${quoteAt(was, at)}, now ${quoteAt(f.prompt, at)}`;
      const head = `${changed.count} input line(s) changed since their records were written to ${o.out}/ (first: ${f.id} — ${what})`;
      if (!o.redoChanged) {
        throw new UsageError(`${head}. Nothing was sent. To answer them again, rerun with --redo-changed (their old records move to ${join(o.out, SUPERSEDED_FILE)}; a line whose request was answered before — moved by a line inserted or deleted above it — reuses that answer, unpaid); or give this job a new --out`);
      }
      if (!o.dryRun) {
        const moved = await supersede(o.out, changed.ids);
        say(`gempipe: ${head}; --redo-changed: moved ${moved} old record(s) to ${join(o.out, SUPERSEDED_FILE)}; a line whose request was answered before reuses that answer, the others are asked again`);
      }
      for (const [set] of [[state.succeeded], [state.failed], [state.postFailed]]) {
        changed.ids.forEach((s, l) => set.delete(s, l));
      }
      changed.ids.forEach((s, l) => state.hashes.set(s, l, 0));
    }
    if (!o.dryRun) saveJobShape(o.out, o);
  } catch (e) {
    await cleanup();
    throw noSpaceError(e, o.out) ?? e;
  }
  return { sources: checked, changed: changedCount, cleanup };
}
