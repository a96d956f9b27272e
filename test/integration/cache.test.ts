// --cache against the emulator through the SDK and the built CLI: a rerun into a new directory
// costs nothing; two processes share one cache; a SIGKILL mid-write leaves it usable.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheStats, pruneCache } from '../../src/reuse/response-cache.js';
import { parseDuration } from '../../src/util/duration.js';
import { startEmulator } from '../../src/emulator/server.js';
import type { SuccessRecord } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, writeInputs, sandbox } from '../helpers/util.js';

const box = sandbox();

const strip = (r: SuccessRecord) => {
  const { cached: _c, attempts: _a, usage: _u, latencyMs: _l, ...rest } = r;
  return rest;
};

describe('--cache', () => {
  it('the same job into a new directory sends nothing and writes the same records, marked cached; without --temperature 0 it is not used', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const inputs = writeInputs(box.dir, 2, 60);
    const cache = join(box.dir, 'answers.lmdb');
    const first = await runAgainst(box.emu, inputs, { out: join(box.dir, 'a'), cache, temperature: '0' });
    expect(first.exitCode).toBe(0);
    expect(box.emu.stats.requests).toBe(120);
    const second = await runAgainst(box.emu, inputs, { out: join(box.dir, 'b'), cache, temperature: '0' });
    expect(second).toMatchObject({ exitCode: 0, succeeded: 120, cached: 120 });
    expect(box.emu.stats.requests).toBe(120);
    const a = readOutputs(join(box.dir, 'a')).all as SuccessRecord[];
    const b = readOutputs(join(box.dir, 'b')).all as SuccessRecord[];
    const byId = new Map(a.map((r) => [r.id, r]));
    expect(b).toHaveLength(120);
    for (const r of b) {
      expect(r).toMatchObject({ cached: true, attempts: 0, usage: { totalTokens: 0 } });
      expect(strip(r)).toEqual(strip(byId.get(r.id)!));
    }
    expect(JSON.stringify(await cacheStats(cache))).not.toContain('test-secret-key');
    const sampled = await runAgainst(box.emu, inputs, { out: join(box.dir, 'c'), cache });
    expect(sampled.stderr).toContain('is not used: without --temperature 0');
    expect(box.emu.stats.requests).toBe(240);
  });

  it('--cache-ttl makes older entries misses (and replaces them); prune removes by age; durations parse', async () => {
    expect([parseDuration('500ms'), parseDuration('45s'), parseDuration('30m'), parseDuration('12h'), parseDuration('7d'), parseDuration('1.5h'), parseDuration('7 days')]).toEqual([500, 45_000, 1_800_000, 43_200_000, 604_800_000, 5_400_000, undefined]);
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 20);
    const cache = join(box.dir, 'ttl.lmdb');
    await runAgainst(box.emu, inputs, { out: join(box.dir, 'a'), cache, temperature: '0' });
    const fresh = await runAgainst(box.emu, inputs, { out: join(box.dir, 'b'), cache, temperature: '0', cacheTtl: '1h' });
    expect(fresh.cached).toBe(20);
    const stale = await runAgainst(box.emu, inputs, { out: join(box.dir, 'c'), cache, temperature: '0', cacheTtl: '1ms' });
    expect(stale.cached).toBe(0);
    expect(box.emu.stats.requests).toBe(40);
    expect(await pruneCache(cache, 3_600_000)).toEqual({ removed: 0, kept: 20 });
    expect(await pruneCache(cache, 0)).toEqual({ removed: 20, kept: 0 });
    await expect(runAgainst(box.emu, inputs, { out: join(box.dir, 'd'), cacheTtl: '1h' })).rejects.toThrow('`--cache-all` and `--cache-ttl` need `--cache PATH`');
  });

  it('two processes sharing one cache both finish; a run after them sends nothing', async () => {
    box.emu = await startEmulator({ latencyMs: 5 });
    const p = (n: number) => Array.from({ length: n }, (_, i) => `shared question ${i}: what is ${i} cubed?`);
    writeFileSync(join(box.dir, 'x.txt'), p(300).join('\n') + '\n');
    writeFileSync(join(box.dir, 'y.txt'), p(300).reverse().join('\n') + '\n');
    const cache = join(box.dir, 'shared.lmdb');
    const run = (input: string, out: string) => start(['-o', join(box.dir, out), '--cache', cache, '--temperature', '0', '--rpm', 'off', '--concurrency', '8', join(box.dir, input)], { env: env(box.emu!.url) });
    const a = run('x.txt', 'ox');
    const b = run('y.txt', 'oy');
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    expect(readOutputs(join(box.dir, 'ox')).all).toHaveLength(300);
    expect(readOutputs(join(box.dir, 'oy')).all).toHaveLength(300);
    expect((await cacheStats(cache)).entries).toBe(300);
    const before = box.emu.stats.requests;
    expect(before).toBeLessThan(600); // each answered once or twice, never more
    const c = run('x.txt', 'oz');
    expect(await c.exited).toBe(0);
    expect(box.emu.stats.requests).toBe(before);
  });

  it('a SIGKILL while the cache is being written leaves it usable', async () => {
    const inputs = writeInputs(box.dir, 1, 2000);
    const cache = join(box.dir, 'k.lmdb');
    let child: ReturnType<typeof start> | undefined;
    box.emu = await startEmulator({
      onAnswer: () => {
        if (box.emu!.stats.ok >= 700 && child && child.child.exitCode === null) child.child.kill('SIGKILL');
      },
    });
    child = start(['-o', join(box.dir, 'k1'), '--cache', cache, '--temperature', '0', '--rpm', 'off', '--concurrency', '32', ...inputs], { env: env(box.emu.url) });
    expect(await child.exited).toBe('SIGKILL');
    const st = await cacheStats(cache);
    expect(st.entries).toBeGreaterThan(0);
    expect(st.entries).toBeLessThanOrEqual(box.emu.stats.ok);
    child = undefined;
    const again = start(['-o', join(box.dir, 'k2'), '--cache', cache, '--temperature', '0', '--rpm', 'off', ...inputs], { env: env(box.emu.url) });
    expect(await again.exited, again.stderr()).toBe(0);
    const recs = readOutputs(join(box.dir, 'k2')).all;
    expect(recs).toHaveLength(2000);
    expect(recs.filter((r) => r.cached === true)).toHaveLength(st.entries);
  });
});
