// A directory's batch jobs on their way to the server: packed into files, uploaded, created —
// each step journalled before and after (journal.ts), so a run killed at any instant goes on
// from where the journal says and never creates a second job for the same records. A request
// is an Entry: its record and the --dedupe duplicates that take its answer (in the job's records
// file, not in its requests file: they cost nothing).

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BatchService, BatchState } from '../gemini/batch-client.js';
import { FatalRunError } from '../errors.js';
import { classifyError } from '../gemini/retry-policy.js';
import { appendSynced, writeFileSynced } from '../output/atomic.js';
import { batchJobFiles } from '../output/layout.js';
import type { InputRecord } from '../records.js';
import { whyOf } from './collect.js';
import { jobRecords, removeJobFiles, saveJournal, type JobRecord, type Journal, type JournalJob } from './journal.js';

export interface Entry {
  rec: InputRecord;
  dups: InputRecord[];
}

export interface JobKeeper {
  /** Packs entries into a new job and takes it as far as the server lets it. */
  submit(entries: readonly Entry[]): Promise<JournalJob>;
  /** Takes a job through upload and create, from wherever the journal says it is. */
  advance(job: JournalJob): Promise<void>;
  /** A duplicate of `repId` joins a job already packed: its answer comes with the job's. */
  addDuplicate(job: JournalJob, rec: InputRecord, repId: string): void;
  /** A created job's state on the server, said when it (or its counts) changed: `news`. */
  poll(job: JournalJob): Promise<BatchState & { news: boolean }>;
  /** Jobs a record has been in (this run and before). */
  readonly tries: Map<string, number>;
  /** Jobs created on the server by this run, and the requests they hold (the summary's `batch`). */
  readonly created: { jobs: number; requests: number };
  save(): void;
  /** The journal says the job is done with (its records written, or given to another job), then its files go. */
  close(job: JournalJob, state: 'written' | 'ended', remoteState: string): void;
}

const line = (r: JobRecord) => JSON.stringify(r) + '\n';

/** A records file's line as the record it was read from. */
export const strip = ({ tries: _t, dupOf: _d, ...rec }: JobRecord): InputRecord => rec;

/** A job's requests, each with its duplicates, as its records file lists them. */
export async function entriesOf(dir: string, job: JournalJob): Promise<Entry[]> {
  const entries = new Map<string, Entry>();
  for await (const r of jobRecords(dir, job.id)) {
    const e = r.dupOf !== undefined ? entries.get(r.dupOf) : undefined;
    if (e) e.dups.push(strip(r));
    else entries.set(r.id, { rec: strip(r), dups: [] });
  }
  return [...entries.values()];
}

