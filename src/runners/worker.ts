// gempipe worker --redis URL (SPEC §12): takes records off a coordinator's BullMQ queue, asks
// Gemini exactly as a run would (the same generate work: limiter, retries, failure records), and
// returns each record as its job's result; the coordinator writes it. How to ask (model, system
// instruction, config, schema) comes from the queue's settings, written by the coordinator, and
// every job carries their fingerprint: a job of other settings makes the worker load them again.
// The quota is shared through the same Redis (--redis of a run). A worker killed mid-job loses
// nothing: BullMQ finds the job stalled when its lock lapses (--lock-ms) and gives it to another.
// --metrics serves the worker's own requests (by HTTP code), latency, tokens and rate.

import { hostname } from 'node:os';
import type { Job, Worker as WorkerT } from 'bullmq';
import { createBackend, type Backend } from '../job/backend.js';
import { plainHttpWarning } from '../gemini/plain-http.js';
import { dailyCapFor, generateWorkOf } from '../job/generate-work.js';
import { isFailure, type InputRecord } from '../records.js';
import { requestSpecOf } from '../request/spec.js';
import { embedWorkOf } from './embed-online.js';
import type { Work } from '../reuse/reuse.js';
import { startMetricsServer } from '../observe/metrics.js';
import { createRunMeter } from '../observe/run-meter.js';
import { createSampler } from '../observe/snapshot.js';
import { createStats } from '../stats.js';
import { requireOptional } from '../util/optional.js';
import { sleep } from '../util/sleep.js';
import { queueName, settingsKey, type QueueSettings } from '../distributed/queue-names.js';
import type { WorkerAnswer } from '../distributed/remote-stage.js';

export interface WorkerOptions {
  redis: string;
  queue: string;
  concurrency: number;
  /** BullMQ lock: a job whose worker stops renewing it for this long is given to another. */
  lockMs: number;
  apiKey?: string;
  baseUrl?: string;
  emulator: boolean;
  /** --metrics HOST:PORT: this worker's Prometheus metrics. */
  metrics?: string;
  say: (line: string) => void;
  signal: AbortSignal;
}

interface Generation {
  fp: string;
  backend: Backend;
  work: Work;
  halted?: string;
}

export async function runWorker(o: WorkerOptions): Promise<{ records: number; failed: number }> {
  const { Worker } = requireOptional<typeof import('bullmq')>('bullmq');
  const IORedis = requireOptional<typeof import('ioredis').default>('ioredis');
  const clear = o.emulator ? undefined : plainHttpWarning(o.baseUrl, o.apiKey);
  if (clear) o.say(clear);
  const me = `${hostname()}:${process.pid}`;
  const stats = createStats();
  // --metrics: the worker's requests (by HTTP code, latency), tokens and its limiter's rate.
  const meter = o.metrics !== undefined ? createRunMeter() : undefined;
  let current: Generation | undefined;
  const metrics = o.metrics === undefined ? undefined
    : await startMetricsServer(o.metrics, { sample: createSampler({ stats, meter, limiter: () => current?.backend.limiter }), info: { role: 'worker', mode: 'online' } });
  if (metrics) o.say(`gempipe worker: Prometheus metrics at ${metrics.url}`);
  const connection = new IORedis(o.redis, { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(100 * n, 2000) });
  connection.on('error', () => {});
  const key = settingsKey(o.queue);
  let told = false;
  let gen: Promise<Generation> | undefined;

  async function load(): Promise<Generation> {
    for (;;) {
      const text = await connection.get(key).catch(() => null);
      if (text) {
        const { fp, settings } = JSON.parse(text) as { fp: string; settings: QueueSettings };
        return build(fp, settings);
      }
      if (!told) {
        told = true;
        o.say(`gempipe worker: waiting for a coordinator on queue ${o.queue}`);
      }
      await sleep(500, o.signal);
    }
  }

  async function build(fp: string, s: QueueSettings): Promise<Generation> {
    // The queue's settings, asked from here: no output directory (nothing learned is kept here).
    const backend = await createBackend({ ...s, out: '-', concurrency: o.concurrency, redis: o.redis, apiKey: o.apiKey, baseUrl: o.baseUrl, emulator: o.emulator }, { say: o.say });
    const g: Generation = { fp, backend, work: undefined as unknown as Generation['work'] };
    const halt = (message: string) => {
      if (g.halted) return;
      g.halted = message;
      o.say(`gempipe worker: error: ${message}; this worker takes no more records`);
      void bull.pause(true).catch(() => {});
    };
    // The worker's backend always shares the quota through Redis: so does its --rpd count.
    const dailyCap = dailyCapFor(s.rpd, s.model, backend);
    const spec = requestSpecOf(s);
    const extras = {
      dailyCap, meter, onDailyCapReached: () => halt(`reached --rpd ${s.rpd}: ${dailyCap!.used} requests to ${s.model} today (Pacific time), counted by every process`),
      onFatal: (err: Error) => halt(err.message),
    };
    // An embedding job's records are grouped into calls of the texts this worker holds at once.
    g.work = spec.shape.embed ? embedWorkOf(spec, { ...s, concurrency: o.concurrency }, backend, stats, extras) : generateWorkOf(spec, { ...s, concurrency: o.concurrency }, backend, stats, extras);
    o.say(`gempipe worker ${me}: answering queue ${o.queue} with ${spec.describe()}, ${o.concurrency} at once`);
    current = g;
    return g;
  }

  // Never aborted: on SIGINT/SIGTERM the worker stops taking jobs and lets the ones it holds end.
  const ac = new AbortController();
  let records = 0;
  let failed = 0;
  const bull: WorkerT = new Worker(queueName(o.queue), async (job: Job) => {
    const { rec, fp } = job.data as { rec: InputRecord; fp: string };
    gen ??= load();
    let g = await gen;
    if (g.fp !== fp) {
      // The coordinator's settings changed: load them again (the old backend goes when idle).
      const old = g;
      gen = load();
      g = await gen;
      setTimeout(() => void old.backend.close(), 60_000).unref();
    }
    if (g.halted) throw new Error(`worker ${me} halted: ${g.halted}`);
    const record = await g.work(rec, ac.signal);
    if (!record) throw new Error(`worker ${me} stopped before answering`); // BullMQ retries it elsewhere
    records++;
    if (isFailure(record)) failed++;
    const answer: WorkerAnswer = { record, worker: me };
    return answer;
  }, { connection, concurrency: o.concurrency, lockDuration: o.lockMs, stalledInterval: o.lockMs, maxStalledCount: 5, autorun: true });
  bull.on('error', () => {});

  await new Promise<void>((res) => {
    if (o.signal.aborted) res();
    else o.signal.addEventListener('abort', () => res(), { once: true });
  });
  await bull.close();
  if (gen) await (await gen.catch(() => undefined))?.backend.close();
  await metrics?.stop();
  connection.disconnect();
  return { records, failed };
}
