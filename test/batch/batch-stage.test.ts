// The batch stage against a fake Batch service (upload, create, get, list, cancel, download in
// memory): jobs of --batch-max-requests, answers mapped back by key as the records an online run
// writes, the journal saying `written` only once they are on disk; google.rpc.Status errors
// classified as online ones; --dedupe duplicates and --cache hits never in a job, a duplicate of
// a request in a live job of an earlier run joining it; a rejected key a whole-run fault.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { createBatchStage } from '../../src/batch/batch-stage.js';
import { loadJournal, readLiveJobs, removeEndedJobFiles, saveJournal, type Journal } from '../../src/batch/journal.js';
import { FatalRunError } from '../../src/errors.js';
import type { BatchService, BatchState } from '../../src/gemini/batch-client.js';
import { IdSet } from '../../src/output/id-set.js';
import { batchJobFiles, JOBS_DIR, JOURNAL_FILE } from '../../src/output/layout.js';
import { isFailure, successOf, type InputRecord, type OutputRecord } from '../../src/records.js';
import { requestSpecOf } from '../../src/request/spec.js';
import { createDedupe } from '../../src/reuse/dedupe.js';
import type { ResponseCache } from '../../src/reuse/response-cache.js';
import { createStats } from '../../src/stats.js';
import { sandbox } from '../helpers/util.js';

const spec = requestSpecOf({ model: 'm' });
const requestOf = (prompt: string) => JSON.stringify({ contents: [{ parts: [{ text: prompt }] }] });
const rec = (i: number, prompt = `prompt ${i}`): InputRecord => ({ id: `f:${i}`, source: 'f', line: i, prompt, hash: spec.hash(prompt) });

