// Sockets and files together under `ulimit -n` (SPEC §10): the budget's arithmetic, and the
// built CLI with --concurrency 512 over 2,000 input files under `ulimit -n 256`.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { startEmulator } from '../../src/emulator/server.js';
import { fdBudget } from '../../src/fd-budget.js';
import { MAIN, env } from '../helpers/cli-helpers.js';
import { readOutputs, tempDir } from '../helpers/util.js';
import { spawn } from 'node:child_process';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe('the file-descriptor budget', () => {
  it('keeps connections and input files under the limit, says so, and refuses a limit with no room', () => {
    expect(fdBudget({ concurrency: 16, openFiles: 8, inProcessEmulator: false }, { limit: 1024, open: 20 })).toEqual({ connections: 16, openFiles: 8 });
    // 256 - 20 open - 8 output - 16 slack = 212 free: 8 files, 204 sockets.
    const b = fdBudget({ concurrency: 512, openFiles: 8, inProcessEmulator: false }, { limit: 256, open: 20 });
    expect(b).toMatchObject({ connections: 204, openFiles: 8 });
    expect(b.note).toBe('at most 204 connections at once (--concurrency 512 asks for 256): the open-file limit is 256 (`ulimit -n`); raise it for more');
    // An emulator in the process holds both ends of each connection.
    expect(fdBudget({ concurrency: 512, openFiles: 64, inProcessEmulator: true }, { limit: 256, open: 20 })).toMatchObject({ connections: 79, openFiles: 52 });
    expect(() => fdBudget({ concurrency: 4, openFiles: 8, inProcessEmulator: false }, { limit: 40, open: 20 })).toThrow(UsageError);
    expect(fdBudget({ concurrency: 4, openFiles: 8, inProcessEmulator: false }, undefined)).toEqual({ connections: 4, openFiles: 8 });
  });

  it('--concurrency 512 over 2,000 input files under `ulimit -n 256` completes, every line once', async () => {
    const inDir = join(dir, 'in');
    mkdirSync(inDir);
    for (let f = 0; f < 2000; f++) writeFileSync(join(inDir, `f${String(f).padStart(4, '0')}.txt`), `file ${f}: what is ${f} plus one?\nfile ${f}: and ${f} plus two?\n`);
    const emu = await startEmulator({ latencyMs: 40 });
    try {
      const out = join(dir, 'out');
      const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${MAIN}" -o "${out}" --concurrency 512 --open-files 64 --rpm off "${inDir}"`], { env: env(emu.url) });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((res) => child.on('exit', (c) => res(c)));
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/at most \d+ connections at once \(--concurrency 512 asks for 256\)/);
      expect(stderr).not.toMatch(/unexpected|EMFILE|too many open files/);
      const all = readOutputs(out).all;
      expect(all).toHaveLength(4000);
      expect(new Set(all.map((r) => r.id)).size).toBe(4000);
      expect(emu.stats.maxInFlight).toBeLessThan(256);
    } finally {
      await emu.close();
    }
  });
});
