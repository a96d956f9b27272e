// A full disk loses nothing paid for (SPEC §10): on a 2 MB tmpfs the run stops sending, writes
// the answers it has into the space it kept in reserve, exits 1 naming the file; after the
// filesystem grows, a rerun completes with every line once and no answer paid for twice.
// Needs root and mount(2) (tests run as root here); skipped with a message elsewhere.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { createRotatingWriter, WriteFailedError } from '../../src/stages/rotating-writer.js';
import type { OutputRecord } from '../../src/records.js';
import { env, recordsOnDisk, start } from '../helpers/cli-helpers.js';
import { readOutputs, tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
let mnt: string | undefined;

function mountTmpfs(at: string, size: string): boolean {
  mkdirSync(at, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]).status === 0;
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  mnt = join(dir, 'fs');
  if (!mountTmpfs(mnt, '2m')) {
    console.warn('disk-full tests skipped: cannot mount a tmpfs here (needs root and mount permission)');
    mnt = undefined;
  }
});
afterEach(() => {
  if (mnt) spawnSync('umount', [mnt]);
  cleanup();
});

/** Every file ends at a record boundary: no torn line. */
function expectWhole(out: string): void {
  for (const name of readdirSync(out)) {
    if (!name.endsWith('.jsonl')) continue;
    const b = readFileSync(join(out, name));
    if (b.length) expect(b[b.length - 1], `${name} ends mid-record`).toBe(0x0a);
  }
}