/** Batch jobs in memory: every job has ended when first looked at; ERR13 fails once (retryable), ERR3 always (permanent). */
function fakeService(o: { rejectKey?: boolean } = {}) {
  const files = new Map<string, string>();
  const batches = new Map<string, { file: string; displayName: string }>();
  const failedOnce = new Set<string>();
  const requests: string[] = [];
  const service: BatchService & { files: typeof files; batches: typeof batches; requests: string[] } = {
    files, batches, requests,
    async upload(path) {
      if (o.rejectKey) throw new ApiError({ status: 400, message: JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } }) });
      const name = `files/${files.size + 1}`;
      files.set(name, readFileSync(path, 'utf8'));
      return name;
    },
    async create(_model, file, displayName) {
      const name = `batches/${batches.size + 1}`;
      batches.set(name, { file, displayName });
      return { name, createTime: new Date().toISOString() };
    },
    async get(name) {
      const b = batches.get(name);
      if (!b) return { state: 'JOB_STATE_NOT_FOUND' };
      const lines = files.get(b.file)!.trim().split('\n').map((l) => JSON.parse(l) as { key: string; request: { contents: Array<{ parts: Array<{ text: string }> }> } });
      const dest = `files/${name}-responses`;
      if (!files.has(dest)) {
        files.set(dest, lines.reverse().map(({ key, request }) => { // in any order: matched by key
          const prompt = request.contents[0].parts[0].text;
          requests.push(prompt);
          if (prompt.includes('ERR3')) return JSON.stringify({ key, error: { code: 3, message: 'Request contains an invalid argument.' } });
          if (prompt.includes('ERR13') && !failedOnce.has(key)) {
            failedOnce.add(key);
            return JSON.stringify({ key, error: { code: 13, message: 'An internal error has occurred. Please retry' } });
          }
          return JSON.stringify({ key, response: { candidates: [{ content: { parts: [{ text: `A: ${prompt}` }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 } } });
        }).join('\n') + '\n');
      }
      return { state: 'JOB_STATE_SUCCEEDED', dest };
    },
    async *list() {
      for (const [name, b] of batches) yield { name, displayName: b.displayName };
    },
    async cancel() {},
    async download(file, path) {
      writeFileSync(path, files.get(file)!);
    },
  };
  return service;
}

const box = sandbox();

/** Runs the stage over `records` into a sink that tells it what was written (as the job's writer does). */
async function runStage(records: InputRecord[], o: { service: BatchService; journal?: Journal; dedupe?: boolean; cache?: ResponseCache; maxPerJob?: number; maxAttempts?: number; resultWaitMs?: number } ) {
  const journal = o.journal ?? loadJournal(box.dir);
  const stats = createStats();
  const dedupe = o.dedupe ? createDedupe({ stats }) : undefined;
  const onDisk = new IdSet();
  const said: string[] = [];
  const batch = createBatchStage({
    service: o.service, dir: box.dir, journal, live: await readLiveJobs(box.dir, journal), spec, requestOf,
    settings: { batchMaxRequests: o.maxPerJob ?? 100, batchMaxMb: 100, batchPollMs: 10, batchResultWaitMs: o.resultWaitMs ?? 60_000, fallback: 'batch', maxAttempts: o.maxAttempts ?? 3, detach: false, concurrency: 4 },
    onDisk: (s, l) => onDisk.has(s, l), dedupe, cache: o.cache, stats, say: (l) => said.push(l), signal: new AbortController().signal,
  });
  const out: OutputRecord[] = [];
  const journalAtWrite: string[] = [];
  const sink = new Writable({
    objectMode: true,
    write(r: OutputRecord, _e, cb) {
      out.push(r);
      journalAtWrite.push(JSON.stringify(loadJournal(box.dir).jobs.map((j) => j.state)));
      onDisk.add(r.source, r.line);
      setImmediate(() => {
        batch.written([r]);
        cb();
      });
    },
  });
  await pipeline(Readable.from(records), batch.stage, sink);
  dedupe?.close();
  return { out, stats, said, journal, journalAtWrite };
}

describe('the batch stage (fake service)', () => {
  it('packs jobs of --batch-max-requests; maps answers back by key; a job is `written` only after its records are', async () => {
    const service = fakeService();
    const records = Array.from({ length: 5 }, (_, i) => rec(i + 1));
    const r = await runStage(records, { service, maxPerJob: 2 });
    expect(service.batches.size).toBe(3);
    expect(r.out.map((x) => [x.id, isFailure(x) ? 'fail' : x.response, x.mode]).sort()).toEqual(records.map((x) => [x.id, `A: ${x.prompt}`, 'batch']));
    expect(r.out[0]).toMatchObject({ hash: records.find((x) => x.id === r.out[0].id)!.hash, attempts: 1, model: 'm', usage: { promptTokens: 3, responseTokens: 2, totalTokens: 5 } });
    // While a job's records were being written, the journal had not said `written` for it.
    expect(r.journalAtWrite.every((j) => (JSON.parse(j) as string[]).filter((s) => s === 'written').length < 3)).toBe(true);
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['written', 'written', 'written']);
    expect(r.stats.succeeded).toBe(5);
  });

  it('reads per-request google.rpc.Status errors as online errors: INTERNAL (13) goes into a new job, INVALID_ARGUMENT (3) is a failure', async () => {
    const service = fakeService();
    const r = await runStage([rec(1, 'fine'), rec(2, 'flaky ERR13'), rec(3, 'bad ERR3')], { service });
    const byId = Object.fromEntries(r.out.map((x) => [x.id, x]));
    expect(byId['f:1'].response).toBe('A: fine');
    expect(byId['f:2']).toMatchObject({ response: 'A: flaky ERR13', attempts: 2 });
    expect(byId['f:3']).toMatchObject({ error: { status: 'INVALID_ARGUMENT', code: 400, message: 'Request contains an invalid argument.' }, mode: 'batch' });
    expect(loadJournal(box.dir).jobs.map((j) => j.records)).toEqual([3, 1]);
  });

  it('--dedupe: a duplicate is never in a job and takes its request\'s answer; a --cache hit is never in a job', async () => {
    const service = fakeService();
    const cached = rec(4, 'cached one');
    const cache: ResponseCache = {
      lookup: (x) => (x.prompt === cached.prompt ? successOf(x, { response: 'from the cache', model: 'm', finishReason: 'STOP', usage: { promptTokens: 0, responseTokens: 0, totalTokens: 0 } }, 0, 0, { cached: true }) : undefined),
      store: () => {},
      wrap: (w) => w,
      close: async () => {},
    };
    const r = await runStage([rec(1, 'same'), rec(2, 'other'), rec(3, 'same'), cached, rec(5, 'same')], { service, dedupe: true, cache });
    expect(service.requests.sort()).toEqual(['other', 'same']);
    const byId = Object.fromEntries(r.out.map((x) => [x.id, x]));
    expect(byId['f:3']).toMatchObject({ response: 'A: same', dedupedFrom: 'f:1', attempts: 0 });
    expect(byId['f:5']).toMatchObject({ response: 'A: same', dedupedFrom: 'f:1' });
    expect(byId['f:4']).toMatchObject({ response: 'from the cache', cached: true });
    expect(r.stats.deduped).toBe(2);
  });

  it('--dedupe: a duplicate of a request in a live job of an earlier run joins that job and gets its answer', async () => {
    const service = fakeService();
    // An earlier run packed and created a job holding f:1 ('same'), then stopped.
    mkdirSync(join(box.dir, '.gempipe-batches'), { recursive: true });
    const first = rec(1, 'same');
    const f = batchJobFiles(box.dir, '000001');
    writeFileSync(f.requests, `{"key":"f:1","request":${requestOf('same')}}\n`);
    writeFileSync(f.records, JSON.stringify({ ...first, tries: 1 }) + '\n{"id":"f:7","sou'); // a torn tail
    const file = await service.upload(f.requests, 'd');
    const b = await service.create('m', file, 'gempipe-t-000001');
    const journal: Journal = { version: 1, token: 't', jobs: [{ id: '000001', state: 'created', records: 1, displayName: 'gempipe-t-000001', model: 'm', file, batch: b.name, createdAt: new Date().toISOString() }] };
    saveJournal(box.dir, journal);
    const r = await runStage([rec(2, 'same'), rec(3, 'new')], { service, journal, dedupe: true });
    expect(service.requests.sort()).toEqual(['new', 'same']);
    // Both jobs written: their files are gone, the folder with them.
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['written', 'written']);
    expect(existsSync(join(box.dir, '.gempipe-batches'))).toBe(false);
    const byId = Object.fromEntries(r.out.map((x) => [x.id, x]));
    expect(Object.keys(byId).sort()).toEqual(['f:1', 'f:2', 'f:3']);
    expect(byId['f:2']).toMatchObject({ response: 'A: same', dedupedFrom: 'f:1' });
  });

  it('a rejected key is a whole-run fault naming the fix; nothing is created', async () => {
    const service = fakeService({ rejectKey: true });
    const err = await runStage([rec(1)], { service }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toMatch(/^the API key was rejected; check GEMINI_API_KEY/);
    expect(service.batches.size).toBe(0);
  });
});

