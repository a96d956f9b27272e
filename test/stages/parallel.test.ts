import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createParallelStage } from '../../src/stages/parallel.js';
import { defer, flush, type Deferred } from '../helpers/util.js';

/** A source that counts how many items were pulled from it. */
function countingSource(n: number) {
  let pulled = 0;
  const src = new Readable({
    objectMode: true,
    highWaterMark: 1,
    read() {
      if (pulled < n) this.push(pulled++);
      else this.push(null);
    },
  });
  return { src, pulled: () => pulled };
}

describe('createParallelStage', () => {
  it('never has more than `concurrency` items in progress, and refills as each finishes', async () => {
    const calls: Array<Deferred<number>> = [];
    let active = 0;
    let maxActive = 0;
    const stage = createParallelStage<number, number>({
      concurrency: 3,
      work: (x) => {
        active++;
        maxActive = Math.max(maxActive, active);
        const d = defer<number>();
        calls.push(d);
        return d.promise.then((v) => {
          active--;
          return v;
        });
      },
    });
    const { src } = countingSource(10);
    const got: number[] = [];
    const sink = new Writable({ objectMode: true, write(c: number, _e, cb) { got.push(c); cb(); } });
    const done = pipeline(src, stage, sink);
    await flush();
    expect(calls.length).toBe(3);
    calls[1].resolve(101);
    await flush();
    expect(calls.length).toBe(4);
    expect(got).toEqual([101]);
    for (let i = 0; i < 10; i++) {
      await flush();
      calls.forEach((c, j) => c.resolve(j));
    }
    await done;
    expect(maxActive).toBe(3);
    expect(got.length).toBe(10);
  });

  it('stops pulling input while the writer is slow (back-pressure)', async () => {
    const stage = createParallelStage<number, number>({ concurrency: 4, highWaterMark: 2, work: async (x) => x });
    const { src, pulled } = countingSource(1000);
    const writes: Array<() => void> = [];
    const sink = new Writable({ objectMode: true, highWaterMark: 1, write(_c, _e, cb) { writes.push(cb); } });
    const done = pipeline(src, stage, sink);
    await flush(30);
    const stalledAt = pulled();
    await flush(30);
    // Nothing is written yet, so reading must have stopped: at most the sink's one record,
    // the sink buffer, the stage's readable buffer and its in-flight slots, plus the source's buffer.
    expect(pulled()).toBe(stalledAt);
    expect(stalledAt).toBeLessThanOrEqual(1 + 1 + 2 + 4 + 2);
    // Release the writer and everything flows.
    let finished = false;
    void done.then(() => (finished = true));
    for (let i = 0; i < 5000 && !finished; i++) {
      writes.splice(0).forEach((cb) => cb());
      await flush(1);
    }
    await done;
    expect(pulled()).toBe(1000);
  });

  it('emits in input order when `ordered`, holding a finished item until those before it are out', async () => {
    const ds = new Map<number, Deferred<number>>();
    const stage = createParallelStage<number, number>({
      concurrency: 3,
      ordered: true,
      work: (x) => {
        const d = defer<number>();
        ds.set(x, d);
        return d.promise;
      },
    });
    const { src } = countingSource(5);
    const got: number[] = [];
    const sink = new Writable({ objectMode: true, write(c: number, _e, cb) { got.push(c); cb(); } });
    const done = pipeline(src, stage, sink);
    await flush();
    ds.get(2)!.resolve(2);
    ds.get(1)!.resolve(1);
    await flush();
    expect(got).toEqual([]);
    // Slots stay taken by the finished-but-unordered items: no new work starts.
    expect(ds.size).toBe(3);
    ds.get(0)!.resolve(0);
    await flush();
    expect(got).toEqual([0, 1, 2]);
    ds.get(4)!.resolve(4);
    ds.get(3)!.resolve(3);
    await done;
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('drops items whose work resolves null, and fails the pipeline when work rejects', async () => {
    const stage = createParallelStage<number, number>({ concurrency: 2, work: async (x) => (x % 2 ? null : x) });
    const got: number[] = [];
    await pipeline(countingSource(6).src, stage, new Writable({ objectMode: true, write(c: number, _e, cb) { got.push(c); cb(); } }));
    expect(got.sort()).toEqual([0, 2, 4]);

    let aborted = 0;
    const failing = createParallelStage<number, number>({
      concurrency: 2,
      work: (x, signal) => {
        if (x === 1) return Promise.reject(new Error('whole-run fault'));
        return new Promise((_r, rej) => signal.addEventListener('abort', () => { aborted++; rej(new Error('aborted')); }));
      },
    });
    await expect(pipeline(countingSource(10).src, failing, new Writable({ objectMode: true, write(_c, _e, cb) { cb(); } }))).rejects.toThrow('whole-run fault');
    expect(aborted).toBeGreaterThan(0);
  });

  it('rejects a bad concurrency with a message naming it', () => {
    expect(() => createParallelStage({ concurrency: 0, work: async (x) => x })).toThrow('Expected `concurrency` to be an integer >= 1, got `0`');
  });
});
