// A SUCCEEDED job's responses file (SPEC §14): "no file yet" is polled again for up to
// --batch-result-wait, never taken for a failed job (that pays twice); a download that fails or
// does not parse (or lacks requests) is tried again at the next poll, up to --max-attempts. A job
// out of time or tries is `stuck`: the run ends resumably, the journal keeping it for a rerun.

import { appendFileSync, closeSync, openSync, readSync, statSync } from 'node:fs';
import { FatalRunError } from '../errors.js';
import type { BatchService } from '../gemini/batch-client.js';
import { classifyError } from '../gemini/retry-policy.js';
import { batchJobFiles } from '../output/layout.js';
import { readLines } from '../util/scan-lines.js';
import type { Journal, JournalJob } from './journal.js';

export type Collected = { kind: 'ready'; path: string } | { kind: 'waiting' } | { kind: 'stuck'; why: string };

export interface Collector {
  /** A SUCCEEDED job's responses file (`dest`, when the job names one) on disk, or why not. */
  collect(job: JournalJob, dest: string | undefined): Promise<Collected>;
}

const durationOf = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`);

/** Why an error happened, in a few words ("HTTP 503 UNAVAILABLE: …", "connection error: ECONNRESET"). */
export function whyOf(e: unknown): string {
  const c = classifyError(e);
  return c.code ? `HTTP ${c.code} ${c.status}: ${c.message.slice(0, 200)}` : c.message.slice(0, 200);
}

/**
 * A responses file that ends with a line break (the service's may not), and whose every line is a
 * JSON object; the number of distinct keys it answers.
 */
async function checkResponses(path: string): Promise<number> {
  const size = statSync(path).size;
  if (size > 0) {
    const fd = openSync(path, 'r');
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    closeSync(fd);
    // A last line cut short then fails to parse below, instead of being skipped as a torn tail.
    if (last[0] !== 0x0a) appendFileSync(path, '\n');
  }
  let line = 0;
  const keys = new Set<string>();
  for await (const l of readLines(path)) {
    line++;
    if (l.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(l.text);
    } catch {
      value = undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`line ${line} is not a JSON object: ${l.text.slice(0, 80)}`);
    const key = (value as { key?: unknown }).key;
    if (key !== undefined) keys.add(String(key));
  }
  return keys.size;
}

export function createCollector(o: {
  service: BatchService;
  dir: string;
  say: (line: string) => void;
  /** How long a SUCCEEDED job may go without a readable responses file. */
  resultWaitMs: number;
  /** Downloads tried per job before it is stuck. */
  maxDownloads: number;
  now?: () => number;
}): Collector {
  const now = o.now ?? Date.now;
  const waitingSince = new Map<string, number>();
  const failed = new Map<string, number>();
  const name = (job: JournalJob) => `batch ${job.id} (${job.batch})`;

  return {
    async collect(job, dest) {
      const path = batchJobFiles(o.dir, job.id).responses;
      let got: void | 'not-found' = 'not-found';
      let why: string | undefined;
      if (dest !== undefined) {
        try {
          got = await o.service.download(dest, path);
        } catch (e) {
          if (classifyError(e).kind === 'fatal') throw e; // a key the service refuses: the whole run
          why = `could not be downloaded (${whyOf(e)})`;
        }
        if (why === undefined && got !== 'not-found') {
          try {
            const answered = await checkResponses(path);
            // A body cut at a line break parses: fewer keys than requests is a download to try
            // again before the missing ones are asked again (paid again) in a new job.
            const n = failed.get(job.id) ?? 0;
            if (answered < job.records && n + 1 < o.maxDownloads) why = `is incomplete (${answered} of ${job.records} requests)`;
          } catch (e) {
            why = `does not parse (${(e as Error).message})`;
          }
        }
      }
      if (why !== undefined) {
        const n = (failed.get(job.id) ?? 0) + 1;
        failed.set(job.id, n);
        const what = `its responses file ${dest} ${why}, ${n} time(s)`;
        if (n >= o.maxDownloads) return { kind: 'stuck', why: what };
        o.say(`gempipe: ${name(job)}: ${what}; trying again at the next poll (up to ${o.maxDownloads} times: --max-attempts)`);
        return { kind: 'waiting' };
      }
      if (got !== 'not-found') {
        waitingSince.delete(job.id);
        return { kind: 'ready', path };
      }
      // SUCCEEDED, but no responses file to read yet: polled again, never submitted again.
      const t = now();
      const since = waitingSince.get(job.id);
      if (since === undefined) {
        waitingSince.set(job.id, t);
        o.say(`gempipe: ${name(job)} reads succeeded but its responses file ${dest === undefined ? 'is not named yet' : `${dest} cannot be read yet`}; polling again for up to ${durationOf(o.resultWaitMs)} (--batch-result-wait), never submitting it again`);
      } else if (t - since >= o.resultWaitMs) {
        return { kind: 'stuck', why: `it has read SUCCEEDED for ${durationOf(t - since)} without a readable responses file (--batch-result-wait ${durationOf(o.resultWaitMs)})` };
      }
      return { kind: 'waiting' };
    },
  };
}

/** Why a job the server answers 404 for is kept, not redone (it may have succeeded elsewhere), and the way past it. */
export function notKnownWhy(job: JournalJob, endpoint: string | undefined, dir: string): string {
  const elsewhere = job.endpoint !== undefined && job.endpoint !== endpoint;
  return `${endpoint ?? 'the server'} does not know it (404): ${elsewhere ? `it was created on ${job.endpoint}; rerun with --base-url ${job.endpoint}` : 'it was deleted, or created with another project\'s key'} (\`gempipe batches cancel -o ${dir}\` gives its records up to a new job)`;
}

/** The run's end when jobs could not be collected: resumable, each job named with why. */
export function notCollected(stuck: ReadonlyMap<string, string>, journal: Journal, dir: string): FatalRunError {
  const which = [...stuck].map(([id, why]) => `batch ${id} (${journal.jobs.find((j) => j.id === id)?.batch}): ${why}`).join('; ');
  return new FatalRunError('BATCH_NOT_COLLECTED', `${stuck.size} batch job(s) could not be collected; the journal keeps them and none is submitted again — ${which}. Rerun the same command to collect them (\`gempipe batches list -o ${dir}\` shows them)`);
}
