// Content-checked resume (SPEC §10), through the built CLI against an emulator in this process:
// changed lines stop a run before any request (exit 2), --redo-changed answers exactly them and
// moves the old records to superseded.jsonl, crash-safe.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { requestSpecOf } from '../../src/request/spec.js';
import { firstDifference, quoteAt } from '../../src/output/changed-lines.js';
import { env, recordsOnDisk, start } from '../helpers/cli-helpers.js';
import { readJsonl, readOutputs, tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const MODEL = 'gemini-flash-latest';

describe('content-checked resume', () => {
  it('shows a changed prompt where it changed: two long prompts that differ late do not read alike', () => {
    const was = 'Explain inflation to a retired engineer in two sentences (case 7).';
    const now = 'Explain inflation to a retired engineer in two sentences (case 7, edited).';
    const at = firstDifference(was, now);
    expect(at).toBe(64);
    expect(quoteAt(was, at)).toBe('"…wo sentences (case 7)."');
    expect(quoteAt(now, at)).toBe('"…wo sentences (case 7, edited)."');
    expect(quoteAt('gamma', firstDifference('gamma', 'GAMMA edited'))).toBe('"gamma"');
    expect(quoteAt('x'.repeat(100))).toBe(JSON.stringify('x'.repeat(60) + '…'));
  });

  it('a different stdin job into the same directory: exit 2 before any request; --redo-changed answers exactly the changed lines', async () => {
    const emu = await startEmulator({ trackPrompts: true });
    try {
      const out = join(dir, 'out');
      const run = (args: string[], input: string) => start(['-o', out, '--rpm', 'off', ...args], { env: env(emu.url), input });
      const first = run([], 'one\ntwo\nthree\n');
      expect(await first.exited, first.stderr()).toBe(0);
      expect(emu.stats.requests).toBe(3);

      const second = run([], 'one\nTWO, changed\nthree\nfour\n');
      expect(await second.exited).toBe(2);
      expect(second.stderr()).toContain('1 input line(s) changed since their records were written');
      expect(second.stderr()).toContain('first: stdin:2 — was "two", now "TWO, changed"');
      expect(second.stderr()).toContain('--redo-changed');
      expect(emu.stats.requests).toBe(3); // nothing sent

      const redo = run(['--redo-changed'], 'one\nTWO, changed\nthree\nfour\n');
      expect(await redo.exited, redo.stderr()).toBe(0);
      expect(emu.stats.requests).toBe(5); // stdin:2 again, stdin:4 new
      expect([...emu.stats.successes.keys()].sort()).toEqual(['TWO, changed', 'four', 'one', 'three', 'two']);
      const o = readOutputs(out);
      expect(o.all.map((r) => `${r.id}=${r.prompt}`).sort()).toEqual(['stdin:1=one', 'stdin:2=TWO, changed', 'stdin:3=three', 'stdin:4=four']);
      const sup = readJsonl(join(out, 'superseded.jsonl'));
      expect(sup.map((r) => `${r.id}=${r.prompt}`)).toEqual(['stdin:2=two']);
      const verified = start(['verify', '-o', out, '-'], { input: 'one\nTWO, changed\nthree\nfour\n' });
      expect(await verified.exited).toBe(0);
      const stale = start(['verify', '-o', out, '-'], { input: 'one\ntwo\nthree\nfour\n' });
      expect(await stale.exited).toBe(1);

      // The same job again: nothing changed, nothing sent; the spool is gone.
      const again = run([], 'one\nTWO, changed\nthree\nfour\n');
      expect(await again.exited).toBe(0);
      expect(emu.stats.requests).toBe(5);
      expect(readFileSync(join(out, '.gempipe-job.json'), 'utf8')).toContain(MODEL);
    } finally {
      await emu.close();
    }
  });

  it('an edited line of a file, a changed --system, and ./x.txt for x.txt', async () => {
    const emu = await startEmulator({ trackPrompts: true });
    try {
      const x = join(dir, 'x.txt');
      writeFileSync(x, 'alpha\nbeta\ngamma\ndelta\nepsilon\n');
      const out = join(dir, 'out');
      const run = (args: string[], cwd = dir) => start(['-o', out, '--rpm', 'off', ...args], { env: env(emu.url), cwd });
      expect(await run(['x.txt']).exited).toBe(0);
      expect(await run(['./x.txt']).exited).toBe(0); // the same source: nothing re-sent
      mkdirSync(join(dir, 'sub'));
      expect(await run(['sub/../x.txt']).exited).toBe(0);
      expect(emu.stats.requests).toBe(5);

      writeFileSync(x, 'alpha\nbeta\nGAMMA edited\ndelta\nepsilon\n');
      const edited = run(['x.txt']);
      expect(await edited.exited).toBe(2);
      expect(edited.stderr()).toContain('first: x.txt:3 — was "gamma", now "GAMMA edited"');
      expect(emu.stats.requests).toBe(5);
      expect(await run(['--redo-changed', './x.txt']).exited).toBe(0);
      expect(emu.stats.requests).toBe(6);
      expect(emu.stats.successes.get('GAMMA edited')).toBe(1);
      expect(await start(['verify', '-o', out, 'x.txt'], { cwd: dir }).exited).toBe(0);

      const sys = run(['--system', 'Answer in French.', 'x.txt']);
      expect(await sys.exited).toBe(2);
      expect(sys.stderr()).toContain('5 input line(s) changed');
      expect(sys.stderr()).toContain('the prompt is the same, so the model, --system');
      expect(emu.stats.requests).toBe(6);

      const hash = requestSpecOf({ model: MODEL, system: undefined }).hash;
      const recs = readOutputs(out).all;
      expect(recs).toHaveLength(5);
      for (const r of recs) expect(r.hash).toBe(hash(r.prompt));
    } finally {
      await emu.close();
    }
  });

  it('SIGKILL at 20 instants during a --redo-changed run, resuming each time: every line exactly once, none answered twice', async () => {
    const x = join(dir, 'x.txt');
    const N = 240;
    writeFileSync(x, Array.from({ length: N }, (_, i) => `question ${i + 1}: what is ${i + 1} squared?`).join('\n') + '\n');
    const out = join(dir, 'out');
    const newHash = requestSpecOf({ model: MODEL, system: 'Be brief.' }).hash;
    const answeredNew = new Set<string>(); // prompts on disk with the new system instruction
    const resent: string[] = [];
    let killAt = Infinity;
    let child: ReturnType<typeof start> | undefined;
    let redoing = false;
    const emu = await startEmulator({
      latencyMs: 1,
      onRequest: (prompt) => {
        if (redoing && answeredNew.has(prompt)) resent.push(prompt);
      },
      onAnswer: () => {
        if (emu.stats.ok >= killAt && child && child.child.exitCode === null) child.child.kill('SIGKILL');
      },
    });
    try {
      const base = ['-o', out, '--shard-size', '9', '--concurrency', '6', '--rpm', 'off', '--fsync', 'none', '-q'];
      child = start([...base, x], { env: env(emu.url) });
      expect(await child.exited).toBe(0);
      redoing = true;
      let kills = 0;
      for (let k = 0; k < 40 && kills < 20; k++) {
        // Kill points spread over the run, a few early ones inside the move to superseded.jsonl.
        killAt = emu.stats.ok + 1 + ((k * 5) % 13);
        child = start([...base, '--system', 'Be brief.', '--redo-changed', x], { env: env(emu.url) });
        const code = await child.exited;
        for (const r of recordsOnDisk(out, (n) => n.startsWith('shard-'))) if (r.hash === newHash(r.prompt)) answeredNew.add(r.prompt);
        if (code === 'SIGKILL') kills++;
        else expect(code, child.stderr()).toBe(0);
        if (code === 0) break;
      }
      expect(kills).toBe(20);
      killAt = Infinity;
      child = start([...base, '--system', 'Be brief.', '--redo-changed', x], { env: env(emu.url) });
      expect(await child.exited, child.stderr()).toBe(0);
      const o = readOutputs(out);
      expect(o.all).toHaveLength(N);
      expect(new Set(o.all.map((r) => r.id)).size).toBe(N);
      for (const r of o.all) expect(r.hash).toBe(newHash(r.prompt));
      expect(resent).toEqual([]);
      // Every old record was kept once in superseded.jsonl, none twice.
      const sup = readJsonl(join(out, 'superseded.jsonl'));
      expect(sup).toHaveLength(N);
      expect(new Set(sup.map((r) => r.id)).size).toBe(N);
    } finally {
      await emu.close();
    }
  });
});
