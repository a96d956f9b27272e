// --mode batch (SPEC §13): the records still to do are packed into JSONL input files, uploaded
// (files.upload) and submitted as Gemini batch jobs (batches.create, half the price), tracked
// until they end (batches.get, polling with backoff), and their responses file (files.download)
// is turned into the same records an online run writes, plus "mode": "batch". The journal
// (journal.ts) is written before and after every remote step, so a run killed at any instant
// resumes tracking, never submits a second job for records in a live one, and never loses one
// that was created. A job that fails, expires or is cancelled, and a request that failed inside
// a job with a retryable error, go into a new job, up to --max-attempts times.

import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { GoogleGenAI } from '@google/genai';
import { toResult } from '../gemini/client.js';
import { classifyError, classifyStatus } from '../gemini/retry-policy.js';
import type { Options } from '../cli/options.js';
import { failureOf, invalidFailureOf, successOf, type FailureRecord, type InputRecord, type OutputRecord, type RecordError } from '../records.js';
import { unusable } from '../stages/generate.js';
import { countFailure, type RunStats } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { jobRecords, liveJobs, saveJournal, type Journal, type JournalJob } from './journal.js';
import { writeFileSynced } from '../output/atomic.js';
import { batchJobFiles as jobFiles } from '../output/layout.js';
import { readJsonl } from '../output/record-files.js';

const TERMINAL = new Set(['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', 'JOB_STATE_NOT_FOUND']);

export interface BatchModeIO {
  o: Options;
  ai: GoogleGenAI;
  dir: string;
  journal: Journal;
  /** Records to do (done and in-a-live-job lines skipped). */
  reader: Readable;
  writer: Writable;
  /** Whether a record is on disk already (a crash while writing a job's results). */
  onDisk: (source: string, line: number) => boolean;
  checkJson?: (v: unknown) => string | undefined;
  /** A prompt's REST GenerateContentRequest, built by the SDK (gemini/client.ts restRequestOf). */
  requestOf: (prompt: string) => string;
  /** Where the API is, for reading a job's counts (batchStats, which the SDK's BatchJob omits). */
  conn?: { apiKey?: string; baseUrl?: string };
  /** Sends records online (--fallback online, --deadline): the records to write. */
  online?: (records: InputRecord[]) => Promise<OutputRecord[]>;
  stats: RunStats;
  say: (line: string) => void;
  signal: AbortSignal;
}

export interface BatchMode {
  /** Resolves when every record is written (or, with --detach, when every job is submitted). */
  run(): Promise<{ detached: boolean; jobs: number }>;
  /** The writer's onWritten. */
  written(records: readonly OutputRecord[]): void;
}

