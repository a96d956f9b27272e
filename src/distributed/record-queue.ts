// The coordinator's view of its BullMQ queue (SPEC §12), as a small interface the remote stage
// works against (and a test fakes): add a record's job, hear when jobs end, look one up, remove
// one, list the answered ones, and the queue's settings. BullMQ and ioredis load here, only when
// a coordinator runs. Connections retry forever (a Redis restart is waited out).

import type { Queue as QueueT, QueueEvents as QueueEventsT } from 'bullmq';
import { queueName, settingsKey } from './queue-names.js';
import { requireOptional } from '../util/optional.js';

/** How a job ended: the worker's answer, or BullMQ's reason for giving up on it. */
export type JobEnd = { value: unknown } | { failed: string };

export interface RecordQueue {
  /** The settings stored for the queue (JSON), and how many of its jobs are not answered yet. */
  settings(): Promise<{ stored?: string; pending: number }>;
  setSettings(json: string): Promise<void>;
  /** Adds a job (nothing when one with this id exists: queued, running or answered). */
  add(id: string, data: unknown): Promise<void>;
  /** Where a job is: ended, still waiting or running, or gone (undefined). Throws while Redis is away. */
  find(id: string): Promise<JobEnd | 'pending' | undefined>;
  /** Called once for each job that ends from now on. */
  onEnded(listener: (id: string, end: JobEnd) => void): void;
  remove(id: string): Promise<void>;
  /** The ids of answered jobs (completed or failed), page by page. */
  answered(): AsyncIterable<string[]>;
  close(): Promise<void>;
}

const JOB_OPTIONS = { removeOnComplete: false, removeOnFail: false, attempts: 3, backoff: { type: 'fixed', delay: 1000 } };

export async function openBullQueue(redis: string, name: string): Promise<RecordQueue> {
  const { Queue, QueueEvents, Job } = requireOptional<typeof import('bullmq')>('bullmq');
  const IORedis = requireOptional<typeof import('ioredis').default>('ioredis');
  const opts = { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(100 * n, 2000) };
  const connection = new IORedis(redis, opts);
  const eventsConnection = new IORedis(redis, opts);
  connection.on('error', () => {});
  eventsConnection.on('error', () => {});
  const queue: QueueT = new Queue(queueName(name), { connection });
  const events: QueueEventsT = new QueueEvents(queueName(name), { connection: eventsConnection });
  queue.on('error', () => {});
  events.on('error', () => {});
  await events.waitUntilReady();
  const key = settingsKey(name);
  return {
    async settings() {
      const stored = (await connection.get(key)) ?? undefined;
      const counts = stored ? await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children') : {};
      return { stored, pending: Object.values(counts).reduce((a, b) => a + b, 0) };
    },
    async setSettings(json) {
      await connection.set(key, json);
    },
    async add(id, data) {
      await queue.add('record', data, { jobId: id, ...JOB_OPTIONS });
    },
    async find(id) {
      const job = await Job.fromId(queue, id);
      if (!job) return undefined;
      const state = await job.getState().catch(() => 'unknown');
      if (state === 'completed') return { value: job.returnvalue };
      if (state === 'failed') return { failed: job.failedReason ?? 'failed' };
      return 'pending';
    },
    onEnded(listener) {
      events.on('completed', ({ jobId, returnvalue }) => listener(jobId, { value: returnvalue }));
      events.on('failed', ({ jobId, failedReason }) => listener(jobId, { failed: failedReason }));
    },
    async remove(id) {
      await queue.remove(id);
    },
    async *answered() {
      for (let start = 0; ; start += 500) {
        const jobs = await queue.getJobs(['completed', 'failed'], start, start + 499);
        if (jobs.length > 0) yield jobs.map((j) => j?.id).filter((id): id is string => typeof id === 'string');
        if (jobs.length < 500) break;
      }
    },
    async close() {
      await Promise.allSettled([queue.close(), events.close()]);
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}
