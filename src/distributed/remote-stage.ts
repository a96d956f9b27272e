// The coordinator's stage (SPEC §12): where a run calls Gemini, the coordinator puts each record
// on a BullMQ queue and waits for a worker's answer, so the rest of the run — the reader with
// resume and the content check, the lock, the writer as the only writer of the shards — stays
// what it is. It is the parallel stage with `--max-queued` slots: at most that many records are
// queued or being answered (back-pressure, not a growing queue). A job's id is the record's id,
// so adding one that is already queued, running or answered adds nothing: a coordinator started
// again picks up the answers it had not written and re-sends nothing. A job that vanished
// (Redis restarted without persistence) is found missing and added again. Each record written is
// removed from the queue after it is on disk; at start, answered jobs whose records are on disk
// already (written just before a crash) are removed.

import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { Queue as QueueT, QueueEvents as QueueEventsT } from 'bullmq';
import { UsageError } from '../errors.js';
import type { FailureRecord, InputRecord, OutputRecord } from '../records.js';
import { failureOf, invalidFailureOf, isFailure } from '../records.js';
import { countFailure, type RunStats } from '../stats.js';
import { createParallelStage } from '../stages/parallel.js';
import { sleep } from '../util/sleep.js';
import { redisShown } from '../quota/bottleneck-redis.js';
import { jobIdOf, queueName, recordIdOf, settingsFingerprint, settingsKey, type QueueSettings } from './queue-names.js';

const require = createRequire(import.meta.url);

/** What a worker returns for a job. */
export interface WorkerAnswer {
  record: OutputRecord;
  /** host:pid of the worker. */
  worker: string;
}

export interface WorkerTally {
  records: number;
  failed: number;
}

export interface RemoteStage {
  stage: Duplex;
  /** The writer's onWritten: the records are on disk, their jobs go. */
  written(records: readonly OutputRecord[]): void;
  workers(): Record<string, WorkerTally>;
  close(): Promise<void>;
}

function parseAnswer(v: unknown): WorkerAnswer | undefined {
  const a = (typeof v === 'string' ? JSON.parse(v) : v) as WorkerAnswer | undefined;
  return a && typeof a === 'object' && a.record ? a : undefined;
}

