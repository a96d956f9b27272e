// `gempipe embed --coordinator` with `gempipe worker`s over BullMQ (the built CLI, a real
// redis-server, the emulator): the workers read the embedding shape from the queue's settings,
// group the texts they hold into calls, and every text gets its own vector exactly once.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EmbeddingRecord } from '../../src/embed/embed-record.js';
import { embeddingOf } from '../../src/emulator/embed.js';
import { startEmulator } from '../../src/emulator/server.js';
import { env, start } from '../helpers/cli-helpers.js';
import { useRedis } from '../helpers/redis.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const redis = useRedis('embed coordinator tests');

describe.runIf(redis.available)('gempipe embed --coordinator', () => {
  it('two workers embed every text once with its own vector, many texts to a call; verify passes', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ latencyMs: 5 });
    const N = 300;
    const texts = Array.from({ length: N }, (_, i) => `chunk ${i}: notes on subject ${i % 11}`);
    const input = join(box.dir, 'docs.txt');
    writeFileSync(input, texts.join('\n') + '\n');
    const out = join(box.dir, 'out');
    const e = env(box.emu.url);
    const workers = [1, 2].map(() => start(['worker', '--redis', r.url, '--queue', 'qe', '--concurrency', '60'], { env: e }));
    try {
      const coord = start(['embed', '--coordinator', '--redis', r.url, '--queue', 'qe', '--dimensions', '8', '--task-type', 'CLUSTERING', '--rpm', 'off', '-q', '-o', out, input], { env: e });
      expect(await coord.exited, coord.stderr()).toBe(0);
      const all = readOutputs(out).all as unknown as EmbeddingRecord[];
      expect(all).toHaveLength(N);
      expect(new Set(all.map((x) => x.id)).size).toBe(N);
      for (const rec of all) expect(rec.embedding, rec.id).toEqual(embeddingOf(texts[rec.line - 1], 3072, 'CLUSTERING').slice(0, 8));
      // Each text asked once, in calls of many texts (a worker groups what it holds at once).
      expect(box.emu.stats.admitted).toBe(N);
      expect(box.emu.stats.requests).toBeLessThan(N / 2);
      const v = start(['verify', '-o', out, input], { env: e });
      expect(await v.exited, v.stderr()).toBe(0);
    } finally {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  });
});
