// One run per output directory: the lock, against the emulator through the real pipeline.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { startEmulator } from '../../src/emulator/server.js';
import { LOCK_FILE } from '../../src/output/layout.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { expectExactlyOnce, writeInputs, sandbox } from '../helpers/util.js';

const box = sandbox();

describe('one run per output directory', () => {
  it('a second run into a directory in use exits 2 naming the owner, having sent nothing; the first finishes and frees it', async () => {
    box.emu = await startEmulator({ latencyMs: 30 });
    const inputs = writeInputs(box.dir, 1, 100);
    const out = join(box.dir, 'out');
    const first = runAgainst(box.emu, inputs, { out, concurrency: '4' });
    // The first run holds the lock once its directory has one (it takes it before reading).
    while (!existsSync(join(out, LOCK_FILE))) await new Promise((r) => setImmediate(r));
    const sentBefore = box.emu.stats.requests;
    const owner = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    const second = runAgainst(box.emu, inputs, { out, concurrency: '4' });
    await expect(second).rejects.toThrow(UsageError);
    await expect(second).rejects.toThrow(new RegExp(`Another gempipe run is using \`--out ${out.replace(/[/.]/g, '\\$&')}\`: pid ${process.pid}, started `));
    expect(box.emu.stats.requests - sentBefore).toBeLessThanOrEqual(4 + 4); // only the first run's
    expect((await first).exitCode).toBe(0);
    expectExactlyOnce(out, 100);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('the lock of a process that is gone (SIGKILL) is taken over without a flag, and said', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 10);
    const out = join(box.dir, 'out');
    mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout), host: hostname(), startedAt: '2026-11-23T00:00:00.000Z' }));
    const r = await runAgainst(box.emu, inputs, { out });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`took over the lock of a run that is gone \\(pid ${dead.stdout} on ${hostname()}`));
    expectExactlyOnce(out, 10);
  });

  it('a lock held on another host (a shared filesystem) is not taken over; --dry-run takes none', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 10);
    const out = join(box.dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: 1, host: 'other-host', startedAt: '2026-11-23T00:00:00.000Z' }));
    await expect(runAgainst(box.emu, inputs, { out })).rejects.toThrow(/pid 1 on host other-host \(a shared filesystem/);
    const plan = await runAgainst(box.emu, inputs, { out, dryRun: true });
    expect(plan.exitCode).toBe(0);
    expect(box.emu.stats.requests).toBe(0);
  });
});
