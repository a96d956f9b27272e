// The online runner: reader -> the generate stage (a request per record under the limiter,
// cheapest answers first: --dedupe, then --cache) -> --post -> writer, one pipeline(). A whole-run
// fault or --rpd's cap halts it: reading stops, answers on the wire are still written.

import type { Duplex } from 'node:stream';
import { createParallelStage, type Parking } from '../stages/parallel.js';
import { createBackend } from '../job/backend.js';
import { jobWorkOf } from '../job/generate-work.js';
import type { Job, RunnerEnd } from '../job/job.js';

export async function runOnline(job: Job): Promise<RunnerEnd> {
  const { options: o, stats, stop } = job;
  const backend = await createBackend(o, { generate: job.io.generate, say: job.say, connections: job.budget?.connections, context: job.context, stats });
  job.defer(() => backend.close());
  // A record waiting out a long RetryInfo parks: its slot takes the next record meanwhile.
  let stage: (Duplex & Parking) | undefined;
  const parking: Parking = { park: () => stage?.park() ?? false, unpark: (s) => stage?.unpark(s) ?? Promise.resolve() };
  const generate = stage = createParallelStage({ work: jobWorkOf(job, backend, parking), concurrency: o.concurrency, ordered: o.ordered, signal: stop.abandon, timing: stats });
  job.showProgress(backend.limiter);
  const pipelineError = await job.run([generate]);
  return { pipelineError, limits: backend.limits };
}
