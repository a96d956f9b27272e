// createStdoutWriter(): records in, one line each out (JSONL or the text layout), batched into one
// write, the callback held until the stream takes it (a slow reader holds the pipeline), a closed
// pipe surfacing as EPIPE.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { OutputRecord } from '../../src/records.js';
import { createPipeline } from '../../src/pipeline.js';
import { createStdoutWriter } from '../../src/stages/stdout-writer.js';
import { createStats } from '../../src/stats.js';
import { defer } from '../helpers/util.js';

const ok = (i: number): OutputRecord => ({ id: `f:${i}`, source: 'f', line: i, prompt: `q${i}\nmore`, response: `a${i}`, model: 'm', finishReason: 'STOP', usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 }, attempts: 1, latencyMs: 1 });
const failed: OutputRecord = { id: 'f:9', source: 'f', line: 9, prompt: 'bad', attempts: 0, error: { status: 'INVALID_INPUT', code: 0, message: 'too long' } };

/** A byte stream that keeps what it is given, each write's callback held until `release()`. */
function slowSink() {
  const writes: string[] = [];
  let pending: Array<() => void> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk.toString());
      pending.push(() => cb());
    },
  });
  const release = () => {
    for (const p of pending.splice(0)) p();
  };
  /** Releases each write as it comes until `p` settles. */
  const serve = async (p: Promise<unknown>) => {
    let settled = false;
    void p.then(() => (settled = true), () => (settled = true));
    for (let i = 0; i < 1000 && !settled; i++) {
      await new Promise((r) => setImmediate(r));
      release();
    }
    return p;
  };
  return { stream, writes, release, serve, waiting: () => pending.length };
}

describe('createStdoutWriter', () => {
  it('writes one JSON line per record, a batch in one write, and counts what it wrote', async () => {
    const sink = slowSink();
    const stats = createStats();
    const w = createStdoutWriter({ stream: sink.stream, stats });
    await sink.serve(pipeline(Readable.from([ok(1), ok(2), failed]), w));
    const lines = sink.writes.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(['f:1', 'f:2', 'f:9']);
    expect(sink.writes.length).toBeLessThan(3); // what arrived while a write was held went in one
    expect(stats.written).toBe(3);
  });

  it('--format text: `<prompt> - <response>`, newlines escaped, a failure as its status', async () => {
    const sink = slowSink();
    await sink.serve(pipeline(Readable.from([ok(1), failed]), createStdoutWriter({ stream: sink.stream, format: 'text' })));
    expect(sink.writes.join('')).toBe('q1\\nmore - a1\nbad - [INVALID_INPUT] too long\n');
  });

  it('holds its callback until the stream takes the write: a slow reader holds the pipeline', async () => {
    const sink = slowSink();
    const w = createStdoutWriter({ stream: sink.stream, highWaterMark: 1 });
    const accepted = defer<void>();
    w.write(ok(1), () => accepted.resolve());
    let called = false;
    void accepted.promise.then(() => (called = true));
    await new Promise((r) => setImmediate(r));
    expect(sink.waiting()).toBe(1);
    expect(called).toBe(false);
    sink.release();
    await accepted.promise;
    expect(called).toBe(true);
  });

  it('fails with the stream\'s error (EPIPE: a closed pipe), not counting it as written', async () => {
    const stats = createStats();
    const broken = new Writable({
      write(_c, _e, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    broken.on('error', () => {});
    await expect(pipeline(Readable.from([ok(1)]), createStdoutWriter({ stream: broken, stats }))).rejects.toMatchObject({ code: 'EPIPE' });
    expect(stats.written).toBe(0);
  });
});

describe('a closed pipe in library use', () => {
  /** A byte stream that is a closed pipe: each write fails with EPIPE, and so does its 'error' event, later. */
  function closedPipe() {
    return new Writable({
      write(_c, _e, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
  }

  it('never leaves the stream\'s own EPIPE error unhandled (no listener of the caller\'s needed)', async () => {
    const stream = closedPipe();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await pipeline(Readable.from([ok(1), ok(2)]), createStdoutWriter({ stream })).catch(() => {});
      await new Promise((r) => setImmediate(r));
      expect(stream.listenerCount('error')).toBe(1);
      stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })); // as a socket does, after the fact
      expect(() => stream.emit('error', new Error('disk on fire'))).toThrow('disk on fire'); // any other error still surfaces
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it('ends createPipeline() quietly, as the CLI does, and stops the source (nothing more is asked)', async () => {
    const stream = closedPipe();
    let pulled = 0;
    async function* source() {
      for (let i = 1; i <= 10_000; i++) {
        pulled++;
        yield ok(i);
      }
    }
    await expect(createPipeline([Readable.from(source()), createStdoutWriter({ stream, highWaterMark: 1 })])).resolves.toBeUndefined();
    expect(pulled).toBeLessThan(100);
  });

  it('createPipeline() still rejects with any other error of the sink', async () => {
    const stream = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('no space'), { code: 'ENOSPC' })) });
    stream.on('error', () => {});
    await expect(createPipeline([Readable.from([ok(1)]), createStdoutWriter({ stream })])).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});
