// verify(): `gempipe verify -o DIR [INPUT...]` — checks an output directory, and with INPUTs
// checks it against them (SPEC §10): every file whole (valid records, no torn last line),
// every id at most once across the shards, and for every current input line exactly one
// record whose hash matches what the line asks now. It reads only; it takes no lock and
// repairs nothing. The request shape (model, system, config, input format) comes from the
// directory's .gempipe-job.json, written by the last run, unless flags say otherwise.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { OutputStateError } from '../errors.js';
import { FAILURES_FILE, JOB_FILE, STDIN_SPOOL } from './layout.js';
import { listRecordFiles } from './record-files.js';
import type { InputRecord } from '../records.js';
import { requestSpecOf, type JobShape } from '../request/spec.js';
import { DEFAULTS } from '../cli/defaults.js';
import { inPartition } from '../partition.js';
import { lockHolder } from './dir-lock.js';
import { IdSet } from './id-set.js';
import { hash32, keptHash32, LineHashes } from './line-hashes.js';
import { scanJsonl } from './output-state.js';
import { nameSources, readSourceNames } from './source-names.js';
import { parseKeep } from '../stages/fields.js';
import { recordReading } from '../request/reading.js';
import { loadContext } from '../context/context.js';
import { createSourceChain, resolveInputs } from '../stages/read-inputs.js';

export interface VerifyReport {
  ok: boolean;
  /** What is wrong, in plain words (exit 1 when any). */
  problems: string[];
  /** What is worth knowing but not wrong (failure records, a run using the directory now). */
  notes: string[];
  succeeded: number;
  failed: number;
  /** Input lines read (with INPUTs). */
  lines?: number;
}

/** The job's shape: .gempipe-job.json, then what the flags give over it. */
export function jobShape(dir: string, given: Partial<JobShape>): { shape: Partial<JobShape>; from?: string } {
  let saved: Partial<JobShape> = {};
  const path = join(dir, JOB_FILE);
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<JobShape>;
  } catch {
    return { shape: given };
  }
  const shape: Partial<JobShape> = { ...saved };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (shape as Record<string, unknown>)[k] = v;
  return { shape, from: path };
}

const few = (ex: string[]) => ex.slice(0, 3).join(', ');

