// --context end to end against the emulator: 2,000 questions over one long manual make one
// explicit cache, used by every request (usage.cachedTokens) and deleted at the end, and the
// summary's cost shows what it saved; a run SIGKILLed mid-way leaves the cache to the next run,
// which adopts it (or, with --context-cache off, deletes it), saying so; a prefix below the
// minimum or with --context-cache off makes no cache; --dry-run prices the job both ways.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { CONTEXT_FILE } from '../../src/output/layout.js';
import type { SuccessRecord } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { expectExactlyOnce, readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const MANUAL = 'The maintenance manual. ' + 'Valves must be checked weekly and every check logged with the time and the checker\'s name. '.repeat(120);

function questions(dir: string, n: number): string {
  const p = join(dir, 'questions.txt');
  writeFileSync(p, Array.from({ length: n }, (_, i) => `Question ${i}: what does the manual say about check ${i}?`).join('\n') + '\n');
  return p;
}
const contextState = (out: string) => JSON.parse(readFileSync(join(out, CONTEXT_FILE), 'utf8')) as { state: string; name?: string };

describe('--context', () => {
  it('2,000 questions over one manual: one cache, used by every request, deleted at the end; the summary\'s cost shows the saving', async () => {
    box.emu = await startEmulator({});
    const manual = join(box.dir, 'manual.txt');
    writeFileSync(manual, MANUAL);
    const out = join(box.dir, 'out');
    const summary = join(box.dir, 'summary.json');
    const r = await runAgainst(box.emu, [questions(box.dir, 2000)], { out, context: manual, model: 'gemini-2.5-flash', concurrency: '64', summaryJson: summary });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(box.emu.caches).toMatchObject({ created: 1, deleted: 1 });
    const recs = readOutputs(out).all as SuccessRecord[];
    expect(recs).toHaveLength(2000);
    const cached = recs[0].usage.cachedTokens!;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(recs.every((x) => x.usage.cachedTokens === cached && x.usage.promptTokens > cached)).toBe(true);
    // The answer follows the conversation: the manual's turn, then the question.
    expect(recs[0].response).toMatch(/\(turn 2\)$/);
    expect(r.stderr).toMatch(/--context cached as cachedContents\/\S+ \([\d,]+ tokens/);
    expect(r.stderr).toMatch(/deleted context cache cachedContents\//);
    expect(r.stderr).toMatch(/tokens: \d+ in \(\d+ of them cached\)/);
    expect(r.stderr).toMatch(/cost: \$[\d.]+ for gemini-2\.5-flash at \$0\.3\/M in, \$2\.5\/M out \(.*\); saved \$[\d.]+ by context caching \(\d+ input tokens cached\); the context cache's creation and storage \$[\d.]+ \(billed\): \$[\d.]+ without caching/);
    const cost = JSON.parse(readFileSync(summary, 'utf8')).cost as { usd: number; onlineUsd: number; cachedTokens: number; contextStorageUsd: number; withoutContextCacheUsd: number; saved: { cachedInputUsd: number } };
    // 2,000 × the cached tokens at $0.03/M instead of $0.30/M; the cache's creation (once, at $0.30/M) and storage paid back.
    expect(cost.cachedTokens).toBe(2000 * cached);
    expect(cost.saved.cachedInputUsd).toBeCloseTo((2000 * cached * (0.3 - 0.03)) / 1e6, 9);
    expect(cost.contextStorageUsd).toBeGreaterThanOrEqual((cached * 0.3) / 1e6);
    expect(cost.usd).toBeCloseTo(cost.onlineUsd + cost.contextStorageUsd, 9); // storage billed once
    expect(cost.withoutContextCacheUsd - cost.usd).toBeCloseTo(cost.saved.cachedInputUsd - cost.contextStorageUsd, 9);
    expect(cost.usd).toBeLessThan(cost.withoutContextCacheUsd);
    expect(contextState(out).state).toBe('deleted');
  });

  it('SIGKILLed mid-run: the next run adopts the cache it left (no second cache) and deletes it at the end; with --context-cache off it is deleted', async () => {
    const manual = join(box.dir, 'manual.txt');
    writeFileSync(manual, MANUAL);
    const input = questions(box.dir, 600);
    let child: ReturnType<typeof start> | undefined;
    box.emu = await startEmulator({
      onAnswer: () => {
        if (box.emu!.stats.ok >= 150 && child && child.child.exitCode === null) child.child.kill('SIGKILL');
      },
    });
    const args = (out: string, ...more: string[]) => ['-o', out, '--context', manual, '--model', 'gemini-2.5-flash', '--rpm', 'off', '--concurrency', '16', ...more, input];
    const out = join(box.dir, 'out');
    child = start(args(out), { env: env(box.emu.url) });
    expect(await child.exited).toBe('SIGKILL');
    expect(box.emu.caches).toMatchObject({ created: 1, deleted: 0 });
    expect(contextState(out).state).toBe('live');
    child = undefined;
    const rerun = start(args(out), { env: env(box.emu.url) });
    expect(await rerun.exited, rerun.stderr()).toBe(0);
    expect(rerun.stderr()).toMatch(/adopted context cache cachedContents\/\S+ \([\d,]+ tokens\), left by an earlier run that was stopped before deleting it/);
    expect(box.emu.caches).toMatchObject({ created: 1, deleted: 1 });
    expectExactlyOnce(out, 600);
    expect((readOutputs(out).all as SuccessRecord[]).every((x) => (x.usage.cachedTokens ?? 0) >= 1024)).toBe(true);

    // Killed again; this time the rerun wants no explicit cache: the leftover is deleted, saying so.
    const out2 = join(box.dir, 'out2');
    child = start(args(out2), { env: env(box.emu.url) });
    expect(await child.exited).toBe('SIGKILL');
    child = undefined;
    expect(box.emu.caches).toMatchObject({ created: 2, deleted: 1 });
    const off = start(args(out2, '--context-cache', 'off'), { env: env(box.emu.url) });
    expect(await off.exited, off.stderr()).toBe(0);
    expect(off.stderr()).toMatch(/deleted context cache cachedContents\/\S+, left by an earlier run that was stopped before deleting it \(--context-cache off\)/);
    expect(box.emu.caches).toMatchObject({ created: 2, deleted: 2 });
    expectExactlyOnce(out2, 600);
  });

  it('a context under the minimum, or --context-cache off, is sent first in every request (implicit caching bills the repeated prefix); --dry-run prices both', async () => {
    box.emu = await startEmulator({});
    const short = join(box.dir, 'short.txt');
    writeFileSync(short, 'Valves are checked weekly.');
    const r = await runAgainst(box.emu, [questions(box.dir, 20)], { out: join(box.dir, 'a'), context: short, model: 'gemini-2.5-flash', concurrency: '1' });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/is under gemini-2\.5-flash's 1,024-token minimum for an explicit cache: it is sent first in every request/);
    const manual = join(box.dir, 'manual.txt');
    writeFileSync(manual, MANUAL);
    const p = await runAgainst(box.emu, [questions(box.dir, 20)], { out: join(box.dir, 'b'), context: manual, contextCache: 'off', model: 'gemini-2.5-flash', concurrency: '1' });
    expect(p.exitCode).toBe(0);
    expect(box.emu.caches.created).toBe(0);
    const recs = (readOutputs(join(box.dir, 'b')).all as SuccessRecord[]).sort((x, y) => x.line - y.line);
    expect(recs[0].usage.cachedTokens).toBeUndefined(); // the first request makes the prefix known
    expect(recs.slice(1).every((x) => (x.usage.cachedTokens ?? 0) >= 1024)).toBe(true);
    expect(box.emu.caches.implicitHits).toBe(19);

    const plan = await runAgainst(box.emu, [questions(box.dir, 2000)], { out: join(box.dir, 'c'), context: manual, model: 'gemini-2.5-flash', dryRun: true });
    expect(plan.stdout).toMatch(/with --context: +~[\d,]+ tokens in every request, cached explicitly \(over gemini-2\.5-flash's 1,024-token minimum; created once, stored while the run lasts\): \$[\d.]+ with it, \$[\d.]+ without caching/);
    const [, withIt, without] = /: \$([\d.]+) with it, \$([\d.]+) without caching/.exec(plan.stdout)!;
    expect(Number(withIt)).toBeLessThan(Number(without));
  });
});
