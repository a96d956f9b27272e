// A batch job that has ended, turned into records (SPEC §13): a SUCCEEDED one's responses file
// read by key into answers and failures (responses.ts), a FAILED, EXPIRED or CANCELLED one's
// requests given back to be asked again; --dedupe duplicates (in its records file) take their
// request's answer or go where it goes. Records already on disk are left out (a stopped run).

import type { FailureRecord, InputRecord, OutputRecord, RecordError } from '../records.js';
import type { RequestSpec } from '../request/spec.js';
import { copyAnswer, type Dedupe } from '../reuse/dedupe.js';
import type { ResponseCache } from '../reuse/response-cache.js';
import type { RunStats } from '../stats.js';
import { strip, type Entry } from './jobs.js';
import { jobRecords, type JobRecord, type JournalJob } from './journal.js';
import type { RunMeter } from '../observe/run-meter.js';
import { readResponses, type ResponseVerdict, type Verdict } from './responses.js';

export interface JobEndContext {
  dir: string;
  spec: RequestSpec;
  stats: RunStats;
  /** Jobs each record has been in. */
  tries: Map<string, number>;
  onDisk: (source: string, line: number) => boolean;
  dedupe?: Dedupe;
  cache?: ResponseCache;
  /** The run's meter: the answers' tokens at the Batch API's price. */
  meter?: RunMeter;
  /** A response line's verdict when not a GenerateContentResponse's (embeddings). */
  verdictOf?: ResponseVerdict;
  /** A failure record, counted. */
  failure(rec: InputRecord, error: RecordError): FailureRecord;
  /** A request given back: asked again (undefined), or failed once it has had its tries. */
  again(entry: Entry, error: RecordError): FailureRecord | undefined;
}

/** The state's words: "expired", "failed", "cancelled". */
export const stateWords = (state: string) => state.replace(/^(JOB|BATCH)_STATE_/, '').toLowerCase().replace(/_/g, ' ');

/** The records a job's end gives, to be written before the journal says so. `responses`: its downloaded file, when it succeeded. */
export async function recordsOfEndedJob(c: JobEndContext, job: JournalJob, state: string, responses?: string): Promise<OutputRecord[]> {
  const reps = new Map<string, JobRecord>();
  const dups: JobRecord[] = [];
  for await (const r of jobRecords(c.dir, job.id)) {
    if (r.dupOf !== undefined) dups.push(r);
    else if (!c.onDisk(r.source, r.line)) reps.set(r.id, r);
    if (r.dupOf === undefined) c.tries.set(r.id, Math.max(c.tries.get(r.id) ?? 0, r.tries ?? 1));
  }
  let verdicts: Map<string, Verdict>;
  if (responses !== undefined) {
    const latencyMs = job.createdAt ? Date.now() - Date.parse(job.createdAt) : 0;
    verdicts = await readResponses(responses, reps, { spec: c.spec, stats: c.stats, latencyMs, attempts: (id) => c.tries.get(id) ?? 1, batch: job.batch!, meter: c.meter, verdictOf: c.verdictOf });
  } else {
    const why = stateWords(state);
    const status = `BATCH_${why.toUpperCase().replace(/ /g, '_')}`;
    verdicts = new Map([...reps.keys()].map((id) => [id, { again: { status, code: 0, message: `the batch job ${job.batch} ended ${why} ${c.tries.get(id) ?? 1} time(s)` } }]));
  }
  const out: OutputRecord[] = [];
  const results = new Map<string, { record: OutputRecord } | { entry: Entry }>();
  for (const [id, v] of verdicts) {
    if ('ok' in v) {
      c.cache?.store(v.ok, strip(reps.get(id)!)); // keyed by the whole record (a request line, attachments)
      results.set(id, { record: v.ok });
    } else if ('fail' in v) results.set(id, { record: c.failure(strip(reps.get(id)!), v.fail) });
    else {
      const entry: Entry = { rec: strip(reps.get(id)!), dups: [] };
      const f = c.again(entry, v.again);
      results.set(id, f ? { record: f } : { entry });
    }
  }
  for (const r of results.values()) if ('record' in r) out.push(r.record);
  // Duplicates take their request's answer, or go where it goes.
  for (const d of dups) {
    if (c.onDisk(d.source, d.line)) continue;
    const r = results.get(d.dupOf!);
    const dup = strip(d);
    if (r && 'entry' in r) r.entry.dups.push(dup);
    else if (r) out.push(copyAnswer(r.record, dup, c.stats));
    else {
      const lost = c.dedupe?.lookup(dup) ?? c.again({ rec: dup, dups: [] }, { status: 'MISSING', code: 0, message: `its request was not in batch ${job.batch}` });
      if (lost) out.push(lost);
    }
  }
  return out;
}