/** `shape`: how the job asked (default: the directory's .gempipe-job.json, as jobShape() reads it). */
export async function verify(o: { out: string; inputs: string[]; shape?: Partial<JobShape>; stdin?: NodeJS.ReadableStream }): Promise<VerifyReport> {
  const problems: string[] = [];
  const notes: string[] = [];
  const report = (ok = problems.length === 0): VerifyReport => ({ ok, problems, notes, succeeded: succeeded.size, failed: failed.size, lines });
  const succeeded = new IdSet();
  const failed = new IdSet();
  const hashes = new LineHashes();
  const kept = new LineHashes();
  let lines: number | undefined;
  if (!existsSync(o.out)) {
    problems.push(`${o.out} does not exist`);
    return report();
  }
  const holder = lockHolder(o.out);
  if (holder) notes.push(`a run is using ${o.out} now (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}): what it writes meanwhile may change this result`);

  // 1. Every file whole; every id once across the shards.
  const shape = o.shape ?? jobShape(o.out, {}).shape;
  const keptNames = o.inputs.length > 0 ? parseKeep(shape.keep ?? []).map((k) => k.to) : [];
  const files = listRecordFiles(o.out);
  const dup: string[] = [];
  let dups = 0;
  let bothWays = 0;
  for (const name of files) {
    const path = join(o.out, name);
    const isFailures = name === FAILURES_FILE;
    try {
      const r = await scanJsonl(path, (ref) => {
        if (isFailures) {
          if (succeeded.has(ref.source, ref.line)) bothWays++;
          else {
            failed.add(ref.source, ref.line);
            hashes.set(ref.source, ref.line, ref.hash);
            if (ref.kept !== undefined) kept.set(ref.source, ref.line, ref.kept);
          }
          return;
        }
        if (!succeeded.add(ref.source, ref.line)) {
          dups++;
          dup.push(`${ref.source}:${ref.line}`);
        }
        hashes.set(ref.source, ref.line, ref.hash);
        if (ref.kept !== undefined) kept.set(ref.source, ref.line, ref.kept);
      }, false, keptNames);
      if (r.truncatedBytes > 0) problems.push(`${path} ends with a torn line (${r.truncatedBytes} bytes; a crash mid-write): the next run cuts it off and redoes that record`);
    } catch (e) {
      problems.push(e instanceof OutputStateError ? e.message : `${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (dups > 0) problems.push(`${dups} id(s) have more than one record in the shards (e.g. ${few(dup)}): the directory was written by two runs at once or changed by hand`);
  if (bothWays > 0) notes.push(`${FAILURES_FILE} still lists ${bothWays} id(s) that later succeeded (a run stopped before it tidied up): the next run removes them`);
  if (failed.size > 0) notes.push(`${failed.size} record(s) are failures (${join(o.out, FAILURES_FILE)}): a rerun with --retry-failed sends them again`);
  if (files.length === 0) notes.push(`${o.out} holds no records yet`);
  if (o.inputs.length === 0) return report();

  // 2. Against the inputs: each current line exactly one record, with a matching hash (and kept fields).
  const context = shape.context !== undefined ? await loadContext(shape.context) : undefined;
  const spec = requestSpecOf({ ...shape, model: shape.model ?? DEFAULTS.model }, { contextDigest: context?.digest });
  const { parse, csv, hash, resolve } = recordReading(shape, spec);
  const seen = new IdSet();
  const missing: string[] = [];
  const changed: string[] = [];
  const keptChanged: string[] = [];
  let nMissing = 0;
  let nChanged = 0;
  let nKept = 0;
  lines = 0;
  // Inputs by the names the directory knows their files by (q.txt given as /abs/q.txt: source-names.ts).
  for (const src of nameSources(resolveInputs(o.inputs), readSourceNames(o.out), [...succeeded.sources(), ...failed.sources()]).sources) {
    let chain: Duplex;
    try {
      chain = createSourceChain(src, { stdin: o.stdin, maxLineBytes: shape.maxLineBytes ?? 1024 * 1024, parse, hash, csv, resolve, mine: shape.partition ? inPartition(shape.partition) : undefined });
      for await (const rec of chain as AsyncIterable<InputRecord>) {
        lines++;
        seen.add(src.source, rec.line);
        if (!succeeded.has(src.source, rec.line) && !failed.has(src.source, rec.line)) {
          if (nMissing++ < 3) missing.push(rec.id);
          continue;
        }
        const h = hashes.get(src.source, rec.line);
        if (h !== 0 && h !== hash32(rec.hash)) {
          if (nChanged++ < 3) changed.push(rec.id);
        } else if (keptNames.length > 0 && kept.get(src.source, rec.line) !== keptHash32(rec.kept, keptNames)) {
          if (nKept++ < 3) keptChanged.push(rec.id);
        }
      }
    } catch (e) {
      problems.push(`cannot read input ${src.source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (nMissing > 0) problems.push(`${nMissing} input line(s) have no record (e.g. ${few(missing)}): the run did not finish, or the lines are new; rerun it to resume`);
  if (nChanged > 0) problems.push(`${nChanged} input line(s) changed since their records were written (e.g. ${few(changed)}), or were asked with other options than ${jobShapeSource(o.out)}: rerun with --redo-changed`);
  if (nKept > 0) problems.push(`${nKept} input line(s) have --keep field(s) other than their records hold (e.g. ${few(keptChanged)}): the lines were edited since; rerun with --redo-changed (it rewrites those records without asking again)`);
  const orphanS = succeeded.minus(seen);
  const orphanF = failed.minus(seen);
  if (orphanS.count + orphanF.count > 0) {
    problems.push(`${orphanS.count + orphanF.count} record(s) are for lines not in these inputs (e.g. ${few([...orphanS.examples, ...orphanF.examples])}): other inputs were given to the run, or lines were removed`);
  }
  if (existsSync(join(o.out, STDIN_SPOOL)) && !holder) notes.push(`${join(o.out, STDIN_SPOOL)} is left from a run that stopped; the next run replaces it`);
  return report();
}

function jobShapeSource(dir: string): string {
  return existsSync(join(dir, JOB_FILE)) ? `the ones in ${join(dir, JOB_FILE)} and the flags given` : `the flags given (no ${JOB_FILE})`;
}

export function formatVerify(out: string, r: VerifyReport): string {
  const lines: string[] = [];
  const counts = `${r.succeeded} succeeded and ${r.failed} failed record(s)${r.lines !== undefined ? `, ${r.lines} input line(s) checked` : ''}`;
  lines.push(r.ok ? `gempipe verify: ${out}: OK — ${counts}${r.lines !== undefined ? ': every input line has exactly one record and its hash matches' : ''}; every file is whole` : `gempipe verify: ${out}: ${r.problems.length} problem(s) — ${counts}`);
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n') + '\n';
}
