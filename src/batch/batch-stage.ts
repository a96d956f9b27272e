// createBatchStage(): --mode batch as a stage (SPEC §13) — InputRecords in, OutputRecords out,
// inside the same pipeline() as every mode. What costs nothing is answered at once (a bad line,
// a --dedupe copy of an answer on disk, a --cache hit); the rest is packed into batch jobs
// (jobs.ts), a duplicate of a request already packed joining that request's job. When the input
// ends, the jobs are polled until each has ended; a job's records are pushed out and on disk (the
// writer's onWritten) before the journal says `written`. What comes back retryable goes into a
// new job, or online (--fallback online, --deadline) through the parallel stage.

import { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setMaxListeners } from 'node:events';
import type { Options } from '../cli/options.js';
import { FatalRunError } from '../errors.js';
import { BATCH_ENDED, type BatchService } from '../gemini/batch-client.js';
import { classifyError, fatalMessage } from '../gemini/retry-policy.js';
import { batchJobFiles } from '../output/layout.js';
import { failureOf, invalidFailureOf, type FailureRecord, type InputRecord, type OutputRecord, type RecordError } from '../records.js';
import type { RequestSpec } from '../request/spec.js';
import { copyAnswer, type Dedupe } from '../reuse/dedupe.js';
import type { ResponseCache } from '../reuse/response-cache.js';
import type { Work } from '../reuse/reuse.js';
import { createParallelStage } from '../stages/parallel.js';
import { countFailure, type RunStats } from '../stats.js';
import { sleep } from '../util/sleep.js';
import { createJobKeeper, entriesOf, strip, type Entry } from './jobs.js';
import { jobRecords, liveJobs, type JobRecord, type Journal, type JournalJob, type LiveRecords } from './journal.js';
import { readResponses, type Verdict } from './responses.js';

export interface BatchStageOptions {
  service: BatchService;
  dir: string;
  journal: Journal;
  /** What the directory's live jobs hold (journal.ts readLiveJobs). */
  live: LiveRecords;
  spec: RequestSpec;
  requestOf: (prompt: string, rec?: InputRecord) => string;
  settings: Pick<Options, 'batchMaxRequests' | 'batchMaxMb' | 'batchPollMs' | 'deadlineMs' | 'fallback' | 'maxAttempts' | 'detach' | 'concurrency'>;
  /** Whether a record is on disk already (written before a stop). */
  onDisk: (source: string, line: number) => boolean;
  dedupe?: Dedupe;
  cache?: ResponseCache;
  /** The online work (--fallback online, --deadline), made when first needed. */
  online?: () => Promise<Work>;
  stats: RunStats;
  say: (line: string) => void;
  /** Stops packing and polling (the stop control's `reading`). */
  signal: AbortSignal;
}

export interface BatchStage {
  stage: Duplex;
  /** The writer's onWritten: these records are on disk. */
  written(records: readonly OutputRecord[]): void;
}

