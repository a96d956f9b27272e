// finishJob(): how the run ended — the outcome and exit code (outcome.ts), failures.jsonl tidied
// after --retry-failed, the records whose ids are not in the inputs reported, the failures left
// from earlier runs counted (they make the exit code 3 as this run's do) — and the summary on
// stderr and in --summary-json. The one error line is printed whatever --quiet.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../errors.js';
import { FAILURES_FILE } from '../output/layout.js';
import { compactFailures } from '../output/output-state.js';
import { WriteFailedError } from '../stages/rotating-writer.js';
import { formatSummary, summarize } from '../stats.js';
import { runCostOf } from '../observe/cost.js';
import type { RunResult, RunnerEnd } from './job.js';
import { decideOutcome } from './outcome.js';
import type { PreparedJob } from './prepare.js';

export async function finishJob(job: PreparedJob, end: RunnerEnd): Promise<RunResult> {
  const { options: o, stats, stop, state, io } = job;
  if (end.planOnly) {
    const summary = summarize(stats, stop.reading.aborted ? 'interrupted' : 'completed', stop.reading.aborted ? ExitCode.INTERRUPTED : ExitCode.OK, Date.now());
    return { ...summary, stats };
  }
  const { pipelineError } = end;
  if (pipelineError instanceof WriteFailedError) {
    const unwritten = stats.succeeded + stats.failed - stats.written;
    if (unwritten > 0) pipelineError.message += ` (${unwritten} answer(s) received could not be written)`;
  }
  const ended = stop.haltMessage === undefined && !stop.interrupted && pipelineError === undefined;
  if (state && ended) {
    if (o.retryFailed && job.failedAtStart > 0) {
      const n = await compactFailures(o.out, state.succeeded);
      if (n > 0) job.say(`gempipe: ${n} earlier failure(s) superseded by this run were removed from ${join(o.out, FAILURES_FILE)}`);
    }
    if (stats.inputErrors.length === 0 && job.seen) {
      const a = state.succeeded.minus(job.seen);
      const b = state.failed.minus(job.seen);
      stats.orphans = a.count + b.count;
      if (stats.orphans > 0) {
        job.say(`gempipe: warning: ${stats.orphans} record(s) in ${o.out}/ have ids not in the current inputs (e.g. ${[...a.examples, ...b.examples].slice(0, 3).join(', ')}); they are kept, not dropped`);
      }
    }
  }
  // Failure records on disk now: this run's and those earlier runs left (not retried).
  const failuresOnDisk = state ? state.failed.minus(state.succeeded).count : 0;
  const decided = decideOutcome({
    pipelineError, toStdout: job.toStdout, haltMessage: stop.haltMessage, interrupted: stop.interrupted, failed: stats.failed,
    inputErrors: stats.inputErrors.length, failuresOnDisk,
  });
  const error = decided.error === undefined ? undefined : job.redact(decided.error);
  const summary = summarize(stats, decided.outcome, decided.exitCode, Date.now(), error, Math.max(0, failuresOnDisk - stats.failed));
  if (end.limits && end.limits.length > 0) summary.limits = end.limits;
  const cost = stats.tokensIn + stats.tokensOut > 0 ? runCostOf(stats, o.model, o) : undefined;
  if (cost) summary.cost = cost;
  if (end.workers) summary.workers = end.workers;
  // A halt said its line when it happened; any other fault says it here, --quiet or not.
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
}
