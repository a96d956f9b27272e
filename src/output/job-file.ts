// OUT/.gempipe-job.json: what the last run into the directory asked and how its lines became
// prompts (for verify and merge), and — once a run has ended with a record for every input line
// of its share — `complete`: how many distinct ids the directory then held. A run rewrites it
// without `complete` before it sends anything, so a run killed later leaves it unfinished.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_SHAPE_KEYS, type JobShape } from '../request/spec.js';
import { writeJsonAtomic } from './atomic.js';
import { JOB_FILE } from './layout.js';

/** A finished run's mark: every input line of its share had a record; `records` distinct ids then. */
export interface Completion {
  at: string;
  /** Input records of the run's share (its part of the inputs). */
  lines: number;
  /** Distinct ids in the directory when it finished. */
  records: number;
}

export type JobFile = Partial<JobShape> & { savedAt?: string; complete?: Completion };

/** The directory's job file, or undefined when it has none (or one that is not JSON). */
export function readJobFile(dir: string): JobFile | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, JOB_FILE), 'utf8')) as JobFile;
  } catch {
    return undefined;
  }
}

/** The job's shape at the start of a run (no `complete`: the run has not finished). */
export function saveJobShape(dir: string, o: Partial<JobShape>): void {
  const job: Record<string, unknown> = { savedAt: new Date().toISOString() };
  for (const k of JOB_SHAPE_KEYS) {
    const v = o[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) job[k] = v; // no `keep: []`
  }
  writeJsonAtomic(join(dir, JOB_FILE), job);
}

/** Marks the job file finished (best effort: a run that cannot write it is merely not mergeable as whole). */
export function markComplete(dir: string, c: Omit<Completion, 'at'>): boolean {
  const job = readJobFile(dir);
  if (!job) return false;
  try {
    writeJsonAtomic(join(dir, JOB_FILE), { ...job, complete: { at: new Date().toISOString(), ...c } });
    return true;
  } catch {
    return false;
  }
}

/** How the job asked, as parts must agree on it: the file without its part, times and mark. */
export function shapeKey(job: JobFile): string {
  const { partition: _p, savedAt: _s, complete: _c, ...shape } = job;
  return JSON.stringify(shape);
}

/**
 * Puts back the job file a run found (`before`) when that run ends with nothing sent and nothing
 * written (a usage error after start-up: a wrong --redis password, a --metrics port in use): the
 * directory is as the earlier run left it, finished included, and merge takes it as such.
 */
export function restoreJobFile(dir: string, before: JobFile | undefined): void {
  if (!before?.complete) return;
  try {
    writeJsonAtomic(join(dir, JOB_FILE), before);
  } catch {
    // best effort, as markComplete
  }
}
