// The coordinator's stage against a fake queue (an in-memory RecordQueue): back-pressure at
// --max-queued, answers back as records, jobs removed once written, an answer missed while not
// listening and a vanished job found by looking, the settings guard, the clean-up at start, and
// answers that cost nothing (a bad line, a --dedupe duplicate) never queued.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { jobIdOf, type QueueSettings } from '../../src/distributed/queue-names.js';
import type { JobEnd, RecordQueue } from '../../src/distributed/record-queue.js';
import { createRemoteStage } from '../../src/distributed/remote-stage.js';
import type { InputRecord, OutputRecord } from '../../src/records.js';
import { createStats } from '../../src/stats.js';
import { until } from '../helpers/util.js';

const SETTINGS = { model: 'm', maxAttempts: 3 } as QueueSettings;
const rec = (i: number, prompt = `p${i}`): InputRecord => ({ id: `f:${i}`, source: 'f', line: i, prompt, hash: prompt.padEnd(16, '0').slice(0, 16) });
const answer = (r: InputRecord, worker = 'w:1') => ({ record: { ...r, response: `a ${r.prompt}`, model: 'm', finishReason: 'STOP', usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 }, attempts: 1, latencyMs: 1 }, worker });

/** An in-memory queue; `silent` jobs end without telling the listener (a missed event). */
function fakeQueue(o: { stored?: string; pending?: number; answered?: string[] } = {}) {
  const jobs = new Map<string, { data: { rec: InputRecord }; end?: JobEnd }>();
  const listeners: Array<(id: string, end: JobEnd) => void> = [];
  let settings = o.stored;
  const q: RecordQueue & { jobs: typeof jobs; adds: string[]; removed: string[]; end(id: string, end: JobEnd, silent?: boolean): void; vanish(id: string): void } = {
    jobs, adds: [], removed: [],
    async settings() {
      return { stored: settings, pending: o.pending ?? 0 };
    },
    async setSettings(json) {
      settings = json;
    },
    async add(id, data) {
      q.adds.push(id);
      if (!jobs.has(id)) jobs.set(id, { data: data as { rec: InputRecord } });
    },
    async find(id) {
      const j = jobs.get(id);
      return j === undefined ? undefined : j.end ?? 'pending';
    },
    onEnded(l) {
      listeners.push(l);
    },
    async remove(id) {
      q.removed.push(id);
      jobs.delete(id);
    },
    async *answered() {
      if (o.answered) yield o.answered;
    },
    async close() {},
    end(id, end, silent = false) {
      jobs.get(id)!.end = end;
      if (!silent) for (const l of listeners) l(id, end);
    },
    vanish(id) {
      jobs.delete(id);
    },
  };
  return q;
}

function collect(): { sink: Writable; out: OutputRecord[] } {
  const out: OutputRecord[] = [];
  return { out, sink: new Writable({ objectMode: true, write: (r: OutputRecord, _e, cb) => void (out.push(r), cb()) }) };
}

