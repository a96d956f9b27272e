// gempipe coordinator + gempipe worker over BullMQ, the built CLI against a real redis-server and
// the emulator: three workers, one SIGKILLed mid-run, the coordinator SIGKILLed once and started
// again, and one Redis restart (without persistence: the queue is lost) — every record exactly
// once, and `gempipe verify` passes.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { env, start } from '../helpers/cli-helpers.js';
import { useRedis } from '../helpers/redis.js';
import { readOutputs, sandbox, until } from '../helpers/util.js';

const box = sandbox();
const redis = useRedis('coordinator tests');
const available = redis.available;


describe.runIf(available)('coordinator and workers', () => {
  it('three workers (one SIGKILLed), the coordinator SIGKILLed and restarted, Redis restarted: every record once, verify passes', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ latencyMs: 5 });
    const input = join(box.dir, 'in.txt');
    const N = 600;
    writeFileSync(input, Array.from({ length: N }, (_, i) => `ticket ${i + 1}: the printer on floor ${i % 7} is on fire`).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const e = env(box.emu.url);
    const workers = [1, 2, 3].map(() => start(['worker', '--redis', r.url, '--queue', 'q1', '--concurrency', '4', '--lock-ms', '1000'], { env: e }));
    const coordArgs = ['coordinator', '--redis', r.url, '--queue', 'q1', '--max-queued', '24', '-o', out, '--shard-size', '50', input];
    try {
      let coord = start(coordArgs, { env: e });
      await until(() => box.emu.stats.ok >= 100, { what: '100 answers', timeoutMs: 60_000 });
      workers[0].child.kill('SIGKILL');
      await until(() => box.emu.stats.ok >= 250, { what: '250 answers', timeoutMs: 60_000 });
      coord.child.kill('SIGKILL');
      expect(await coord.exited).toBe('SIGKILL');
      coord = start(coordArgs, { env: e });
      await until(() => box.emu.stats.ok >= 400, { what: '400 answers', timeoutMs: 60_000 });
      await r.restart(); // the queue, the settings and the quota state are gone
      const code = await coord.exited;
      expect(code, coord.stderr()).toBe(0);
      expect(coord.stderr()).toMatch(/took over the lock of a run that is gone/);
      expect(coord.stderr()).toMatch(/worker \S+:\d+: \d+ record\(s\)/);
      const all = readOutputs(out).all;
      expect(all).toHaveLength(N);
      expect(new Set(all.map((x) => x.id)).size).toBe(N);
      expect(all.filter((x) => 'error' in x)).toEqual([]);
      const v = start(['verify', '-o', out, input], { env: e });
      expect(await v.exited).toBe(0);
    } finally {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  });

  it('--dedupe, --cache and --post on a coordinator: requests = distinct prompts, duplicates and cache hits never queued, --post where records are written', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ trackPrompts: true });
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, Array.from({ length: 60 }, (_, i) => `ticket ${i % 12}: the printer is on fire`).join('\n') + '\n');
    const e = env(box.emu.url);
    const cache = join(box.dir, 'cache.lmdb');
    const worker = start(['worker', '--redis', r.url, '--queue', 'q3', '--concurrency', '4'], { env: e });
    try {
      const flags = ['coordinator', '--redis', r.url, '--queue', 'q3', '--dedupe', '--temperature', '0', '--cache', cache, '--post', 'builtin:wordcount'];
      const one = start([...flags, '-o', join(box.dir, 'one'), input], { env: e });
      expect(await one.exited, one.stderr()).toBe(0);
      expect(box.emu.stats.requests).toBe(12);
      const recs = readOutputs(join(box.dir, 'one')).all as Array<{ dedupedFrom?: string; words?: number; response?: string }>;
      expect(recs).toHaveLength(60);
      expect(recs.filter((x) => x.dedupedFrom !== undefined)).toHaveLength(48);
      expect(recs.every((x) => x.words === x.response!.trim().split(/\s+/).length)).toBe(true);
      // A new directory with the same cache: nothing queued, nothing asked.
      const two = start([...flags, '-o', join(box.dir, 'two'), input], { env: e });
      expect(await two.exited, two.stderr()).toBe(0);
      expect(box.emu.stats.requests).toBe(12);
      expect(readOutputs(join(box.dir, 'two')).all).toHaveLength(60);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });

  it('a coordinator refuses a queue that holds records of a job asked differently', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({});
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, 'a\nb\nc\n');
    // No workers: the first coordinator's records stay queued; it is stopped (SIGINT) with them there.
    const first = start(['coordinator', '--redis', r.url, '--queue', 'q2', '--drain-timeout', '0', '-o', join(box.dir, 'o1'), input], { env: env(box.emu.url) });
    await until(() => r.cli('llen', 'bull:gempipe-q2:wait') === '3', { what: 'three records queued', everyMs: 20 });
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    const second = start(['coordinator', '--redis', r.url, '--queue', 'q2', '--system', 'Be terse.', '-o', join(box.dir, 'o2'), input], { env: env(box.emu.url) });
    expect(await second.exited).toBe(2);
    expect(second.stderr()).toContain('holds 3 record(s) of a job asked with other settings');
  });
});