export function createBatchStage(o: BatchStageOptions): BatchStage {
  const { service, dir, journal, stats, say, settings: s } = o;
  const keeper = createJobKeeper({ service, dir, journal, model: o.spec.shape.model, requestOf: o.requestOf, say });
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

  /** A job that ended: its records out, or given back to be asked again. */
  async function finish(job: JournalJob, state: string, dest?: string): Promise<void> {
    const reps = new Map<string, JobRecord>();
    const dups: JobRecord[] = [];
    for await (const r of jobRecords(dir, job.id)) {
      if (r.dupOf !== undefined) dups.push(r);
      else if (!o.onDisk(r.source, r.line)) reps.set(r.id, r);
      if (r.dupOf === undefined) keeper.tries.set(r.id, Math.max(keeper.tries.get(r.id) ?? 0, r.tries ?? 1));
    }
    const ok = state === 'JOB_STATE_SUCCEEDED' && dest !== undefined;
    let verdicts: Map<string, Verdict>;
    if (ok) {
      await service.download(dest, batchJobFiles(dir, job.id).responses);
      const latencyMs = job.createdAt ? Date.now() - Date.parse(job.createdAt) : 0;
      verdicts = await readResponses(batchJobFiles(dir, job.id).responses, reps, { spec: o.spec, stats, latencyMs, attempts: (id) => keeper.tries.get(id) ?? 1, batch: job.batch! });
    } else {
      const why = state.replace('JOB_STATE_', '').toLowerCase().replace(/_/g, ' ');
      say(`gempipe: batch ${job.id} (${job.batch}) ended ${why}: its ${job.records} request(s) go ${s.fallback === 'online' || pastDeadline ? 'online' : 'into a new batch'}`);
      verdicts = new Map([...reps.keys()].map((id) => [id, { again: { status: `BATCH_${why.toUpperCase().replace(/ /g, '_')}`, code: 0, message: `the batch job ${job.batch} ended ${why} ${keeper.tries.get(id) ?? 1} time(s)` } }]));
    }
    const out: OutputRecord[] = [];
    const results = new Map<string, { record: OutputRecord } | { entry: Entry }>();
    for (const [id, v] of verdicts) {
      if ('ok' in v) {
        o.cache?.store(v.ok, strip(reps.get(id)!));
        results.set(id, { record: v.ok });
      } else if ('fail' in v) results.set(id, { record: failure(strip(reps.get(id)!), v.fail) });
      else {
        const entry: Entry = { rec: strip(reps.get(id)!), dups: [] };
        const f = again(entry, v.again);
        results.set(id, f ? { record: f } : { entry });
      }
    }
    for (const r of results.values()) if ('record' in r) out.push(r.record);
    // Duplicates take their request's answer, or go where it goes.
    for (const d of dups) {
      if (o.onDisk(d.source, d.line)) continue;
      const r = results.get(d.dupOf!);
      const dup = strip(d);
      if (r && 'entry' in r) r.entry.dups.push(dup);
      else if (r) out.push(copyAnswer(r.record, dup, stats));
      else {
        const lost = o.dedupe?.lookup(dup) ?? again({ rec: dup, dups: [] }, { status: 'MISSING', code: 0, message: `its request was not in batch ${job.batch}` });
        if (lost) out.push(lost);
      }
    }
    await put(out);
    job.state = ok ? 'written' : 'ended';
    job.remoteState = state;
    job.endedAt = new Date().toISOString();
    keeper.save();
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

  /** --deadline: live jobs are cancelled (unless they just ended) and what they hold is sent online. */
  async function passDeadline(): Promise<void> {
    pastDeadline = true;
    const live = liveJobs(journal);
    say(`gempipe: --deadline reached: ${live.length} batch job(s) still out; what they hold is sent online`);
    for (const job of live) {
      if (job.state === 'created' && job.batch) {
        const b = await service.get(job.batch);
        if (BATCH_ENDED.has(b.state)) {
          await finish(job, b.state, b.dest);
          continue;
        }
        await service.cancel(job.batch).catch(() => {});
      }
      online.push(...(await entriesOf(dir, job)));
      job.state = 'ended';
      job.remoteState = 'CANCELLED_AT_DEADLINE';
      job.endedAt = new Date().toISOString();
      keeper.save();
    }
    online.push(...requeue.splice(0));
  }

  /** The input has ended: the last pack goes, then every job is polled until it has ended. */
  async function drain(): Promise<void> {
    if (pack.length > 0) await submitPack();
    if (s.detach) {
      const live = liveJobs(journal);
      say(`gempipe: detached: ${live.length} batch job(s) with ${live.reduce((a, j) => a + j.records, 0)} request(s) are on the server; run the same command again to collect their records (\`gempipe batches list -o ${dir}\` shows them)`);
      return;
    }
    let wait = s.batchPollMs;
    while (!signal.aborted) {
      if (deadlineAt !== undefined && !pastDeadline && Date.now() >= deadlineAt) await passDeadline();
      if (online.length > 0) await sendOnline(online.splice(0));
      while (requeue.length > 0) await keeper.submit(requeue.splice(0, s.batchMaxRequests));
      const live = liveJobs(journal);
      if (live.length === 0 && online.length === 0) break;
      let changed = false;
      for (const job of live) {
        if (job.state !== 'created') {
          await keeper.advance(job); // one the server refused for now (429), or cut short
          continue;
        }
        const { state, dest, news } = await keeper.poll(job);
        changed ||= news;
        if (BATCH_ENDED.has(state)) await finish(job, state, dest);
      }
      wait = changed ? s.batchPollMs : Math.min(60_000, Math.round(wait * 1.5));
      const nap = deadlineAt !== undefined && !pastDeadline ? Math.max(0, Math.min(wait, deadlineAt - Date.now())) : wait;
      if (liveJobs(journal).length > 0 && requeue.length === 0 && online.length === 0) await sleep(nap, signal).catch(() => {});
    }
  }

  return {
    stage,
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