describe('the coordinator stage (fake queue)', () => {
  it('queues at most --max-queued records at once; each answer comes back as its record; a written record\'s job goes', async () => {
    const q = fakeQueue();
    const stats = createStats();
    const remote = await createRemoteStage({ queue: q, describe: 'q', maxQueued: 3, ordered: false, settings: SETTINGS, done: () => false, stats, say: () => {} });
    const { sink, out } = collect();
    const records = Array.from({ length: 7 }, (_, i) => rec(i + 1));
    const done = pipeline(Readable.from(records), remote.stage, sink);
    for (let answered = 0; answered < 7; answered++) {
      await until(() => [...q.jobs.values()].filter((j) => !j.end).length >= Math.min(3, 7 - answered), { what: 'the queue to fill' });
      expect([...q.jobs.values()].filter((j) => !j.end).length).toBeLessThanOrEqual(3);
      const [id, j] = [...q.jobs].find(([, x]) => !x.end)!;
      q.end(id, { value: JSON.stringify(answer(j.data.rec, `w:${answered % 2}`)) });
    }
    await done;
    expect(out.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
    expect(stats.succeeded).toBe(7);
    expect(remote.workers()).toEqual({ 'w:0': { records: 4, failed: 0 }, 'w:1': { records: 3, failed: 0 } });
    remote.written(out);
    await until(() => q.removed.length === 7, { what: 'the written jobs removed' });
  });

  it('an answer given while nobody listened, and a job that vanished, are found by looking; a job BullMQ gave up on is WORKER_FAILED', async () => {
    const q = fakeQueue();
    const stats = createStats();
    const remote = await createRemoteStage({ queue: q, describe: 'q', maxQueued: 4, ordered: true, settings: SETTINGS, done: () => false, stats, say: () => {}, checkEveryMs: 5 });
    const { sink, out } = collect();
    const done = pipeline(Readable.from([rec(1), rec(2), rec(3)]), remote.stage, sink);
    await until(() => q.jobs.size === 3, { what: 'three jobs' });
    q.end(jobIdOf('f:1'), { value: answer(rec(1)) }, true); // silently
    q.vanish(jobIdOf('f:2'));
    q.end(jobIdOf('f:3'), { failed: 'attempts exhausted' });
    await until(() => q.adds.filter((a) => a === jobIdOf('f:2')).length === 2, { what: 'the vanished job added again' });
    q.end(jobIdOf('f:2'), { value: answer(rec(2)) });
    await done;
    expect(out.map((r) => [r.id, 'error' in r ? (r.error as { status: string }).status : 'ok'])).toEqual([['f:1', 'ok'], ['f:2', 'ok'], ['f:3', 'WORKER_FAILED']]);
    expect(stats.failedByStatus).toEqual({ WORKER_FAILED: 1 });
  });

  it('refuses a queue holding another job\'s records; takes it when they are done; removes answered jobs already on disk', async () => {
    const other = JSON.stringify({ fp: 'another-job' });
    await expect(createRemoteStage({ queue: fakeQueue({ stored: other, pending: 2 }), describe: 'q1 on redis://h', maxQueued: 1, ordered: false, settings: SETTINGS, done: () => false, stats: createStats(), say: () => {} }))
      .rejects.toThrow(new UsageError('The queue q1 on redis://h holds 2 record(s) of a job asked with other settings (model, system instruction, config or schema): let it finish, or give another --queue'));
    const said: string[] = [];
    const q = fakeQueue({ stored: other, pending: 0, answered: [jobIdOf('f:1'), jobIdOf('f:2')] });
    await createRemoteStage({ queue: q, describe: 'q', maxQueued: 1, ordered: false, settings: SETTINGS, done: (_s, l) => l === 1, stats: createStats(), say: (l) => said.push(l) });
    expect(q.removed).toEqual([jobIdOf('f:1')]);
    expect(said).toEqual(['gempipe: coordinator: removed 1 answered job(s) whose records were already on disk']);
  });

  it('a bad line fails without a worker; what the wrap answers (a duplicate, a cache hit) is never queued', async () => {
    const q = fakeQueue();
    const stats = createStats();
    const free = new Set(['f:2']);
    const remote = await createRemoteStage({
      queue: q, describe: 'q', maxQueued: 2, ordered: true, settings: SETTINGS, done: () => false, stats, say: () => {},
      wrap: (work) => async (r, signal) => (free.has(r.id) ? { ...answer(r).record, dedupedFrom: 'f:9' } : work(r, signal)),
    });
    const { sink, out } = collect();
    const done = pipeline(Readable.from([{ ...rec(1), invalid: { message: 'line 1 of f is too long' } }, rec(2), rec(3)]), remote.stage, sink);
    await until(() => q.jobs.size === 1, { what: 'one job' });
    q.end(jobIdOf('f:3'), { value: answer(rec(3)) });
    await done;
    expect(q.adds).toEqual([jobIdOf('f:3')]);
    expect(out.map((r) => r.id)).toEqual(['f:1', 'f:2', 'f:3']);
    expect(stats.failedByStatus).toEqual({ INVALID_INPUT: 1 });
  });
});
