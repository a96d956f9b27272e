// run(): one job, as the CLI runs it. The set-up every mode shares is prepared once (job/), the
// mode is decided once — a dry run, a coordinator, batch or online — and its runner (runners/)
// moves the records through pipeline(); then what it opened is closed, the summary is made
// (job/finish.ts), and what the job holds (the directory's lock) is released.

import type { Options } from './cli/options.js';
import { UsageError } from './errors.js';
import { finishJob } from './job/finish.js';
import type { Runner, RunIO, RunResult } from './job/job.js';
import { decideMode, type Mode } from './job/mode.js';
import { prepareJob } from './job/prepare.js';
import { runBatch } from './runners/batch.js';
import { runCoordinator } from './runners/coordinator.js';
import { runDryRun } from './runners/dry-run.js';
import { runOnline } from './runners/online.js';
import { EMBED_RUNNERS } from './runners/embed-online.js';

export type { RunIO, RunResult };

const RUNNERS: Record<Mode, Runner> = {
  'online': runOnline,
  'batch': runBatch,
  'coordinator': runCoordinator,
  'dry-run': runDryRun,
};

/**
 * Runs one job. `options` may be partial (library use): what is missing takes its default, as
 * on the command line; `apiKey` defaults to GEMINI_API_KEY / GOOGLE_API_KEY only in the CLI.
 */
export async function run(options: Partial<Options>, io: RunIO): Promise<RunResult> {
  const job = await prepareJob(options, io);
  try {
    const mode = await decideMode(job);
    // The time series (quiet while the writer cannot write) and --metrics (a port in use: exit 2, nothing sent).
    await job.watch.start(mode, () => job.stopSending.aborted);
    let end;
    try {
      end = await (job.spec.shape.embed ? EMBED_RUNNERS : RUNNERS)[mode](job);
    } finally {
      await job.settle();
    }
    return await finishJob(job, end);
  } catch (e) {
    if (e instanceof UsageError) job.keepEarlierJobFile(); // exit 2: nothing started, a finished part stays finished
    throw e;
  } finally {
    await job.close();
  }
}