export function createBatchMode(io: BatchModeIO): BatchMode {
  const { o, ai, dir, journal, stats, say } = io;
  const maxPerJob = o.batchMaxRequests;
  const tries = new Map<string, number>();
  const requeue: InputRecord[] = [];
  const onlineQueue: InputRecord[] = [];
  const deadlineAt = o.deadlineMs !== undefined ? Date.now() + o.deadlineMs : undefined;
  let pastDeadline = false;
  let waitingFor = new Set<string>();
  let flushed: (() => void) | undefined;

  const save = () => saveJournal(dir, journal);
  const age = (j: JournalJob) => (j.createdAt ? `${Math.round((Date.now() - Date.parse(j.createdAt)) / 1000)} s old` : 'not created yet');

  function failure(rec: InputRecord, error: RecordError): FailureRecord {
    countFailure(stats, error.status);
    return failureOf(rec, tries.get(rec.id) ?? 1, error, { mode: 'batch' });
  }

  /** A request to be asked again in a new job, or a failure once it has had its tries. */
  function again(rec: InputRecord, error: RecordError): FailureRecord | undefined {
    if (o.fallback === 'online' || pastDeadline) {
      onlineQueue.push(rec);
      return undefined;
    }
    if ((tries.get(rec.id) ?? 1) >= o.maxAttempts) return failure(rec, error);
    requeue.push(rec);
    return undefined;
  }

  // A writer that fails (a full disk past --write-retry) ends the run with its error, which names
  // the file; without this listener it would be an unhandled 'error' and a stack trace.
  let writerError: Error | undefined;
  let onWriterError: ((e: Error) => void) | undefined;
  io.writer.on('error', (e: Error) => {
    writerError = e;
    onWriterError?.(e);
  });

  async function put(records: OutputRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (writerError) throw writerError;
    const done = new Promise<void>((res, rej) => {
      flushed = res;
      onWriterError = rej;
    });
    waitingFor = new Set(records.map((r) => r.id));
    for (const r of records) {
      if (!io.writer.write(r)) await Promise.race([once(io.writer, 'drain'), done]);
    }
    await done; // on disk (the writer's onWritten) before the journal says so
    onWriterError = undefined;
  }

  async function submit(records: InputRecord[]): Promise<void> {
    const id = String(journal.jobs.length + 1).padStart(6, '0');
    for (const r of records) tries.set(r.id, (tries.get(r.id) ?? 0) + 1);
    const f = jobFiles(dir, id);
    mkdirSync(dirname(f.requests), { recursive: true });
    writeFileSynced(f.requests, records.map((r) => `{"key":${JSON.stringify(r.id)},"request":${io.requestOf(r.prompt)}}\n`).join(''));
    writeFileSynced(f.records, records.map((r) => JSON.stringify({ ...r, tries: tries.get(r.id) }) + '\n').join(''));
    const job: JournalJob = { id, state: 'packed', records: records.length, displayName: `gempipe-${journal.token}-${id}`, model: o.model };
    journal.jobs.push(job);
    save();
    await advance(job);
  }

  /** Takes a job through upload and create, from wherever the journal says it is. */
  async function advance(job: JournalJob): Promise<void> {
    const f = jobFiles(dir, job.id);
    if (job.state === 'packed') {
      const file = await ai.files.upload({ file: f.requests, config: { mimeType: 'application/jsonl', displayName: job.displayName } });
      job.file = file.name;
      job.state = 'uploaded';
      save();
    }
    if (job.state === 'creating') {
      // A create may have reached the server before the process died: look before creating.
      const pager = await ai.batches.list({ config: { pageSize: 100 } });
      for await (const b of pager) {
        if (b.displayName === job.displayName && b.name) {
          job.batch = b.name;
          job.createdAt = b.createTime ?? new Date().toISOString();
          job.state = 'created';
          save();
          say(`gempipe: batch ${job.id}: found ${job.batch} on the server, created before a stop`);
          break;
        }
      }
      if (job.state === 'creating') job.state = 'uploaded';
    }
    if (job.state === 'uploaded') {
      job.state = 'creating';
      save();
      let b;
      try {
        b = await ai.batches.create({ model: job.model, src: job.file!, config: { displayName: job.displayName } });
      } catch (e) {
        // The Batch API's own limits (jobs at once, tokens enqueued) answer 429: the job waits for
        // the next poll, uploaded, and is created then.
        const c = classifyError(e);
        if (c.code !== 429 || c.kind === 'fatal') throw e;
        job.state = 'uploaded';
        save();
        say(`gempipe: batch ${job.id}: the server takes no new batch job for now (${c.message}); trying again at the next poll`);
        return;
      }
      job.batch = b.name;
      job.createdAt = b.createTime ?? new Date().toISOString();
      job.state = 'created';
      save();
      say(`gempipe: batch ${job.id}: submitted ${job.records} request(s) as ${job.batch}`);
    }
  }

  /** A job that ended: its records written, or given back to be done again. */
  async function finish(job: JournalJob, state: string, dest?: string): Promise<void> {
    const f = jobFiles(dir, job.id);
    const records = new Map<string, InputRecord & { tries?: number }>();
    for await (const r of jobRecords(dir, job.id)) {
      records.set(r.id, r);
      tries.set(r.id, Math.max(tries.get(r.id) ?? 0, r.tries ?? 1));
    }
    const out: OutputRecord[] = [];
    if (state === 'JOB_STATE_SUCCEEDED' && dest) {
      await ai.files.download({ file: dest, downloadPath: f.responses });
      const latencyMs = job.createdAt ? Date.now() - Date.parse(job.createdAt) : 0;
      // A line is {"key", "response"} or {"key", "error"|"status": google.rpc.Status} (the docs call
      // it a status object; both names are read): a canonical code, classified as online errors are.
      type Status = { code?: number; message?: string; status?: string };
      for await (const { value: line } of readJsonl<{ key?: string; response?: unknown; error?: Status; status?: Status }>(f.responses)) {
        const rec = line.key !== undefined ? records.get(line.key) : undefined;
        if (!rec) continue;
        records.delete(line.key!);
        if (io.onDisk(rec.source, rec.line)) continue; // written before a stop
        const bad = line.error ?? (line.response ? undefined : line.status);
        if (bad) {
          const c = classifyStatus(bad);
          const e: RecordError = { status: c.status, code: c.code, message: c.message };
          const r = c.kind === 'retryable' ? again(rec, e) : failure(rec, e);
          if (r) out.push(r);
          continue;
        }
        if (!line.response) {
          out.push(failure(rec, { status: 'UNKNOWN', code: 0, message: 'no response for this request' }));
          continue;
        }
        const res = toResult(line.response as never);
        if (res.kind === 'blocked') {
          out.push(failure(rec, { status: 'BLOCKED', code: 0, message: `${res.reason}: ${res.message}` }));
          continue;
        }
        stats.tokensIn += res.usage.promptTokens;
        stats.tokensOut += res.usage.responseTokens;
        const u = unusable(res, o.jsonSchema !== undefined, io.checkJson);
        if ('error' in u && u.error) {
          const r = u.retry ? again(rec, u.error) : failure(rec, u.error);
          if (r) out.push(r);
          continue;
        }
        stats.succeeded++;
        out.push(successOf(rec, { response: res.text, model: o.model, finishReason: res.finishReason, usage: res.usage, json: (u as { json?: unknown }).json }, tries.get(rec.id) ?? 1, latencyMs, { mode: 'batch' }));
      }
      // A request the responses file does not mention is asked again.
      for (const rec of records.values()) {
        if (io.onDisk(rec.source, rec.line)) continue;
        const r = again(rec, { status: 'MISSING', code: 0, message: `batch ${job.batch} returned no response for it` });
        if (r) out.push(r);
      }
      await put(out);
      job.state = 'written';
    } else {
      const why = state.replace('JOB_STATE_', '').toLowerCase().replace(/_/g, ' ');
      say(`gempipe: batch ${job.id} (${job.batch}) ended ${why}: its ${job.records} request(s) go ${o.fallback === 'online' || pastDeadline ? 'online' : 'into a new batch'}`);
      for (const rec of records.values()) {
        if (io.onDisk(rec.source, rec.line)) continue;
        const r = again(rec, { status: `BATCH_${why.toUpperCase()}`, code: 0, message: `the batch job ${job.batch} ended ${why} ${tries.get(rec.id) ?? 1} time(s)` });
        if (r) out.push(r);
      }
      await put(out);
      job.state = 'ended';
    }
    job.remoteState = state;
    job.endedAt = new Date().toISOString();
    save();
  }

  async function sendOnline(records: InputRecord[]): Promise<void> {
    const todo = records.filter((r) => !io.onDisk(r.source, r.line));
    if (todo.length === 0) return;
    if (!io.online) throw new Error('online fallback not available');
    say(`gempipe: sending ${todo.length} record(s) online`);
    await put(await io.online(todo));
  }

  /** --deadline: live jobs are cancelled (unless they just ended) and their records sent online. */
  async function passDeadline(): Promise<void> {
    pastDeadline = true;
    const live = liveJobs(journal);
    say(`gempipe: --deadline reached: ${live.length} batch job(s) still out; what they hold is sent online`);
    for (const job of live) {
      if (job.state === 'created' && job.batch) {
        const b = await ai.batches.get({ name: job.batch });
        const state = String(b.state);
        if (TERMINAL.has(state)) {
          await finish(job, state, b.dest?.fileName);
          continue;
        }
        await ai.batches.cancel({ name: job.batch }).catch(() => {});
      }
      for await (const r of jobRecords(dir, job.id)) onlineQueue.push(r);
      job.state = 'ended';
      job.remoteState = 'CANCELLED_AT_DEADLINE';
      job.endedAt = new Date().toISOString();
      save();
    }
    onlineQueue.push(...requeue.splice(0));
  }

  /**
   * A job's state and responses file through the SDK, and its counts from the same REST resource
   * read directly (metadata.batchStats: @google/genai 2.32's BatchJob leaves them out).
   */
  async function status(job: JournalJob): Promise<{ state: string; dest?: string; counts?: string }> {
    let b;
    try {
      b = await ai.batches.get({ name: job.batch! });
    } catch (e) {
      // A job the server no longer knows (deleted, or an emulator that restarted): its records
      // go into a new job like an expired one's.
      if ((e as { status?: number }).status === 404) return { state: 'JOB_STATE_NOT_FOUND' };
      throw e;
    }
    let counts: string | undefined;
    if (io.conn?.apiKey) {
      try {
        const base = (io.conn.baseUrl ?? 'https://generativelanguage.googleapis.com').replace(/\/$/, '');
        const r = await fetch(`${base}/v1beta/${job.batch}`, { headers: { 'x-goog-api-key': io.conn.apiKey } });
        const st = ((await r.json()) as { metadata?: { batchStats?: Record<string, string> } }).metadata?.batchStats;
        if (st) counts = `${Number(st.successfulRequestCount ?? 0)} ok, ${Number(st.failedRequestCount ?? 0)} failed, ${Number(st.pendingRequestCount ?? 0)} pending`;
      } catch {
        /* counts are a nicety */
      }
    }
    return { state: String(b.state), dest: b.dest?.fileName, counts };
  }

  return {
    written(records) {
      for (const r of records) waitingFor.delete(r.id);
      if (waitingFor.size === 0 && flushed) {
        const f = flushed;
        flushed = undefined;
        f();
      }
    },
    async run() {
      // 1. Jobs a stopped run left: take each on from where the journal says it is.
      for (const job of liveJobs(journal)) {
        for await (const r of jobRecords(dir, job.id)) tries.set(r.id, Math.max(tries.get(r.id) ?? 0, r.tries ?? 1));
        await advance(job);
      }
      // 2. Pack the records still to do; a bad line is a failure record at once.
      let pack: InputRecord[] = [];
      const bad: OutputRecord[] = [];
      let packBytes = 0;
      for await (const rec of io.reader as AsyncIterable<InputRecord>) {
        if (io.signal.aborted) break;
        if (rec.invalid) {
          countFailure(stats, 'INVALID_INPUT');
          bad.push(invalidFailureOf(rec, { mode: 'batch' }));
          continue;
        }
        // A job holds at most --batch-max-requests records and --batch-max-mb of requests.
        const bytes = Buffer.byteLength(rec.prompt) + 200;
        if (pack.length > 0 && (pack.length >= maxPerJob || packBytes + bytes > o.batchMaxMb * 1_000_000)) {
          await submit(pack);
          pack = [];
          packBytes = 0;
        }
        pack.push(rec);
        packBytes += bytes;
      }
      if (pack.length > 0) await submit(pack);
      await put(bad);
      if (o.detach) {
        const live = liveJobs(journal);
        say(`gempipe: detached: ${live.length} batch job(s) with ${live.reduce((a, j) => a + j.records, 0)} request(s) are on the server; run the same command again to collect their records (\`gempipe batches list -o ${dir}\` shows them)`);
        return { detached: true, jobs: live.length };
      }
      // 3. Poll until every job has ended, redoing what came back.
      let wait = o.batchPollMs;
      const seen = new Map<string, string>();
      while (!io.signal.aborted) {
        if (deadlineAt !== undefined && !pastDeadline && Date.now() >= deadlineAt) await passDeadline();
        if (onlineQueue.length > 0) await sendOnline(onlineQueue.splice(0));
        while (requeue.length > 0) await submit(requeue.splice(0, maxPerJob));
        const live = liveJobs(journal);
        if (live.length === 0 && onlineQueue.length === 0) break;
        let changed = false;
        for (const job of live) {
          if (job.state !== 'created') {
            await advance(job); // one the server refused for now (429), or cut short
            continue;
          }
          const { state, dest, counts } = await status(job);
          const shown = `${state}${counts ?? ''}`;
          if (seen.get(job.id) !== shown) {
            seen.set(job.id, shown);
            changed = true;
            say(`gempipe: batch ${job.id} (${job.batch}): ${state.replace('JOB_STATE_', '').toLowerCase()}, ${job.records} request(s)${counts ? ` (${counts})` : ''}, ${age(job)}`);
          }
          if (TERMINAL.has(state)) await finish(job, state, dest);
        }
        wait = changed ? o.batchPollMs : Math.min(60_000, Math.round(wait * 1.5));
        const nap = deadlineAt !== undefined && !pastDeadline ? Math.max(0, Math.min(wait, deadlineAt - Date.now())) : wait;
        if (liveJobs(journal).length > 0 && requeue.length === 0 && onlineQueue.length === 0) await sleep(nap, io.signal).catch(() => {});
      }
      return { detached: false, jobs: journal.jobs.length };
    },
  };
}