export async function createRemoteStage(o: {
  redis: string;
  queue: string;
  maxQueued: number;
  ordered: boolean;
  settings: QueueSettings;
  /** A record already on disk (resume state). */
  done: (source: string, line: number) => boolean;
  stats: RunStats;
  signal?: AbortSignal;
  say: (line: string) => void;
}): Promise<RemoteStage> {
  const { Queue, QueueEvents, Job } = require('bullmq') as typeof import('bullmq');
  const IORedis = require('ioredis') as typeof import('ioredis').default;
  const opts = { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(100 * n, 2000) };
  const connection = new IORedis(o.redis, opts);
  const eventsConnection = new IORedis(o.redis, opts);
  connection.on('error', () => {});
  eventsConnection.on('error', () => {});
  const name = queueName(o.queue);
  const queue: QueueT = new Queue(name, { connection });
  const events: QueueEventsT = new QueueEvents(name, { connection: eventsConnection });
  queue.on('error', () => {});
  events.on('error', () => {});
  await events.waitUntilReady();

  // The settings the workers ask with: refused if the queue still holds another job's records.
  const fp = settingsFingerprint(o.settings);
  const key = settingsKey(o.queue);
  const old = await connection.get(key);
  if (old) {
    const prev = JSON.parse(old) as { fp?: string };
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    const pending = Object.values(counts).reduce((a, b) => a + b, 0);
    if (prev.fp !== fp && pending > 0) {
      await Promise.all([queue.close(), events.close()]);
      connection.disconnect();
      eventsConnection.disconnect();
      throw new UsageError(`The queue ${o.queue} on ${redisShown(o.redis)} holds ${pending} record(s) of a job asked with other settings (model, system instruction, config or schema): let it finish, or give another --queue`);
    }
  }
  await connection.set(key, JSON.stringify({ fp, settings: o.settings, at: new Date().toISOString() }));

  // Answers whose records reached the disk before a crash: their jobs go now.
  let cleaned = 0;
  for (let start = 0; ; start += 500) {
    const jobs = await queue.getJobs(['completed', 'failed'], start, start + 499);
    if (jobs.length === 0) break;
    for (const j of jobs) {
      if (!j?.id) continue;
      const id = recordIdOf(j.id);
      const cut = id.lastIndexOf(':');
      if (cut > 0 && o.done(id.slice(0, cut), Number(id.slice(cut + 1)))) {
        await j.remove().catch(() => {});
        cleaned++;
      }
    }
    if (jobs.length < 500) break;
  }
  if (cleaned > 0) o.say(`gempipe: coordinator: removed ${cleaned} answered job(s) whose records were already on disk`);

  // One listener for every job's end, instead of one per job.
  const waiting = new Map<string, (a: WorkerAnswer | { failed: string }) => void>();
  events.on('completed', ({ jobId, returnvalue }) => {
    const w = waiting.get(jobId);
    const a = parseAnswer(returnvalue);
    if (w && a) w(a);
  });
  events.on('failed', ({ jobId, failedReason }) => waiting.get(jobId)?.({ failed: failedReason }));

  const tally: Record<string, WorkerTally> = {};
  const jobOptions = { removeOnComplete: false, removeOnFail: false, attempts: 3, backoff: { type: 'fixed', delay: 1000 } };

  function account(a: WorkerAnswer): OutputRecord {
    const r = a.record;
    const t = (tally[a.worker] ??= { records: 0, failed: 0 });
    t.records++;
    if (isFailure(r)) {
      t.failed++;
      countFailure(o.stats, r.error.status);
    } else {
      o.stats.succeeded++;
      o.stats.tokensIn += r.usage?.promptTokens ?? 0;
      o.stats.tokensOut += r.usage?.responseTokens ?? 0;
    }
    o.stats.attempts += r.attempts;
    return r;
  }

  function workerFailed(rec: InputRecord, reason: string): FailureRecord {
    countFailure(o.stats, 'WORKER_FAILED');
    return failureOf(rec, 0, { status: 'WORKER_FAILED', code: 0, message: `no worker could answer it: ${reason}` });
  }

  async function work(rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> {
    if (rec.invalid) {
      // A bad line is a failure here; no worker is asked.
      countFailure(o.stats, 'INVALID_INPUT');
      return invalidFailureOf(rec);
    }
    const id = jobIdOf(rec.id);
    let settle!: (a: WorkerAnswer | { failed: string }) => void;
    const ended = new Promise<WorkerAnswer | { failed: string }>((res) => (settle = res));
    waiting.set(id, settle);
    try {
      await queue.add('record', { rec, fp }, { jobId: id, ...jobOptions });
      o.stats.inFlight++;
      try {
        for (;;) {
          const tick = sleep(2000, signal).then(() => undefined, () => 'stop' as const);
          const r = await Promise.race([ended, tick]);
          if (r === 'stop') return null; // abandoned: the job stays queued; a rerun picks its answer up
          if (r !== undefined) return 'failed' in r ? workerFailed(rec, r.failed) : account(r);
          // No event for a while: see where the job is (an answer given before this listened,
          // or a job that vanished with a Redis restart).
          let job;
          try {
            job = await Job.fromId(queue, id);
          } catch {
            continue; // Redis is away: wait
          }
          if (!job) {
            await queue.add('record', { rec, fp }, { jobId: id, ...jobOptions }).catch(() => {});
            continue;
          }
          const state = await job.getState().catch(() => 'unknown');
          if (state === 'completed') {
            const a = parseAnswer(job.returnvalue);
            if (a) return account(a);
          } else if (state === 'failed') {
            return workerFailed(rec, job.failedReason ?? 'failed');
          }
        }
      } finally {
        o.stats.inFlight--;
      }
    } finally {
      waiting.delete(id);
    }
  }

  const stage = createParallelStage<InputRecord, OutputRecord>({ work, concurrency: o.maxQueued, ordered: o.ordered, signal: o.signal, timing: o.stats });
  return {
    stage,
    written(records) {
      for (const r of records) void queue.remove(jobIdOf(r.id)).catch(() => {});
    },
    workers: () => tally,
    async close() {
      await Promise.allSettled([queue.close(), events.close()]);
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}
