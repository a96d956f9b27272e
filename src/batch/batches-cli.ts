// gempipe batches list|cancel -o DIR: the batch jobs of an output directory, from its journal,
// with each live job's state asked of the server; cancel asks the server to cancel the live ones
// (a run then gives their records to a new job, or a rerun does).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { createBatchService } from '../gemini/batch-client.js';
import { JOURNAL_FILE } from '../output/layout.js';
import { liveJobs, loadJournal } from './journal.js';

export async function batchesCommand(what: 'list' | 'cancel', dir: string, conn: { apiKey?: string; baseUrl?: string }, out: (line: string) => void): Promise<number> {
  if (!existsSync(join(dir, JOURNAL_FILE))) throw new UsageError(`${dir} holds no batch jobs (no ${JOURNAL_FILE}: it was never run with --mode batch)`);
  const journal = loadJournal(dir);
  const service = conn.apiKey ? createBatchService(conn) : undefined;
  if (what === 'list') {
    out(`batch jobs of ${dir}: ${journal.jobs.length} (${liveJobs(journal).length} live)`);
    for (const j of journal.jobs) {
      let remote = j.remoteState ?? '';
      if (service && j.batch && j.state === 'created') remote = (await service.get(j.batch).catch(() => undefined))?.state ?? 'unknown';
      out(`  ${j.id}  ${j.state.padEnd(8)} ${String(j.records).padStart(7)} request(s)  ${j.batch ?? '-'}  ${remote.replace('JOB_STATE_', '').toLowerCase()}  ${j.createdAt ?? ''}`);
    }
    if (!service) out('  (set GEMINI_API_KEY to see the live jobs\' states on the server)');
    return 0;
  }
  if (!service) throw new UsageError('`gempipe batches cancel` needs GEMINI_API_KEY (the key the jobs were submitted with)');
  let n = 0;
  for (const j of liveJobs(journal)) {
    if (j.state !== 'created' || !j.batch) continue;
    await service.cancel(j.batch);
    n++;
    out(`cancelled ${j.batch} (batch ${j.id}, ${j.records} request(s))`);
  }
  out(n === 0 ? 'no live batch job to cancel' : `asked the server to cancel ${n} batch job(s); a run of the same command puts their records into new jobs`);
  return 0;
}