describe('a full disk', () => {
  it('2 MB tmpfs: exit 1 with the message, nothing torn, every answer received on disk; after growing it the rerun pays for nothing twice', async (ctx) => {
    if (!mnt) return ctx.skip();
    const input = join(dir, 'in.txt');
    const N = 6000;
    writeFileSync(input, Array.from({ length: N }, (_, i) => `Prompt ${i + 1}: ${'explain the water cycle to a curious ten-year-old in plain words, '.repeat(2)}`).join('\n') + '\n');
    const answered: string[] = [];
    let second = false;
    const resent: string[] = [];
    const firstRun = new Set<string>();
    const emu = await startEmulator({
      onAnswer: (p) => {
        if (!second) answered.push(p);
      },
      onRequest: (p) => {
        if (second && firstRun.has(p)) resent.push(p);
      },
    });
    try {
      const out = join(mnt, 'out');
      const r1 = start(['-o', out, '--concurrency', '32', '--rpm', 'off', '--write-retry', '2', input], { env: env(emu.url) });
      expect(await r1.exited).toBe(1);
      expect(r1.stderr()).toMatch(new RegExp(`disk full writing ${out}/shard-\\d{5}\\.jsonl; free space — retrying for 2 s`));
      expectWhole(out);
      const onDisk = recordsOnDisk(out);
      expect(onDisk.length).toBeGreaterThan(1000);
      expect(onDisk.length).toBeLessThan(N);
      // Every answer the emulator gave is on disk: none was received and then thrown away.
      expect(new Set(onDisk.map((r) => r.prompt))).toEqual(new Set(answered));
      for (const p of answered) firstRun.add(p);

      expect(spawnSync('mount', ['-o', 'remount,size=16m', mnt]).status).toBe(0);
      second = true;
      const r2 = start(['-o', out, '--concurrency', '32', '--rpm', 'off', input], { env: env(emu.url) });
      expect(await r2.exited, r2.stderr()).toBe(0);
      const all = readOutputs(out).all;
      expect(all).toHaveLength(N);
      expect(new Set(all.map((r) => r.id)).size).toBe(N);
      expect(resent).toEqual([]);
      expect(readdirSync(out)).not.toContain('.gempipe-reserve');
    } finally {
      await emu.close();
    }
  });

  it('a rerun on a disk still nearly full sends nothing and says why; on a full one too, leaving no temporary file; after freeing space nothing is paid twice', async (ctx) => {
    if (!mnt) return ctx.skip();
    const input = join(dir, 'in.txt');
    const N = 6000;
    writeFileSync(input, Array.from({ length: N }, (_, i) => `Prompt ${i + 1}: ${'explain the water cycle to a curious ten-year-old in plain words, '.repeat(2)}`).join('\n') + '\n');
    let requests = 0;
    const answered = new Set<string>();
    let resent = 0;
    const emu = await startEmulator({
      onRequest: (p) => {
        requests++;
        if (answered.has(p)) resent++;
      },
      onAnswer: (p) => void answered.add(p),
    });
    try {
      const out = join(mnt, 'out');
      const args = ['-o', out, '--concurrency', '32', '--rpm', 'off', '--write-retry', '2', input];
      const r1 = start(args, { env: env(emu.url) });
      expect(await r1.exited).toBe(1);
      const onDisk = recordsOnDisk(out).length;
      expect(new Set(recordsOnDisk(out).map((r) => r.prompt))).toEqual(answered);
      // Rerun without freeing space: the reserve cannot be made, so nothing is asked.
      const before = requests;
      const r2 = start(args, { env: env(emu.url) });
      expect(await r2.exited).toBe(1);
      expect(r2.stderr()).toMatch(new RegExp(`cannot keep \\d+ KB free in ${out}/\\.gempipe-reserve, .*disk full; nothing was sent\\. Free space`));
      expect(requests - before).toBe(0);
      expect(recordsOnDisk(out)).toHaveLength(onDisk);
      // The disk full to the last block: a start-up write fails, names its file, and leaves nothing behind.
      spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=4k']);
      const names = readdirSync(out).sort();
      const r3 = start(args, { env: env(emu.url) });
      expect(await r3.exited).toBe(1);
      expect(r3.stderr()).toMatch(new RegExp(`gempipe: error: cannot write ${out}/\\.gempipe[-.a-z]*: disk full; nothing was sent\\. Free space`));
      expect(r3.stderr()).not.toMatch(/ENOSPC/);
      expect(requests - before).toBe(0);
      expect(readdirSync(out).sort()).toEqual(names); // no .tmp, no reserve, no lock left
      expect(names.filter((n) => /tmp|reserve|lock/.test(n))).toEqual([]);
      // Space freed: the rerun completes and pays for nothing twice.
      spawnSync('rm', [join(mnt, 'fill')]);
      expect(spawnSync('mount', ['-o', 'remount,size=16m', mnt]).status).toBe(0);
      const r4 = start(args, { env: env(emu.url) });
      expect(await r4.exited, r4.stderr()).toBe(0);
      expect(readOutputs(out).all).toHaveLength(N);
      expect(resent).toBe(0);
    } finally {
      await emu.close();
    }
  });

  it('the writer alone: a write that never fits is retried for retryForMs, then fails naming the file, each file cut back to whole records', async (ctx) => {
    if (!mnt) return ctx.skip();
    spawnSync('mount', ['-o', 'remount,size=64k', mnt]);
    const out = join(mnt, 'w');
    let stalls = 0;
    const w = createRotatingWriter({ dir: out, shardSize: 1_000_000, retryForMs: 300, retryEveryMs: 50, onStall: () => stalls++ });
    const rec = (i: number): OutputRecord => ({ id: `x:${i}`, source: 'x', line: i, prompt: 'p', response: 'r'.repeat(900), model: 'm', finishReason: 'STOP', usage: { promptTokens: 1, responseTokens: 1, totalTokens: 2 }, attempts: 1, latencyMs: 1 });
    const failed = new Promise<Error>((res) => w.on('error', res));
    const closed = new Promise((res) => w.on('close', res));
    for (let i = 1; i <= 200; i++) if (!w.write(rec(i))) await new Promise((r) => w.once('drain', r).once('error', r));
    const err = await failed;
    expect(err).toBeInstanceOf(WriteFailedError);
    expect(err.message).toMatch(new RegExp(`^cannot write ${out}/shard-00000\\.jsonl: disk full; retried for 0\\.\\d s`));
    expect(stalls).toBe(1);
    await closed;
    expectWhole(out);
    // The batch cut short keeps its whole records (64 KB holds ~60 of these).
    expect(readOutputs(out).all.length).toBeGreaterThan(40);
  });
});
