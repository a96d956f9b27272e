// The coordinator's stage (SPEC §12): where a run calls Gemini, the coordinator puts each record
// on a BullMQ queue and waits for a worker's answer, so the rest of the run — the reader with
// resume and the content check, the lock, the writer as the only writer of the shards — stays
// what it is. It is the parallel stage with `--max-queued` slots: at most that many records are
// queued or being answered (back-pressure, not a growing queue). A job's id is the record's id,
// so adding one that is already queued, running or answered adds nothing: a coordinator started
// again picks up the answers it had not written and re-sends nothing. A job that vanished
// (Redis restarted without persistence) is found missing and added again. Each record written is
// removed from the queue after it is on disk; at start, answered jobs whose records are on disk
// already (written just before a crash) are removed. The queue itself is record-queue.ts.

import type { Duplex } from 'node:stream';
import { UsageError } from '../errors.js';
import { failureOf, invalidFailureOf, isFailure, type FailureRecord, type InputRecord, type OutputRecord } from '../records.js';
import type { Work } from '../reuse/reuse.js';
import { countFailure, type RunStats } from '../stats.js';
import { createParallelStage } from '../stages/parallel.js';
import { sleep } from '../util/sleep.js';
import { jobIdOf, recordIdOf, settingsFingerprint, type QueueSettings } from './queue-names.js';
import type { JobEnd, RecordQueue } from './record-queue.js';

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
}

function parseAnswer(v: unknown): WorkerAnswer | undefined {
  const a = (typeof v === 'string' ? JSON.parse(v) : v) as WorkerAnswer | undefined;
  return a && typeof a === 'object' && a.record ? a : undefined;
}

export async function createRemoteStage(o: {
  queue: RecordQueue;
  /** The queue's name and where it is, for messages. */
  describe: string;
  maxQueued: number;
  ordered: boolean;
  settings: QueueSettings;
  /** A record already on disk (resume state). */
  done: (source: string, line: number) => boolean;
  stats: RunStats;
  signal?: AbortSignal;
  say: (line: string) => void;
  /** Answers that cost nothing first (--dedupe, --cache: reuse/reuse.ts): such a record is never queued. */
  wrap?: (work: Work) => Work;
  /** How long a job may be silent before it is looked up (a missed event, a vanished job). @default 2000 */
  checkEveryMs?: number;
}): Promise<RemoteStage> {
  const { queue } = o;
  // The settings the workers ask with: refused if the queue still holds another job's records.
  const fp = settingsFingerprint(o.settings);
  const old = await queue.settings();
  if (old.stored) {
    const prev = JSON.parse(old.stored) as { fp?: string };
    if (prev.fp !== fp && old.pending > 0) {
      throw new UsageError(`The queue ${o.describe} holds ${old.pending} record(s) of a job asked with other settings (model, system instruction, config or schema): let it finish, or give another --queue`);
    }
  }
  await queue.setSettings(JSON.stringify({ fp, settings: o.settings, at: new Date().toISOString() }));

  // Answers whose records reached the disk before a crash: their jobs go now.
  let cleaned = 0;
  for await (const ids of queue.answered()) {
    for (const jobId of ids) {
      const id = recordIdOf(jobId);
      const cut = id.lastIndexOf(':');
      if (cut > 0 && o.done(id.slice(0, cut), Number(id.slice(cut + 1)))) {
        await queue.remove(jobId).catch(() => {});
        cleaned++;
      }
    }
  }
  if (cleaned > 0) o.say(`gempipe: coordinator: removed ${cleaned} answered job(s) whose records were already on disk`);

  // One listener for every job's end, instead of one per job.
  const waiting = new Map<string, (end: JobEnd) => void>();
  // (An answer that cannot be read is no end: the job is looked up again after a while.)
  queue.onEnded((id, end) => {
    if ('failed' in end || parseAnswer(end.value)) waiting.get(id)?.(end);
  });

  const tally: Record<string, WorkerTally> = {};

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
      o.stats.tokensCached += r.usage?.cachedTokens ?? 0;
    }
    o.stats.attempts += r.attempts;
    return r;
  }

  function workerFailed(rec: InputRecord, reason: string): FailureRecord {
    countFailure(o.stats, 'WORKER_FAILED');
    return failureOf(rec, 0, { status: 'WORKER_FAILED', code: 0, message: `no worker could answer it: ${reason}` });
  }

  /** The record of an ended job (undefined: an answer that cannot be read; keep waiting). */
  function ended(rec: InputRecord, end: JobEnd): OutputRecord | undefined {
    if ('failed' in end) return workerFailed(rec, end.failed);
    const a = parseAnswer(end.value);
    return a ? account(a) : undefined;
  }

  async function work(rec: InputRecord, signal: AbortSignal): Promise<OutputRecord | null> {
    if (rec.invalid) {
      // A bad line is a failure here; no worker is asked.
      countFailure(o.stats, 'INVALID_INPUT');
      return invalidFailureOf(rec);
    }
    const id = jobIdOf(rec.id);
    let settle!: (end: JobEnd) => void;
    const end = new Promise<JobEnd>((res) => (settle = res));
    waiting.set(id, settle);
    try {
      await queue.add(id, { rec, fp });
      o.stats.inFlight++;
      try {
        for (;;) {
          const tick = sleep(o.checkEveryMs ?? 2000, signal).then(() => undefined, () => 'stop' as const);
          const r = await Promise.race([end, tick]);
          if (r === 'stop') return null; // abandoned: the job stays queued; a rerun picks its answer up
          if (r !== undefined) {
            const out = ended(rec, r);
            if (out) return out;
            continue;
          }
          // No event for a while: see where the job is (an answer given before this listened,
          // or a job that vanished with a Redis restart).
          let found;
          try {
            found = await queue.find(id);
          } catch {
            continue; // Redis is away: wait
          }
          if (found === undefined) await queue.add(id, { rec, fp }).catch(() => {});
          else if (found !== 'pending') {
            const out = ended(rec, found);
            if (out) return out;
          }
        }
      } finally {
        o.stats.inFlight--;
      }
    } finally {
      waiting.delete(id);
    }
  }

  const stage = createParallelStage<InputRecord, OutputRecord>({ work: o.wrap ? o.wrap(work) : work, concurrency: o.maxQueued, ordered: o.ordered, signal: o.signal, timing: o.stats });
  return {
    stage,
    written(records) {
      for (const r of records) void queue.remove(jobIdOf(r.id)).catch(() => {});
    },
    workers: () => tally,
  };
}
