// createBatchStage(): --mode batch as a stage (SPEC §13) — InputRecords in, OutputRecords out,
// inside the same pipeline() as every mode. What costs nothing is answered at once (a bad line,
// a --dedupe copy of an answer on disk, a --cache hit); the rest is packed into batch jobs
// (jobs.ts), a duplicate of a request already packed joining that request's job. When the input
// ends, the jobs are polled until each has ended (job-end.ts, collect.ts); a job's records are
// pushed out and on disk (the writer's onWritten) before the journal says `written`. What comes
// back retryable goes into a new job, or online (--fallback online, --deadline) through the
// parallel stage; a job is redone only when the server says FAILED, EXPIRED or CANCELLED.

import { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setMaxListeners } from 'node:events';
import { FatalRunError } from '../errors.js';
import { BATCH_ENDED, BATCH_REDONE } from '../gemini/batch-client.js';
import { classifyError, fatalMessage } from '../gemini/retry-policy.js';
import { failureOf, invalidFailureOf, type FailureRecord, type InputRecord, type OutputRecord, type RecordError } from '../records.js';
import { createParallelStage } from '../stages/parallel.js';
import { countFailure } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { createCollector, notCollected, notKnownWhy } from './collect.js';
import { recordsOfEndedJob, stateWords, type JobEndContext } from './job-end.js';
import { createJobKeeper, entriesOf, type Entry } from './jobs.js';
import { liveJobs, type JournalJob } from './journal.js';
import type { BatchReport, BatchStage, BatchStageOptions } from './batch-types.js';

export type { BatchReport, BatchStage, BatchStageOptions };

