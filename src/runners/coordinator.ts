// The coordinator runner (SPEC §12): reader -> the remote stage (each record onto a BullMQ queue,
// a worker's answer back; --dedupe and --cache answer first, so a duplicate or a cached record is
// never queued) -> --post -> writer, one pipeline(); the only writer of the shards. It sends no
// request itself: --rpd is counted by the workers, which ask (through the shared quota).

import { redisShown } from '../quota/bottleneck-redis.js';
import { openBullQueue } from '../distributed/record-queue.js';
import { queueSettingsOf } from '../distributed/queue-names.js';
import { createRemoteStage } from '../distributed/remote-stage.js';
import type { Job, RunnerEnd } from '../job/job.js';
import { meterAnswers } from '../observe/run-meter.js';
import { reuseAnswers } from '../reuse/reuse.js';

export async function runCoordinator(job: Job): Promise<RunnerEnd> {
  const { options: o, stats, stop } = job;
  const { queue: name, maxQueued } = o.coordinator!;
  const queue = await openBullQueue(o.redis!, name);
  job.defer(() => queue.close());
  const remote = await createRemoteStage({
    queue, describe: `${name} on ${redisShown(o.redis!)}`, maxQueued, ordered: o.ordered, settings: queueSettingsOf(o),
    done: job.onDisk, stats, signal: stop.abandon, say: job.say, wrap: (work) => reuseAnswers(job.meter ? meterAnswers(work, job.meter) : work, job),
  });
  job.onWritten((records) => remote.written(records));
  job.say(`gempipe: coordinator: records go to queue ${name} (at most ${maxQueued} queued at once); start workers with \`gempipe worker --redis URL --queue ${name}\``);
  job.showProgress();
  const pipelineError = await job.run([remote.stage]);
  return { pipelineError, workers: remote.workers() };
}