/** The fake service with what a real one does at times: a state for a poll, a download's fate. */
function withFaults(service: ReturnType<typeof fakeService>, f: { get?: (name: string, poll: number) => BatchState | undefined; download?: (n: number) => 'not-found' | Error | undefined }) {
  let polls = 0;
  let downloads = 0;
  return {
    ...service,
    async get(name: string, o?: { counts?: boolean }) {
      return f.get?.(name, ++polls) ?? service.get(name, o);
    },
    async download(file: string, path: string) {
      const d = f.download?.(++downloads);
      if (d instanceof Error) throw d;
      if (d === 'not-found') return d;
      return service.download(file, path);
    },
  } satisfies BatchService;
}

const files = (dir: string) => (existsSync(join(dir, JOBS_DIR)) ? readdirSync(join(dir, JOBS_DIR)).sort() : []);

describe('the batch stage: a job is redone only when the server says FAILED, EXPIRED or CANCELLED', () => {
  it('SUCCEEDED without a responses file (not named, then named but not found) is polled again, never resubmitted', async () => {
    const base = fakeService();
    const service = withFaults(base, {
      get: (_n, poll) => (poll <= 2 ? { state: 'JOB_STATE_SUCCEEDED' } : undefined),
      download: (n) => (n <= 2 ? 'not-found' : undefined),
    });
    const r = await runStage([rec(1), rec(2)], { service });
    expect(base.batches.size).toBe(1);
    expect(r.out.map((x) => x.response).sort()).toEqual(['A: prompt 1', 'A: prompt 2']);
    expect(r.said.filter((l) => /reads succeeded but its responses file is not named yet; polling again for up to 1 min \(--batch-result-wait\)/.test(l))).toHaveLength(1);
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['written']);
  });

  it('past --batch-result-wait the run ends resumably naming the job; the journal keeps it and a rerun collects it with no new job', async () => {
    const base = fakeService();
    const never = withFaults(base, { get: () => ({ state: 'JOB_STATE_SUCCEEDED' }) });
    const err = await runStage([rec(1), rec(2)], { service: never, resultWaitMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as FatalRunError).code).toBe('BATCH_NOT_COLLECTED');
    expect((err as Error).message).toMatch(/batch 000001 \(batches\/1\): it has read SUCCEEDED for \d+ ms without a readable responses file \(--batch-result-wait 30 ms\)/);
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['created']);
    expect(files(box.dir)).toEqual(['000001.records.jsonl', '000001.requests.jsonl']);
    const again = await runStage([], { service: base });
    expect(base.batches.size).toBe(1);
    expect(again.out.map((x) => x.id).sort()).toEqual(['f:1', 'f:2']);
    expect(files(box.dir)).toEqual([]);
  });

  it('a download that keeps failing (an error, a file that does not parse) is tried --max-attempts times, then ends the run; the job is kept', async () => {
    const base = fakeService();
    const service = withFaults(base, {
      download: (n) => (n % 2 === 1 ? new ApiError({ status: 500, message: '{"error":{"code":500,"status":"INTERNAL","message":"oops"}}' }) : undefined),
    });
    // Every other download "succeeds" with a file cut mid-line.
    const cut = { ...service, download: async (file: string, path: string) => {
      const d = await service.download(file, path);
      writeFileSync(path, readFileSync(path, 'utf8').slice(0, 30));
      return d;
    } };
    const err = await runStage([rec(1), rec(2)], { service: cut, maxAttempts: 3 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/its responses file files\/batches\/1-responses could not be downloaded \(HTTP 500 INTERNAL: oops\), 3 time\(s\)/);
    expect(base.batches.size).toBe(1);
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['created']);
  });

  it('a file that lacks requests is downloaded again before they are asked again', async () => {
    const base = fakeService();
    let n = 0;
    const service = { ...base, download: async (file: string, path: string) => {
      await base.download(file, path);
      if (++n === 1) writeFileSync(path, readFileSync(path, 'utf8').split('\n')[0] + '\n'); // cut at a line break
    } };
    const r = await runStage([rec(1), rec(2), rec(3)], { service });
    expect(r.said.some((l) => /is incomplete \(1 of 3 requests\), 1 time\(s\); trying again/.test(l))).toBe(true);
    expect(r.out).toHaveLength(3);
    expect(base.batches.size).toBe(1);
  });

  it('a job the server does not know (404) is not redone: the run ends naming it and the way past it; one of a gone in-process emulator is', async () => {
    const base = fakeService();
    const gone = withFaults(base, { get: () => ({ state: 'JOB_STATE_NOT_FOUND' }) });
    const err = await runStage([rec(1)], { service: { ...gone, endpoint: 'https://b.example' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/batch 000001 \(batches\/1\): https:\/\/b\.example does not know it \(404\): it was deleted, or created with another project's key \(`gempipe batches cancel -o .*` gives its records up to a new job\)/);
    expect(base.batches.size).toBe(1);
    // Created on another endpoint: the message names it.
    const j = loadJournal(box.dir);
    j.jobs[0].endpoint = 'https://a.example';
    saveJournal(box.dir, j);
    const err2 = await runStage([], { service: { ...gone, endpoint: 'https://b.example' }, journal: j }).catch((e: unknown) => e);
    expect((err2 as Error).message).toContain('it was created on https://a.example; rerun with --base-url https://a.example');
    // An --emulator run's job: the emulator is gone with that run, so its records go into a new job.
    j.jobs[0].emulated = true;
    saveJournal(box.dir, j);
    const r = await runStage([], { service: withFaults(base, { get: (name) => (name === 'batches/1' ? { state: 'JOB_STATE_NOT_FOUND' } : undefined) }), journal: j });
    expect(r.out.map((x) => x.response)).toEqual(['A: prompt 1']);
    expect(loadJournal(box.dir).jobs.map((x) => [x.state, x.remoteState])).toEqual([['ended', 'JOB_STATE_NOT_FOUND'], ['written', 'JOB_STATE_SUCCEEDED']]);
  });

  it('FAILED, EXPIRED and CANCELLED are redone in a new job; a job\'s files go once the journal says it is done, the folder with the last', async () => {
    for (const state of ['JOB_STATE_FAILED', 'JOB_STATE_EXPIRED', 'JOB_STATE_CANCELLED']) {
      rmSync(join(box.dir, JOURNAL_FILE), { force: true });
      const base = fakeService();
      const r = await runStage([rec(1), rec(2)], { service: withFaults(base, { get: (name) => (name === 'batches/1' ? { state } : undefined) }) });
      expect(base.batches.size, state).toBe(2);
      expect(r.out.map((x) => x.response).sort()).toEqual(['A: prompt 1', 'A: prompt 2']);
      expect(loadJournal(box.dir).jobs.map((x) => [x.state, x.remoteState])).toEqual([['ended', state], ['written', 'JOB_STATE_SUCCEEDED']]);
      expect(files(box.dir)).toEqual([]);
      expect(existsSync(join(box.dir, JOBS_DIR))).toBe(false);
    }
  });

  it('files a run left between the journal saying `written` and their removal are removed at the next start', async () => {
    mkdirSync(join(box.dir, JOBS_DIR));
    for (const id of ['000001', '000002']) for (const f of Object.values(batchJobFiles(box.dir, id))) writeFileSync(f, '{}\n');
    const journal: Journal = { version: 1, token: 't', jobs: [
      { id: '000001', state: 'written', records: 1, displayName: 'gempipe-t-000001', model: 'm', batch: 'batches/9' },
      { id: '000002', state: 'created', records: 1, displayName: 'gempipe-t-000002', model: 'm', batch: 'batches/10' },
    ] };
    removeEndedJobFiles(box.dir, journal);
    expect(files(box.dir)).toEqual(['000002.records.jsonl', '000002.requests.jsonl', '000002.responses.jsonl']);
  });
});

describe('the batch stage: a remote step that fails for now', () => {
  const unavailable = () => new ApiError({ status: 503, message: '{"error":{"code":503,"status":"UNAVAILABLE","message":"The service is currently unavailable."}}' });

  it('an upload, a create or a poll that fails for now is tried again at the next poll: one job, every answer', async () => {
    const base = fakeService();
    let uploads = 0;
    let creates = 0;
    const service = {
      ...withFaults(base, { get: (_n, poll) => { if (poll <= 2) throw unavailable(); return undefined; } }),
      async upload(path: string, name: string) {
        if (++uploads === 1) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
        return base.upload(path, name);
      },
      async create(model: string, file: string, name: string) {
        if (++creates === 1) throw unavailable();
        return base.create(model, file, name);
      },
    } satisfies BatchService;
    const r = await runStage([rec(1), rec(2)], { service });
    expect(base.batches.size).toBe(1);
    expect(r.out.map((x) => x.response).sort()).toEqual(['A: prompt 1', 'A: prompt 2']);
    expect(r.said.filter((l) => /failed \(.*\); trying again at the next poll/.test(l)).map((l) => l.replace(/^gempipe: batch 000001( \(batches\/1\))?: /, '').replace(/ \(.*/, ''))).toEqual([
      'uploading its requests failed', 'creating it on the server failed', 'reading its state failed', 'reading its state failed']);
  });

  it('one that keeps failing ends the run resumably after --max-attempts in a row, naming the job; the journal keeps it', async () => {
    const base = fakeService();
    const service = withFaults(base, { get: () => { throw unavailable(); } });
    const err = await runStage([rec(1)], { service, maxAttempts: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toBe('batch 000001 (batches/1): reading its state failed 3 times in a row (last: HTTP 503 UNAVAILABLE: The service is currently unavailable.); the journal keeps it: rerun the same command to go on from there');
    expect(loadJournal(box.dir).jobs.map((j) => j.state)).toEqual(['created']);
    const again = await runStage([], { service: base });
    expect(again.out).toHaveLength(1);
    expect(base.batches.size).toBe(1);
  });
});
