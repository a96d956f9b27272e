// The batch journal (SPEC §13): OUT/.gempipe-batches.json lists every batch job of the directory
// and where it stands, rewritten atomically before and after each remote step, so a gempipe killed
// at any instant resumes tracking. A job is `packed` (its request and record files are on disk),
// `uploaded` (the input file is on the server), `creating` (a create was sent: on restart the job
// is looked for by its display name first, so no second job is made for the same records),
// `created` (the server's batch name is known), `written` (its records are on disk) or `ended`
// (failed, expired or cancelled: its records went to another job). A job's files are removed
// once the journal says `written` or `ended` (journal first: a crash between leaves files a
// later run removes), and the folder with the last of them.

import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { InputRecord } from '../records.js';
import { writeJsonAtomic } from '../output/atomic.js';
import { IdSet } from '../output/id-set.js';
import { batchJobFiles, JOBS_DIR, JOURNAL_FILE } from '../output/layout.js';
import { cutTornTail, readJsonl } from '../output/record-files.js';

export type JobState = 'packed' | 'uploaded' | 'creating' | 'created' | 'written' | 'ended';

export interface JournalJob {
  id: string;
  state: JobState;
  records: number;
  displayName: string;
  model: string;
  /** The uploaded input file (files/…). */
  file?: string;
  /** The server's batch (batches/…). */
  batch?: string;
  createdAt?: string;
  endedAt?: string;
  /** The server's last state (JOB_STATE_…). */
  remoteState?: string;
  /** The base URL the job was created on (never the key): `gempipe batches` asks there. */
  endpoint?: string;
  /** Created on the in-process emulator of an --emulator run, gone with that run. */
  emulated?: boolean;
}

export interface Journal {
  version: 1;
  /** Names this directory's jobs on the server (display names start with it). */
  token: string;
  jobs: JournalJob[];
}

/**
 * A line of a job's records file: the record, how many jobs it has been in, and — for a
 * --dedupe duplicate of a record of the same job — that record's id (it is not in the requests
 * file: it takes its representative's answer).
 */
export type JobRecord = InputRecord & { tries?: number; dupOf?: string };

export function loadJournal(dir: string): Journal {
  const path = join(dir, JOURNAL_FILE);
  if (!existsSync(path)) return { version: 1, token: randomUUID().slice(0, 8), jobs: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as Journal;
}

export function saveJournal(dir: string, j: Journal): void {
  writeJsonAtomic(join(dir, JOURNAL_FILE), j);
}

/** Removes a job's files (the journal says `written` or `ended` already), and the folder once empty. */
export function removeJobFiles(dir: string, id: string): void {
  for (const f of Object.values(batchJobFiles(dir, id))) rmSync(f, { force: true });
  try {
    if (readdirSync(join(dir, JOBS_DIR)).length === 0) rmdirSync(join(dir, JOBS_DIR));
  } catch (e) {
    if (!['ENOENT', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
}

/** The files of jobs the journal says are done with (a crash came between the journal and the removal). */
export function removeEndedJobFiles(dir: string, j: Journal): void {
  if (!existsSync(join(dir, JOBS_DIR))) return;
  for (const job of j.jobs) if (job.state === 'written' || job.state === 'ended') removeJobFiles(dir, job.id);
}

/** Jobs whose records are neither written nor given back. */
export function liveJobs(j: Journal): JournalJob[] {
  return j.jobs.filter((x) => x.state !== 'written' && x.state !== 'ended');
}

/** The records a job holds, as its records file lists them (a torn last line is not one). */
export async function* jobRecords(dir: string, id: string): AsyncGenerator<JobRecord> {
  for await (const { value } of readJsonl<JobRecord>(batchJobFiles(dir, id).records)) yield value;
}

/** What the live jobs of a directory hold, read once at start (a records file's torn tail cut first). */
export interface LiveRecords {
  /** Every record (source, line) in a live job: not read again while the job is out. */
  ids: IdSet;
  /** The request (record id and job) each request hash of a live job stands for: --dedupe's duplicates join it. */
  requests: Map<string, { job: JournalJob; id: string }>;
  /** Jobs each record has been in. */
  tries: Map<string, number>;
}

export async function readLiveJobs(dir: string, j: Journal): Promise<LiveRecords> {
  const live: LiveRecords = { ids: new IdSet(), requests: new Map(), tries: new Map() };
  for (const job of liveJobs(j)) {
    await cutTornTail(batchJobFiles(dir, job.id).records);
    for await (const r of jobRecords(dir, job.id)) {
      live.ids.add(r.source, r.line);
      if (r.dupOf !== undefined) continue;
      live.tries.set(r.id, Math.max(live.tries.get(r.id) ?? 0, r.tries ?? 1));
      if (r.hash !== undefined) live.requests.set(r.hash, { job, id: r.id });
    }
  }
  return live;
}
