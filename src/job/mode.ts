// The run's mode, decided once: a dry run, a coordinator, batch or online — and for --mode auto
// one rule, autoMode(), which --dry-run's plan uses too, so the plan predicts what the run does.

import { loadJournal, liveJobs } from '../batch/journal.js';
import { countRecords } from '../stages/read-inputs.js';
import type { Job } from './job.js';

export type Mode = 'online' | 'batch' | 'coordinator' | 'dry-run';

/**
 * --mode auto: batch when more than --batch-threshold records are to do and the deadline (if any)
 * leaves the Batch API its 24 hours; online otherwise — and always batch while the directory has
 * live batch jobs (their records must not be asked again online). `toDo` undefined: not known
 * ahead (stdin).
 */
export function autoMode(a: { toDo?: number; liveJobs: number; toStdout: boolean; threshold: number; deadlineMs?: number }): { mode: 'online' | 'batch'; why: string } {
  if (a.toStdout) return { mode: 'online', why: 'batch mode writes an output directory, not stdout' };
  if (a.liveJobs > 0) return { mode: 'batch', why: 'batch jobs of an earlier run are still out' };
  if (a.toDo === undefined) return { mode: 'online', why: 'the number of records is not known ahead (stdin)' };
  if (a.deadlineMs !== undefined && a.deadlineMs < 24 * 3_600_000) return { mode: 'online', why: '--deadline is shorter than the Batch API\'s 24 hours' };
  const batch = a.toDo > a.threshold;
  return { mode: batch ? 'batch' : 'online', why: `${a.toDo} record(s) to do, ${batch ? 'over' : 'not over'} --batch-threshold ${a.threshold}` };
}

export async function decideMode(job: Job): Promise<Mode> {
  const o = job.options;
  if (o.dryRun) return 'dry-run';
  if (o.coordinator) return 'coordinator';
  if (o.mode !== 'auto') return o.mode;
  const { mode, why } = await autoModeOf(job);
  job.say(`gempipe: --mode auto: ${mode} (${why})`);
  return mode;
}

/**
 * What --mode auto chooses for this job, counted as the run counts before it reads (the inputs'
 * lines, less what resume found done): the run's decision and --dry-run's prediction, one code.
 */
export async function autoModeOf(job: Job): Promise<{ mode: 'online' | 'batch'; why: string }> {
  const o = job.options;
  const state = job.state;
  const n = job.toStdout ? undefined : await countRecords(job.sources);
  const done = state ? state.succeeded.size + (o.retryFailed ? 0 : state.failed.size) : 0;
  return autoMode({
    toDo: n === undefined ? undefined : Math.max(0, n - done), liveJobs: job.toStdout ? 0 : liveJobs(loadJournal(o.out)).length,
    toStdout: job.toStdout, threshold: o.batchThreshold, deadlineMs: o.deadlineMs,
  });
}
