// The dry-run runner: reader -> a counter (plan.ts), through pipeline(); nothing is sent or
// written. The counter takes each record the run's way — --dedupe (the directory's answers
// indexed, as a run indexes them), then --cache (opened read only) — so the plan counts the
// requests a run would send; it reads the records already in the directory for its estimates,
// and says what --mode auto would do by the run's own decision (job/mode.ts autoModeOf()).

import { autoModeOf } from '../job/mode.js';
import type { Job, RunnerEnd } from '../job/job.js';
import { createPlanCounter, formatPlan, makePlan, readHistory } from '../plan.js';
import { fixedTokensOf } from '../quota/token-estimate.js';
import { cacheMinimumOf } from '../context/context.js';

export async function runDryRun(job: Job): Promise<RunnerEnd> {
  const { options: o, stats } = job;
  const historyP = readHistory(job.toStdout ? undefined : o.out, fixedTokensOf(o.system));
  const auto = await autoModeOf(job);
  const { sink, counts } = createPlanCounter({ dedupe: job.dedupe, cache: job.cache });
  const pipelineError = await job.run([], { sink });
  if (pipelineError) throw pipelineError;
  const history = await historyP;
  const context = job.context ? { tokens: job.context.tokens, minimum: cacheMinimumOf(o.model) } : undefined;
  job.io.stdout.write(formatPlan(makePlan(counts, o, stats.skipped, history, auto, context), o, history));
  return { planOnly: true };
}
