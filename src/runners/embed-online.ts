// The runners of `gempipe embed` (SPEC §17), over the same Job as a generate run: online is
// reader -> the parallel stage running the embed work (--dedupe, then --cache, then calls of many
// texts under the limiter) -> --post -> the vector shards (--vectors f32|npy|parquet) -> writer,
// one pipeline(); batch, coordinator and dry-run are the house's runners with embedding's parts.

import type { Duplex } from 'node:stream';
import { EMBED_DEFAULTS } from '../embed/embed-shape.js';
import { createEmbedWork } from '../embed/embed-work.js';
import { RETRY_DEFAULTS } from '../gemini/retry-policy.js';
import { createBackend, type Backend } from '../job/backend.js';
import { dailyCapFor, type WorkSettings } from '../job/generate-work.js';
import type { Job, Runner, RunnerEnd } from '../job/job.js';
import type { Mode } from '../job/mode.js';
import { describeReset } from '../quota/daily-cap.js';
import type { RequestSpec } from '../request/spec.js';
import { reuseAnswers, type Work } from '../reuse/reuse.js';
import { createParallelStage } from '../stages/parallel.js';
import type { RunStats } from '../stats.js';
import { runCoordinator } from './coordinator.js';
import { runDryRun } from './dry-run.js';
import { runEmbedBatch } from './embed-batch.js';
import { openVectorShards } from '../output/vector-shards.js';

/** The embed work on a backend: every mode that embeds record by record (online, batch's fallback, a worker). */
export function embedWorkOf(
  spec: RequestSpec,
  s: WorkSettings & { textsPerCall?: number; callWaitMs?: number },
  backend: Pick<Backend, 'embed' | 'limiter'>,
  stats: RunStats,
  extras: Pick<Parameters<typeof createEmbedWork>[0], 'stopSending' | 'onFatal' | 'dailyCap' | 'onDailyCapReached'>,
): Work {
  if (!backend.embed) throw new Error('an embedding job needs the Gemini client (no injected generate function)');
  return createEmbedWork({
    ...extras,
    embed: backend.embed, limiter: backend.limiter, model: spec.shape.model, normalize: spec.shape.embed?.normalize, stats,
    textsPerCall: s.textsPerCall ?? EMBED_DEFAULTS.textsPerCall, callWaitMs: s.callWaitMs ?? EMBED_DEFAULTS.callWaitMs,
    retry: { ...RETRY_DEFAULTS, maxAttempts: s.maxAttempts, baseDelayMs: s.retryBaseDelayMs }, maxQuotaWaitMs: s.maxQuotaWaitMs,
  });
}

/** A run's embed work: --rpd counted, faults halting the job, --dedupe and --cache answering first. */
export function embedJobWorkOf(job: Job, backend: Backend): Work {
  const o = job.options;
  const dailyCap = dailyCapFor(o.rpd, o.model, backend, job.toStdout ? undefined : o.out);
  job.defer(() => dailyCap?.stop());
  return reuseAnswers(embedWorkOf(job.spec, o, backend, job.stats, {
    stopSending: AbortSignal.any([job.stopSending, job.stop.reading]), dailyCap, // a stop sends nothing new
    onDailyCapReached: () => job.halt(`reached --rpd ${o.rpd}: ${dailyCap!.used} texts to ${o.model} today (Pacific time); ${describeReset()}; rerun then to resume`),
    onFatal: (err) => job.halt(err.message),
  }), job);
}

/** Records in flight: enough for --concurrency calls of --texts-per-call texts. */
export function embedConcurrency(o: Job['options']): number {
  return o.concurrency * (o.textsPerCall ?? EMBED_DEFAULTS.textsPerCall);
}

/** --vectors f32|npy|parquet: the stage that moves vectors into binary shards before the writer. */
export async function vectorStages(job: Job): Promise<Duplex[]> {
  const o = job.options;
  if (!o.vectors || o.vectors === 'jsonl') return [];
  const shards = await openVectorShards({ dir: o.out, format: o.vectors, rowsPerShard: o.shardSize, fsync: o.fsync, overwrite: o.overwrite, say: job.say });
  job.onWritten((records) => shards.written(records));
  job.defer(() => shards.close());
  return [shards.stage];
}

export async function runEmbedOnline(job: Job): Promise<RunnerEnd> {
  const { options: o, stats, stop } = job;
  const backend = await createBackend(o, { generate: job.io.generate, say: job.say, connections: job.budget?.connections });
  job.defer(() => backend.close());
  const stage = createParallelStage({ work: embedJobWorkOf(job, backend), concurrency: embedConcurrency(o), ordered: o.ordered, signal: stop.abandon, timing: stats, highWaterMark: 256 });
  job.showProgress(backend.limiter);
  const pipelineError = await job.run([stage], { beforeWriter: await vectorStages(job) });
  return { pipelineError, limits: backend.limits };
}

/** The house's coordinator, its writer behind the vector shards; workers read the embedding shape from the queue's settings. */
async function runEmbedCoordinator(job: Job): Promise<RunnerEnd> {
  const beforeWriter = await vectorStages(job);
  return runCoordinator({ ...job, run: (middle, ro) => job.run(middle, { ...ro, beforeWriter }) });
}

export const EMBED_RUNNERS: Record<Mode, Runner> = {
  'online': runEmbedOnline,
  'batch': runEmbedBatch,
  'coordinator': runEmbedCoordinator,
  'dry-run': runDryRun,
};
