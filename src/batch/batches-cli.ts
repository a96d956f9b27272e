// gempipe batches list|cancel -o DIR: the batch jobs of an output directory, from its journal,
// each asked of the endpoint it was created on (the journal keeps it; --base-url overrides),
// states read a page of the server's list at a time (nextPageToken) with a get for any not
// listed. A job is live while the server runs it; an unknown state says why. cancel cancels the
// live ones and gives up those the server does not know (a run then puts their records in new jobs).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { BATCH_ENDED, createBatchService, DEFAULT_BASE_URL, type BatchService } from '../gemini/batch-client.js';
import { lockOutputDir } from '../output/dir-lock.js';
import { JOURNAL_FILE } from '../output/layout.js';
import { whyOf } from './collect.js';
import { stateWords } from './job-end.js';
import { liveJobs, loadJournal, removeJobFiles, saveJournal, type JournalJob } from './journal.js';

export interface BatchesConn {
  apiKey?: string;
  /** --base-url given to the command: asked for every job. */
  baseUrl?: string;
  /** GEMINI_BASE_URL: for jobs whose journal entry names no endpoint. */
  envBaseUrl?: string;
}

/** A job's state on its server: JOB_STATE_…, or why it is not known. */
type Remote = { state: string } | { unknown: string };

/** `out` returns false once stdout is closed (`| head`): the command then ends quietly. */
export async function batchesCommand(what: 'list' | 'cancel', dir: string, conn: BatchesConn, out: (line: string) => boolean): Promise<number> {
  if (!existsSync(join(dir, JOURNAL_FILE))) throw new UsageError(`${dir} holds no batch jobs (no ${JOURNAL_FILE}: it was never run with --mode batch)`);
  const journal = loadJournal(dir);
  const services = new Map<string, BatchService>();
  const endpointOf = (j: JournalJob) => (conn.baseUrl ?? j.endpoint ?? conn.envBaseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, '');
  const serviceOf = (endpoint: string) => {
    let s = services.get(endpoint);
    if (!s) services.set(endpoint, (s = createBatchService({ apiKey: conn.apiKey, baseUrl: endpoint })));
    return s;
  };
  const asked = liveJobs(journal).filter((j) => j.state === 'created' && j.batch);
  const remote = conn.apiKey ? await statesOf(asked, endpointOf, serviceOf, conn.baseUrl !== undefined) : new Map<string, Remote>();

  if (what === 'list') {
    const tally = { live: 0, toCollect: 0, unknown: 0, notSubmitted: 0 };
    for (const j of liveJobs(journal)) {
      const r = remote.get(j.id);
      if (j.state !== 'created') tally.notSubmitted++;
      else if (!r || 'unknown' in r) tally.unknown++;
      else if (BATCH_ENDED.has(r.state)) tally.toCollect++;
      else tally.live++;
    }
    const parts = [`${tally.live} live on the server`, tally.toCollect ? `${tally.toCollect} ended there, waiting for a run of the same command to write or redo them` : '',
      tally.unknown ? `${tally.unknown} in a state not known` : '', tally.notSubmitted ? `${tally.notSubmitted} not submitted yet` : ''].filter(Boolean);
    if (!out(`batch jobs of ${dir}: ${journal.jobs.length} (${parts.join(', ')})`)) return 0;
    for (const j of journal.jobs) {
      const r = remote.get(j.id);
      const state = r ? ('unknown' in r ? `unknown (${r.unknown})` : stateWords(r.state)) : j.state === 'created' && !conn.apiKey ? 'unknown (no GEMINI_API_KEY)' : stateWords(j.remoteState ?? '');
      if (!out(`  ${j.id}  ${j.state.padEnd(8)} ${String(j.records).padStart(7)} request(s)  ${j.batch ?? '-'}  ${state}  ${j.createdAt ?? ''}`)) return 0;
    }
    if (!conn.apiKey && asked.length > 0) out('  (set GEMINI_API_KEY to see the live jobs\' states on the server)');
    return 0;
  }
  if (!conn.apiKey) throw new UsageError('`gempipe batches cancel` needs GEMINI_API_KEY (the key the jobs were submitted with)');
  let cancelled = 0;
  const gone: JournalJob[] = [];
  for (const j of asked) {
    const r = remote.get(j.id);
    if (r && 'state' in r && r.state === 'JOB_STATE_NOT_FOUND') {
      gone.push(j);
      continue;
    }
    if (r && 'state' in r && BATCH_ENDED.has(r.state)) {
      out(`${j.batch} (batch ${j.id}) has ${stateWords(r.state)} already: a run of the same command ${r.state === 'JOB_STATE_SUCCEEDED' ? 'writes its records' : 'puts its records in a new job'}`);
      continue;
    }
    await serviceOf(endpointOf(j)).cancel(j.batch!);
    cancelled++;
    out(`cancelled ${j.batch} (batch ${j.id}, ${j.records} request(s))`);
  }
  if (gone.length > 0) {
    // The journal is the run's: changed only under the directory's lock.
    const lock = lockOutputDir(dir);
    try {
      const fresh = loadJournal(dir);
      for (const g of gone) {
        const j = fresh.jobs.find((x) => x.id === g.id && x.state === 'created');
        if (!j) continue;
        Object.assign(j, { state: 'ended', remoteState: 'JOB_STATE_NOT_FOUND', endedAt: new Date().toISOString() });
        saveJournal(dir, fresh);
        removeJobFiles(dir, j.id);
        out(`gave up ${j.batch} (batch ${j.id}): ${endpointOf(j)} does not know it; the next run puts its ${j.records} request(s) in a new job`);
      }
    } finally {
      lock.release();
    }
  }
  out(cancelled + gone.length === 0 ? 'no live batch job to cancel' : `asked the server to cancel ${cancelled} batch job(s); a run of the same command puts their records into new jobs`);
  return 0;
}

/** Each job's state on its endpoint: a page of the server's list at a time, then a get for any the list did not show. */
async function statesOf(jobs: JournalJob[], endpointOf: (j: JournalJob) => string, serviceOf: (e: string) => BatchService, told: boolean): Promise<Map<string, Remote>> {
  const states = new Map<string, Remote>();
  const byEndpoint = new Map<string, JournalJob[]>();
  for (const j of jobs) {
    if (j.emulated && !told) states.set(j.id, { unknown: 'created on the in-process emulator of an --emulator run, gone with it' });
    else byEndpoint.set(endpointOf(j), [...(byEndpoint.get(endpointOf(j)) ?? []), j]);
  }
  for (const [endpoint, list] of byEndpoint) {
    const service = serviceOf(endpoint);
    const wanted = new Map(list.map((j) => [j.batch!, j]));
    try {
      for await (const b of service.list()) {
        const j = b.name !== undefined ? wanted.get(b.name) : undefined;
        if (j && b.state) states.set(j.id, { state: String(b.state) });
        if (j) wanted.delete(b.name!);
        if (wanted.size === 0) break;
      }
    } catch {
      /* each job's get below says why */
    }
    for (const j of wanted.values()) {
      if (states.has(j.id)) continue;
      try {
        states.set(j.id, { state: (await service.get(j.batch!)).state });
      } catch (e) {
        const why = whyOf(e);
        states.set(j.id, { unknown: why.startsWith('HTTP ') ? `${endpoint} answered ${why}` : `cannot reach ${endpoint}: ${why.replace(/^connection error: /, '')}` });
      }
    }
  }
  return states;
}
