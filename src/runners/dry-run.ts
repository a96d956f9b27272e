// The dry-run runner: reader -> a counter (plan.ts), through pipeline(); nothing is sent or
// written. The plan reads the records already in the directory for its estimates, and says what
// --mode auto would do by the run's own rule (job/mode.ts).

import { loadJournal, liveJobs } from '../batch/journal.js';
import { autoMode } from '../job/mode.js';
import type { Job, RunnerEnd } from '../job/job.js';
import { createPlanCounter, formatPlan, makePlan, readHistory } from '../plan.js';
import { fixedTokensOf } from '../quota/token-estimate.js';
import { cacheMinimumOf } from '../context/context.js';

export async function runDryRun(job: Job): Promise<RunnerEnd> {
  const { options: o, stats } = job;
  const historyP = readHistory(job.toStdout ? undefined : o.out, fixedTokensOf(o.system));
  const { sink, counts } = createPlanCounter();
  const pipelineError = await job.run([], { sink });
  if (pipelineError) throw pipelineError;
  const history = await historyP;
  const auto = autoMode({
    toDo: job.sources.some((s) => s.path === null) ? undefined : counts.toDo, toStdout: job.toStdout,
    liveJobs: job.toStdout ? 0 : liveJobs(loadJournal(o.out)).length, threshold: o.batchThreshold, deadlineMs: o.deadlineMs,
  });
  const context = job.context ? { tokens: job.context.tokens, minimum: cacheMinimumOf(o.model) } : undefined;
  job.io.stdout.write(formatPlan(makePlan(counts, o, stats.skipped, history, auto, context), o, history));
  return { planOnly: true };
}