export function createJobKeeper(o: {
  service: BatchService;
  dir: string;
  journal: Journal;
  model: string;
  /** A record's REST GenerateContentRequest: its prompt in the SDK's template (gemini/client.ts restRequestOf), or its own body (a request line, --context); `rec` for what else it asks (an embedding's title). */
  requestOf: (prompt: string, rec: InputRecord) => string;
  say: (line: string) => void;
  /** The jobs are created on the in-process emulator of an --emulator run. */
  emulated?: boolean;
  /** A remote step (upload, create, state) that fails for now is tried again at the next poll, this many times in a row at most. */
  maxTries: number;
}): JobKeeper {
  const { service, dir, journal } = o;
  const tries = new Map<string, number>();
  const made = { jobs: 0, requests: 0 };
  const save = () => saveJournal(dir, journal);
  const failing = new Map<string, number>();

  /**
   * A remote step that failed for now (HTTP 408/429/5xx, a connection error, a timeout): said,
   * and tried again at the next poll — the journal is where it was — up to maxTries in a row;
   * then the run ends resumably. A refused key (fatal) or a local file error ends it at once.
   */
  function failedForNow(job: JournalJob, what: string, e: unknown): void {
    if (classifyError(e).kind !== 'retryable' || typeof (e as { path?: unknown }).path === 'string') throw e;
    const n = (failing.get(job.id) ?? 0) + 1;
    failing.set(job.id, n);
    const name = `batch ${job.id}${job.batch ? ` (${job.batch})` : ''}`;
    if (n >= o.maxTries) throw new FatalRunError('BATCH_UNREACHABLE', `${name}: ${what} failed ${n} times in a row (last: ${whyOf(e)}); the journal keeps it: rerun the same command to go on from there`);
    o.say(`gempipe: ${name}: ${what} failed (${whyOf(e)}); trying again at the next poll (${n} of ${o.maxTries} in a row: --max-attempts)`);
  }

  async function advance(job: JournalJob): Promise<void> {
    try {
      await step(job);
      failing.delete(job.id);
    } catch (e) {
      failedForNow(job, job.state === 'packed' ? 'uploading its requests' : 'creating it on the server', e);
    }
  }

  async function step(job: JournalJob): Promise<void> {
    const f = batchJobFiles(dir, job.id);
    if (job.state === 'packed') {
      job.file = await service.upload(f.requests, job.displayName);
      job.state = 'uploaded';
      save();
    }
    if (job.state === 'creating') {
      // A create may have reached the server before the process died: look before creating.
      for await (const b of service.list()) {
        if (b.displayName === job.displayName && b.name) {
          created(job, b.name, b.createTime);
          o.say(`gempipe: batch ${job.id}: found ${job.batch} on the server, created before a stop`);
          break;
        }
      }
      if (job.state === 'creating') job.state = 'uploaded';
    }
    if (job.state === 'uploaded') {
      job.state = 'creating';
      save();
      try {
        const b = await service.create(job.model, job.file!, job.displayName);
        created(job, b.name, b.createTime);
      } catch (e) {
        // The Batch API's own limits (jobs at once, tokens enqueued) answer 429: the job waits for
        // the next poll, uploaded, and is created then.
        const c = classifyError(e);
        if (c.code !== 429 || c.kind === 'fatal') throw e;
        job.state = 'uploaded';
        save();
        o.say(`gempipe: batch ${job.id}: the server takes no new batch job for now (${c.message}); trying again at the next poll`);
        return;
      }
      o.say(`gempipe: batch ${job.id}: submitted ${job.records} request(s) as ${job.batch}`);
    }
  }

  function created(job: JournalJob, name: string, createTime?: string): void {
    job.batch = name;
    job.createdAt = createTime ?? new Date().toISOString();
    job.state = 'created';
    job.endpoint ??= service.endpoint;
    save();
    made.jobs++;
    made.requests += job.records;
  }

  const seen = new Map<string, string>();
  const age = (j: JournalJob) => (j.createdAt ? `${Math.round((Date.now() - Date.parse(j.createdAt)) / 1000)} s old` : 'not created yet');

  return {
    tries,
    created: made,
    save,
    close(job, state, remoteState) {
      job.state = state;
      job.remoteState = remoteState;
      job.endedAt = new Date().toISOString();
      save();
      removeJobFiles(dir, job.id);
    },
    advance,
    async poll(job) {
      let st: BatchState;
      try {
        st = await service.get(job.batch!, { counts: true });
        failing.delete(job.id);
      } catch (e) {
        failedForNow(job, 'reading its state', e);
        return { state: 'JOB_STATE_UNREAD', news: false };
      }
      const shown = `${st.state}${st.counts ?? ''}`;
      const news = seen.get(job.id) !== shown;
      if (news) {
        seen.set(job.id, shown);
        o.say(`gempipe: batch ${job.id} (${job.batch}): ${st.state.replace('JOB_STATE_', '').toLowerCase()}, ${job.records} request(s)${st.counts ? ` (${st.counts})` : ''}, ${age(job)}`);
      }
      return { ...st, news };
    },
    async submit(entries) {
      const id = String(journal.jobs.length + 1).padStart(6, '0');
      for (const e of entries) tries.set(e.rec.id, (tries.get(e.rec.id) ?? 0) + 1);
      const f = batchJobFiles(dir, id);
      mkdirSync(dirname(f.requests), { recursive: true });
      writeFileSynced(f.requests, entries.map((e) => `{"key":${JSON.stringify(e.rec.id)},"request":${o.requestOf(e.rec.prompt, e.rec)}}\n`).join(''));
      writeFileSynced(f.records, entries.map((e) => line({ ...e.rec, tries: tries.get(e.rec.id) }) + e.dups.map((d) => line({ ...d, dupOf: e.rec.id })).join('')).join(''));
      const job: JournalJob = { id, state: 'packed', records: entries.length, displayName: `gempipe-${journal.token}-${id}`, model: o.model, endpoint: service.endpoint, ...(o.emulated ? { emulated: true } : {}) };
      journal.jobs.push(job);
      save();
      await advance(job);
      return job;
    },
    addDuplicate(job, rec, repId) {
      // Appended whole and fsynced; a line torn by a crash is cut off when the job is resumed.
      appendSynced(batchJobFiles(dir, job.id).records, line({ ...rec, dupOf: repId }));
    },
  };
}