export function createBatchStage(o: BatchStageOptions): BatchStage {
  const { service, dir, journal, stats, say, settings: s } = o;
  const keeper = createJobKeeper({ service, dir, journal, model: o.spec.shape.model, requestOf: o.requestOf, say, emulated: o.emulated, maxTries: s.maxAttempts });
  const collector = createCollector({ service, dir, say, resultWaitMs: s.batchResultWaitMs, maxDownloads: s.maxAttempts });
  // Jobs that cannot be collected this run (no responses file in time, downloads that fail, a
  // server that does not know them): left in the journal, and the run ends with exit 1.
  const stuck = new Map<string, string>();
  const outstanding = () => liveJobs(journal).filter((j) => !stuck.has(j.id));
  let detached = false;
  for (const [id, n] of o.live.tries) keeper.tries.set(id, n);
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  setMaxListeners(0, signal);
  // --dedupe: the request each request hash stands for, packed or in a live job.
  const requests = new Map<string, { job?: JournalJob; entry?: Entry; id: string }>(o.live.requests);
  let pack: Entry[] = [];
  let packBytes = 0;
  const requeue: Entry[] = [];
  const online: Entry[] = [];
  const deadlineAt = s.deadlineMs !== undefined ? Date.now() + s.deadlineMs : undefined;
  let pastDeadline = false;
  const unwritten = new Set<string>();
  let drained: (() => void) | undefined;
  let wantMore: (() => void) | undefined;

  const toFatal = (e: unknown) => {
    const c = classifyError(e);
    return c.kind === 'fatal' ? new FatalRunError(c.fatalCode ?? 'FATAL', fatalMessage(c, o.spec.shape.model)) : (e as Error);
  };
  const aborted = () => new Promise<void>((_, rej) => signal.addEventListener('abort', () => rej(signal.reason), { once: true }));

  const stage: Duplex = new Duplex({
    objectMode: true,
    writableHighWaterMark: 1,
    write(rec: InputRecord, _enc, cb) {
      ready.then(() => take(rec)).then(() => cb(), (e) => cb(toFatal(e)));
    },
    final(cb) {
      ready.then(() => drain()).then(() => {
        stage.push(null);
        cb();
      }, (e) => cb(toFatal(e)));
    },
    read() {
      const w = wantMore;
      wantMore = undefined;
      w?.();
    },
    destroy(err, cb) {
      stop.abort(err ?? new Error('batch stage destroyed'));
      cb(err);
    },
  });
  // Jobs a stopped run left: each taken on from where the journal says it is.
  const ready = (async () => {
    for (const job of liveJobs(journal)) await keeper.advance(job);
  })();
  ready.catch(() => {}); // its error fails the first write (or the end)

  async function emit(r: OutputRecord, track = false): Promise<void> {
    if (track) unwritten.add(r.id);
    if (!stage.push(r)) await Promise.race([new Promise<void>((res) => (wantMore = res)), aborted()]);
  }

  /** Out, and on disk. */
  async function put(records: readonly OutputRecord[]): Promise<void> {
    for (const r of records) await emit(r, true);
    if (unwritten.size > 0) await Promise.race([new Promise<void>((res) => (drained = res)), aborted()]);
  }

  function failure(rec: InputRecord, error: RecordError): FailureRecord {
    countFailure(stats, error.status);
    return failureOf(rec, keeper.tries.get(rec.id) ?? 1, error, { mode: 'batch' });
  }

  /** A request (and its duplicates) asked again — in a new job, or online — or failed once it has had its tries. */
  function again(entry: Entry, error: RecordError): FailureRecord | undefined {
    if (s.fallback === 'online' || pastDeadline) online.push(entry);
    else if ((keeper.tries.get(entry.rec.id) ?? 1) >= s.maxAttempts) return failure(entry.rec, error);
    else requeue.push(entry);
    return undefined;
  }

  async function submitPack(): Promise<void> {
    const entries = pack;
    pack = [];
    packBytes = 0;
    const job = await keeper.submit(entries);
    for (const e of entries) if (o.dedupe && e.rec.hash !== undefined) requests.set(e.rec.hash, { job, id: e.rec.id });
  }

  async function take(rec: InputRecord): Promise<void> {
    if (signal.aborted) return; // not read: a rerun does it
    if (rec.invalid) {
      countFailure(stats, 'INVALID_INPUT');
      return emit(invalidFailureOf(rec, { mode: 'batch' }));
    }
    const copy = o.dedupe?.lookup(rec);
    if (copy) return emit(copy);
    const hit = o.cache?.lookup(rec);
    if (hit) {
      o.dedupe?.remember(hit); // its duplicates copy it, as online
      return emit(hit);
    }
    const hash = o.dedupe ? rec.hash : undefined;
    const asked = hash !== undefined ? requests.get(hash) : undefined;
    if (asked?.entry) return void asked.entry.dups.push(rec);
    if (asked?.job) return keeper.addDuplicate(asked.job, rec, asked.id);
    // A job holds at most --batch-max-requests requests and --batch-max-mb of them.
    const bytes = Buffer.byteLength(rec.prompt) + 200;
    if (pack.length > 0 && (pack.length >= s.batchMaxRequests || packBytes + bytes > s.batchMaxMb * 1_000_000)) await submitPack();
    const entry: Entry = { rec, dups: [] };
    pack.push(entry);
    packBytes += bytes;
    if (hash !== undefined) requests.set(hash, { entry, id: rec.id });
  }

  const ender: JobEndContext = { dir, spec: o.spec, stats, tries: keeper.tries, onDisk: o.onDisk, dedupe: o.dedupe, cache: o.cache, meter: o.meter, verdictOf: o.verdictOf, failure, again };

  /** A job that ended: its records out and on disk, then the journal says so, then its files go. */
  async function finish(job: JournalJob, state: string, responses?: string): Promise<void> {
    if (responses === undefined) say(`gempipe: batch ${job.id} (${job.batch}) ended ${stateWords(state)}: its ${job.records} request(s) go ${s.fallback === 'online' || pastDeadline ? 'online' : 'into a new batch'}`);
    await put(await recordsOfEndedJob(ender, job, state, responses));
    keeper.close(job, responses !== undefined ? 'written' : 'ended', state);
  }

  /**
   * Where a created job's state leads: SUCCEEDED to its responses (or to waiting for them: never
   * to a new job), FAILED, EXPIRED or CANCELLED to a new job; a job the server does not know
   * (404) is kept, unless the in-process emulator that held it is gone.
   */
  async function settle(job: JournalJob, state: string, dest?: string): Promise<void> {
    if (state === 'JOB_STATE_SUCCEEDED') {
      const c = await collector.collect(job, dest);
      if (c.kind === 'ready') await finish(job, state, c.path);
      else if (c.kind === 'stuck') stuck.set(job.id, c.why);
    } else if (BATCH_REDONE.has(state) || (state === 'JOB_STATE_NOT_FOUND' && job.emulated)) await finish(job, state);
    else if (state === 'JOB_STATE_NOT_FOUND') stuck.set(job.id, notKnownWhy(job, service.endpoint, dir));
  }

  /** The entries' records through the online work (the parallel stage), out and on disk. */
  async function sendOnline(entries: readonly Entry[]): Promise<void> {
    const todo = entries.flatMap((e) => [e.rec, ...e.dups]).filter((r) => !o.onDisk(r.source, r.line));
    if (todo.length === 0) return;
    if (!o.online) throw new Error('online fallback not available');
    say(`gempipe: sending ${todo.length} record(s) online`);
    const work = await o.online();
    const sink = new Writable({
      objectMode: true,
      write: (r: OutputRecord, _enc, cb) => void emit(r, true).then(() => cb(), cb),
    });
    await pipeline(Readable.from(todo), createParallelStage({ work, concurrency: s.concurrency, signal }), sink);
    await put([]);
  }

  /** --deadline: live jobs are cancelled (unless they just ended: collected) and what they hold is sent online. */
  async function passDeadline(): Promise<void> {
    pastDeadline = true;
    const live = outstanding();
    say(`gempipe: --deadline reached: ${live.length} batch job(s) still out; what they hold is sent online (one that has succeeded is collected instead)`);
    for (const job of live) {
      if (job.state === 'created' && job.batch) {
        const b = await keeper.poll(job);
        if (BATCH_ENDED.has(b.state)) {
          await settle(job, b.state, b.dest);
          continue;
        }
        if (b.state === 'JOB_STATE_UNREAD') continue; // not known to be running: polled on, never paid twice
        await service.cancel(job.batch).catch(() => {});
      }
      online.push(...(await entriesOf(dir, job)));
      keeper.close(job, 'ended', 'CANCELLED_AT_DEADLINE');
    }
    online.push(...requeue.splice(0));
  }

  /** The input has ended: the last pack goes, then every job is polled until it has ended. */
  async function drain(): Promise<void> {
    if (pack.length > 0) await submitPack();
    if (s.detach) {
      // Jobs that ended since they were made (cancelled, failed, expired: into new jobs; succeeded:
      // written) are settled first, so what is left running is what the server really holds.
      for (const job of outstanding()) {
        if (job.state !== 'created' || !job.batch) continue;
        const b = await keeper.poll(job);
        if (BATCH_ENDED.has(b.state)) await settle(job, b.state, b.dest);
      }
      if (online.length > 0) await sendOnline(online.splice(0));
      while (requeue.length > 0) await keeper.submit(requeue.splice(0, s.batchMaxRequests));
      detached = true;
      const live = liveJobs(journal);
      say(`gempipe: detached: ${live.length} batch job(s) with ${live.reduce((a, j) => a + j.records, 0)} request(s) are on the server; run the same command again to collect their records (\`gempipe batches list -o ${dir}\` shows them)`);
      return;
    }
    let wait = s.batchPollMs;
    while (!signal.aborted) {
      if (deadlineAt !== undefined && !pastDeadline && Date.now() >= deadlineAt) await passDeadline();
      if (online.length > 0) await sendOnline(online.splice(0));
      while (requeue.length > 0) await keeper.submit(requeue.splice(0, s.batchMaxRequests));
      const live = outstanding();
      if (live.length === 0 && online.length === 0) break;
      let changed = false;
      for (const job of live) {
        if (job.state !== 'created') {
          await keeper.advance(job); // one the server refused for now (429), or cut short
          continue;
        }
        const { state, dest, news } = await keeper.poll(job);
        changed ||= news;
        if (BATCH_ENDED.has(state)) await settle(job, state, dest);
      }
      wait = changed ? s.batchPollMs : Math.min(60_000, Math.round(wait * 1.5));
      const nap = deadlineAt !== undefined && !pastDeadline ? Math.max(0, Math.min(wait, deadlineAt - Date.now())) : wait;
      if (outstanding().length > 0 && requeue.length === 0 && online.length === 0) await sleep(nap, signal).catch(() => {});
    }
    if (stuck.size > 0 && !signal.aborted) throw notCollected(stuck, journal, dir);
  }

  return {
    stage,
    report() {
      const left = liveJobs(journal);
      return { jobs: keeper.created.jobs, requests: keeper.created.requests, leftJobs: left.length, leftRequests: left.reduce((a, j) => a + j.records, 0), detached };
    },
    written(records) {
      for (const r of records) unwritten.delete(r.id);
      if (unwritten.size === 0 && drained) {
        const d = drained;
        drained = undefined;
        d();
      }
    },
  };
}
