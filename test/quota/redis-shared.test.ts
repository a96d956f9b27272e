// One quota for many processes (--redis, SPEC §12), against a real redis-server: a shared budget
// survives the four ways Redis loses Bottleneck's settings; three CLI processes hold one emulator
// quota between them; a RetryInfo 429 seen by one pauses the others.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { connectRedis, skewWarning } from '../../src/quota/bottleneck-redis.js';
import { Budget } from '../../src/quota/budget.js';
import { env, start } from '../helpers/cli-helpers.js';
import { useRedis } from '../helpers/redis.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const redis = useRedis('--redis tests');
const available = redis.available;

async function take(b: Budget, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => b.take(1)));
}

describe.runIf(available)('a quota shared through Redis', () => {
  it('a shared budget goes on after its settings key is deleted, after FLUSHALL, after it expires, and after a restart', async () => {
    const r = redis.server;
    const links = [connectRedis(r.url), connectRedis(r.url)];
    const id = 'gempipe:test-loss:rpm';
    const key = `b_${id}_settings`;
    const budgets = links.map((l) => new Budget(60_000, { connection: l.connection, id }));
    const both = (n: number) => Promise.all(budgets.map((b) => take(b, n)));
    try {
      await both(20);
      expect(r.cli('exists', key)).toBe('1');
      r.cli('del', key);
      await both(20);
      r.cli('flushall');
      await both(20);
      r.cli('pexpire', key, '1');
      for (let i = 0; i < 1000 && r.cli('exists', key) !== '0'; i++) await new Promise((res) => setImmediate(res));
      await both(20);
      await r.restart();
      await both(20);
      expect(r.cli('exists', key)).toBe('1'); // rebuilt
    } finally {
      for (const b of budgets) await b.stop();
      for (const l of links) await l.close();
    }
  });

  it('three processes with --redis and --rpm are paced as one against a 50 ms bucket; a 429 holds only its own request', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ rpm: 6000, quota: { mode: 'bucket', burstMs: 50 }, log: true, latencyMs: 10 });
    const inputs = [1, 2, 3].map((p) => {
      const f = join(box.dir, `in${p}.txt`);
      writeFileSync(f, Array.from({ length: 200 }, (_, i) => `proc${p} q${i + 1}: what is ${i} squared?${p === 1 && i === 99 ? ' [[emu:429x1@2s]]' : ''}`).join('\n') + '\n');
      return f;
    });
    const runs = inputs.map((f, i) => start(['-o', join(box.dir, `out${i + 1}`), '--redis', r.url, '--rpm', '6000', '--concurrency', '16', f], { env: env(box.emu.url) }));
    const codes = await Promise.all(runs.map((x) => x.exited));
    expect(codes, runs.map((x) => x.stderr()).join('\n')).toEqual([0, 0, 0]);
    for (let i = 1; i <= 3; i++) expect(readOutputs(join(box.dir, `out${i}`)).all).toHaveLength(200);
    const log = box.emu.stats.log;
    // One budget, paced for all: alone each would send 98/s into a bucket of 100/s that holds 5
    // — together that is a storm of 429s; paced as one, the scripted one and at most a few strays.
    const refused = log.filter((e) => e.status === 429 && !e.prompt.includes('[[emu:'));
    expect(refused.length).toBeLessThanOrEqual(6);
    const scripted = log.filter((e) => e.prompt.includes('[[emu:429x1@2s]]'));
    expect(scripted.map((e) => e.status)).toEqual([429, 200]);
    expect(scripted[1].t - scripted[0].t).toBeGreaterThanOrEqual(2000);
  });

  it('losing Redis mid-run pauses sending with a message; when it is back the run finishes, nothing lost', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ latencyMs: 5 });
    const f = join(box.dir, 'in.txt');
    writeFileSync(f, Array.from({ length: 600 }, (_, i) => `question ${i + 1}: what is ${i} cubed?`).join('\n') + '\n');
    const run = start(['-o', join(box.dir, 'out'), '--redis', r.url, '--rpm', '6000', '--concurrency', '8', f], { env: env(box.emu.url) });
    while (box.emu.stats.ok < 100) await new Promise((res) => setTimeout(res, 5));
    await r.stop();
    // Sending stops: the count settles (what was past the limiter finishes) while Redis is away.
    let last = -1;
    while (box.emu.stats.requests !== last) {
      last = box.emu.stats.requests;
      await new Promise((res) => setTimeout(res, 300));
    }
    expect(run.stderr()).toMatch(/lost Redis at redis:\/\/127\.0\.0\.1:\d+.*: no request is sent until it is back/);
    expect(box.emu.stats.requests).toBeLessThan(600);
    await r.restart();
    expect(await run.exited, run.stderr()).toBe(0);
    expect(run.stderr()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is back: sending again/);
    const all = readOutputs(join(box.dir, 'out')).all;
    expect(all).toHaveLength(600);
    expect(new Set(all.map((x) => x.id)).size).toBe(600);
  });

  it('--rpd with --redis is one count for every process: two processes send 25 requests between them, then both stop', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({});
    const inputs = [1, 2].map((p) => {
      const f = join(box.dir, `d${p}.txt`);
      writeFileSync(f, Array.from({ length: 40 }, (_, i) => `day ${p}-${i + 1}`).join('\n') + '\n');
      return f;
    });
    const runs = inputs.map((f, i) => start(['-o', join(box.dir, `od${i}`), '--redis', r.url, '--rpd', '25', '--rpm', 'off', '--concurrency', '4', f], { env: env(box.emu.url) }));
    const codes = await Promise.all(runs.map((x) => x.exited));
    expect(codes).toEqual([1, 1]);
    expect(box.emu.stats.requests).toBe(25);
    for (const x of runs) expect(x.stderr()).toMatch(/reached --rpd 25: 25 requests to gemini-flash-latest today/);
    const written = [0, 1].map((i) => readOutputs(join(box.dir, `od${i}`)).all.length);
    expect(written[0] + written[1]).toBe(25);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit' }).format(Date.now());
    expect(r.cli('keys', `gempipe:*:rpd:gemini-flash-latest:${day}`)).toMatch(/rpd/);
  });

  it('measures this clock against Redis\'s and warns past a second', async () => {
    const link = connectRedis(redis.server.url);
    try {
      expect(Math.abs(await link.skewMs())).toBeLessThan(1000); // one machine
    } finally {
      await link.close();
    }
    expect(skewWarning(400)).toBeUndefined();
    expect(skewWarning(-2500)).toMatch(/^this machine's clock is 2\.5 s behind the Redis server's/);
    expect(skewWarning(1500)).toMatch(/1\.5 s ahead of/);
  });
});
