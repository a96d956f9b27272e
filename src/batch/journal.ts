// The batch journal (SPEC §13): OUT/.gempipe-batches.json lists every batch job of the directory
// and where it stands, rewritten atomically (temp file, fsync, rename) before and after each
// remote step, so a gempipe killed at any instant resumes tracking: a job is `packed` (its
// request and record files are on disk), `uploaded` (the input file is on the server),
// `creating` (a create was sent: on restart the job is looked for by its display name before
// anything is created again, so no second job is ever made for the same records), `created`
// (the server's batch name is known), `written` (its records are on disk) or `ended` (failed,
// expired or cancelled: its records go to another job). Its files live in OUT/.gempipe-batches/.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { IdSet } from '../output/id-set.js';

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
}

export interface Journal {
  version: 1;
  /** Names this directory's jobs on the server (display names start with it). */
  token: string;
  jobs: JournalJob[];
}

export const JOURNAL_FILE = '.gempipe-batches.json';
export const JOBS_DIR = '.gempipe-batches';

export function jobFiles(dir: string, id: string) {
  const base = join(dir, JOBS_DIR, id);
  return { requests: `${base}.requests.jsonl`, records: `${base}.records.jsonl`, responses: `${base}.responses.jsonl` };
}

export function loadJournal(dir: string): Journal {
  const path = join(dir, JOURNAL_FILE);
  if (!existsSync(path)) return { version: 1, token: randomUUID().slice(0, 8), jobs: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as Journal;
}

export function saveJournal(dir: string, j: Journal): void {
  mkdirSync(join(dir, JOBS_DIR), { recursive: true });
  const path = join(dir, JOURNAL_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const b = Buffer.from(JSON.stringify(j, null, 2) + '\n');
    for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Jobs whose records are neither written nor given back. */
export function liveJobs(j: Journal): JournalJob[] {
  return j.jobs.filter((x) => x.state !== 'written' && x.state !== 'ended');
}

/** The record ids (source, line) held by live jobs: not read again while they are out. */
export async function idsInLiveJobs(dir: string, j: Journal): Promise<IdSet> {
  const ids = new IdSet();
  for (const job of liveJobs(j)) {
    const rl = createInterface({ input: createReadStream(jobFiles(dir, job.id).records), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { source: string; line: number };
      ids.add(r.source, r.line);
    }
  }
  return ids;
}
