// The built CLI as a user runs it: spawned, with real signals and pipes, against an emulator
// started here. Needs `npm run build` first (npm test does it).

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/server.js';
import { tempDir, writeInputs, readOutputs } from './helpers/util.js';
import { MAIN, cli as runCli, env, recordsOnDisk, start, until } from './helpers/cli-helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const cli = (args: string[], opts: Parameters<typeof runCli>[2] = {}) => runCli(dir, args, opts);

describe('the CLI', () => {
  it('exits 2 naming the culprit for a missing input, an unknown flag, a bad number, and no key', () => {
    const missing = cli(['--emulator', 'nope.txt']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.txt');
    const flag = cli(['--emulator', '--frobnicate']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain('--frobnicate');
    const zero = cli(['--emulator', '--concurrency', '0', '-']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('Expected `--concurrency` to be an integer from 1 to 10000, got `0`');
    const nokey = cli(['-'], { noKey: true });
    expect(nokey.status).toBe(2);
    expect(nokey.stderr).toContain('GEMINI_API_KEY');
    expect(cli(['--emulator', '-o', dir, '--format', 'text', '-']).status).toBe(2);
  });

  it('`| head -n 2` prints two JSON lines and exits 0', () => {
    writeInputs(dir, 4, 2000);
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" --emulator -q -o - . | head -n 2; echo "status=\${PIPESTATUS[0]}"`], { cwd: dir, encoding: 'utf8', env: env() });
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(3);
    expect(JSON.parse(lines[0]).response).toMatch(/^Two times/);
    expect(JSON.parse(lines[1]).id).toMatch(/in-\d+\.txt:\d+$/);
    expect(lines[2]).toBe('status=0');
  });

  it('reads stdin when piped and writes only records to stdout', () => {
    const r = cli(['--emulator', '-o', '-', '--format', 'text', '--ordered'], { input: 'What is two times 21?\nWhat is two times 4?\n' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('What is two times 21? - Two times 21 is 42.\nWhat is two times 4? - Two times 4 is 8.\n');
    expect(r.stderr).toContain('EMULATED');
  });

  it('SIGINT drains in-flight requests, writes them, prints the summary and exits 130', async () => {
    const emu = await startEmulator({ latencyMs: 100 });
    try {
      writeInputs(dir, 1, 400);
      const out = join(dir, 'out');
      const { child, exited, stderr } = start(['-o', out, '--concurrency', '8', '--summary-json', join(dir, 's.json'), dir], { env: env(emu.url) });
      await until(() => emu.stats.ok >= 20);
      child.kill('SIGINT');
      const code = await exited;
      expect(code).toBe(130);
      expect(stderr()).toContain('stopping');
      expect(stderr()).toContain('gempipe: interrupted');
      const summary = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
      expect(summary.outcome).toBe('interrupted');
      // Every answer the emulator sent was written: the in-flight ones were drained, not dropped.
      expect(readOutputs(out).all.length).toBe(emu.stats.ok);
    } finally {
      await emu.close();
    }
  });

  it('SIGINT sends nothing new: the prompts read ahead are left for a rerun, only those in flight are drained', async () => {
    const emu = await startEmulator({});
    try {
      // 20 quick answers, then every prompt takes 300 ms: at the signal, 8 are in flight and
      // hundreds are read ahead into the stages' buffers.
      writeInputs(dir, 1, 400, (_f, l) => (l <= 20 ? `quick ${l}` : `slow ${l} [[emu:slow=300]]`));
      const out = join(dir, 'out');
      const { child, exited } = start(['-o', out, '--concurrency', '8', dir], { env: env(emu.url) });
      await until(() => emu.stats.ok >= 20 && emu.stats.inFlight >= 8);
      const atSignal = emu.stats.requests;
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      // Those in flight, and at most one more round sent before the signal was handled (was: all 400).
      expect(emu.stats.requests - atSignal).toBeLessThanOrEqual(8);
      expect(readOutputs(out).all.length).toBe(emu.stats.ok);
      const rerun = start(['-o', out, '--concurrency', '100', dir], { env: env(emu.url) });
      expect(await rerun.exited).toBe(0);
      expect(readOutputs(out).all.length).toBe(400);
    } finally {
      await emu.close();
    }
  });

  it('a second SIGINT exits at once, and --drain-timeout abandons hung requests', async () => {
    writeInputs(dir, 1, 50, (_f, l) => `hang ${l} [[emu:hang]]`);
    const emu = await startEmulator({});
    try {
      const run = async (args: string[], signals: number) => {
        const { child, exited, stderr } = start(['-o', join(dir, 'out'), '--concurrency', '4', ...args, join(dir, 'in-000.txt')], { env: env(emu.url) });
        await until(() => emu.stats.inFlight >= 4);
        for (let i = 0; i < signals; i++) {
          child.kill('SIGINT');
          await new Promise((r) => setTimeout(r, 50));
        }
        const code = await exited;
        // the killed run's hung connections close on the emulator side soon after
        await until(() => emu.stats.inFlight === 0);
        return { code, stderr: stderr() };
      };
      const twice = await run(['--drain-timeout', '600'], 2);
      expect(twice.code).toBe(130);
      expect(twice.stderr).toContain('interrupted again');
      const drained = await run(['--drain-timeout', '0.2'], 1);
      expect(drained.code).toBe(130);
      expect(drained.stderr).toContain('drain timeout');
    } finally {
      await emu.close();
    }
  });

  it('after SIGKILL at 24 different points, resume ends with every line exactly once and nothing written is sent again', async () => {
    writeInputs(dir, 3, 120);
    const out = join(dir, 'out');
    const onDisk = new Set<string>();
    const resent: string[] = [];
    let killAt = Infinity;
    let child: ReturnType<typeof spawn> | undefined;
    const emu = await startEmulator({
      latencyMs: 1,
      trackPrompts: true,
      onRequest: (prompt) => {
        if (onDisk.has(prompt)) resent.push(prompt);
      },
      onAnswer: () => {
        if (emu.stats.ok >= killAt && child && child.exitCode === null) child.kill('SIGKILL');
      },
    });
    try {
      const args = [MAIN, '-o', out, '--shard-size', '7', '--concurrency', '6', '--rpm', 'off', '--fsync', 'none', '-q', dir];
      let kills = 0;
      for (let k = 0; k < 24; k++) {
        killAt = emu.stats.ok + 3 + ((k * 7) % 11);
        child = spawn(process.execPath, args, { env: env(emu.url), stdio: 'ignore' });
        const code = await new Promise((res) => child!.on('exit', (c, sig) => res(sig ?? c)));
        if (code === 'SIGKILL') kills++;
        for (const r of recordsOnDisk(out)) onDisk.add(r.prompt);
        if (code === 0) break;
      }
      expect(kills).toBeGreaterThanOrEqual(20);
      killAt = Infinity;
      // (async spawn: the emulator lives in this process, so spawnSync would deadlock)
      const last = spawn(process.execPath, args, { env: env(emu.url), stdio: 'ignore' });
      expect(await new Promise((res) => last.on('exit', (c) => res(c)))).toBe(0);
      const o = readOutputs(out); // throws on any line that is not valid JSON
      const ids = o.all.map((r) => r.id);
      expect(ids.length).toBe(360);
      expect(new Set(ids).size).toBe(360);
      expect(resent).toEqual([]);
      for (const s of o.shards) expect(s.records.length).toBeLessThanOrEqual(7);
    } finally {
      await emu.close();
    }
  });
  it('bad inputs: an unreadable, a binary, an empty and a vanishing file, and stdin cut mid-line; nothing else is lost', async () => {
    const emu = await startEmulator({ trackPrompts: true });
    try {
      const big = join(dir, 'a-big.txt');
      writeFileSync(big, Array.from({ length: 5000 }, (_, i) => `big ${i + 1}: two times ${i + 1}`).join('\n') + '\n');
      const locked = join(dir, 'b-locked.txt');
      writeFileSync(locked, 'secret prompt 1\nsecret prompt 2\n');
      chmodSync(locked, 0o000);
      const binary = join(dir, 'c-binary.dat');
      writeFileSync(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x0a, 0x41]));
      const empty = join(dir, 'd-empty.txt');
      writeFileSync(empty, '');
      const vanish = join(dir, 'e-vanish.txt');
      writeFileSync(vanish, 'gone 1\ngone 2\n');
      chmodSync(dir, 0o777);
      const out = join(dir, 'out');
      // Root reads any file whatever its mode: then the CLI runs as `nobody`, as a user would
      // (if `nobody` can reach the build; else the locked file is simply readable).
      const root = process.getuid?.() === 0;
      const nobody = { uid: 65534, gid: 65534 };
      const nobodyCanRun = root && spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(MAIN)}, 4); require('fs').accessSync(${JSON.stringify(dir)}, 2)`], nobody).status === 0;
      const asUser = nobodyCanRun ? nobody : {};
      const lockedReadable = root && !nobodyCanRun;
      const { child, exited, stderr: stderrText } = start(['-o', out, '--open-files', '1', '--concurrency', '4', '--rpm', 'off', '--summary-json', join(dir, 's.json'), big, locked, binary, empty, vanish, '-'],
        { env: env(emu.url), cwd: dir, ...asUser });
      child.stdin!.end('from stdin 1\nfrom stdin 2 (no newline: the producer died)');
      // The big file is read first (--open-files 1): the last one vanishes while it is in progress.
      await until(() => emu.stats.requests > 0, 2);
      rmSync(vanish);
      expect(await exited).toBe(3);
      const stderr = stderrText();
      if (!lockedReadable) expect(stderr).toMatch(/cannot read input .*b-locked\.txt: permission denied; its prompts are not done/);
      expect(stderr).toMatch(/skipped input .*c-binary\.dat: a NUL byte at offset 8: a binary or UTF-16 file/);
      expect(stderr).toMatch(/cannot read input .*e-vanish\.txt: the file vanished before it was read/);
      expect(stderr).not.toContain('cli-test-key-987654321');
      const recs = readOutputs(out).all;
      const ids = new Set(recs.map((r) => r.id));
      expect(ids.size).toBe(recs.length);
      expect(recs.length).toBe(5002 + (lockedReadable ? 2 : 0));
      for (let l = 1; l <= 5000; l++) expect(ids.has(`${big}:${l}`)).toBe(true);
      expect(ids.has('stdin:2')).toBe(true);
      expect(recs.find((r) => r.id === 'stdin:2')!.prompt).toBe('from stdin 2 (no newline: the producer died)');
      const summary = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
      expect(summary.inputErrors.map((e: { source: string }) => e.source)).toEqual(lockedReadable ? [binary, vanish] : [locked, binary, vanish]);
      expect(JSON.stringify(recs)).not.toContain('cli-test-key-987654321');
      for (const [, n] of emu.stats.successes) expect(n).toBe(1);
    } finally {
      await emu.close();
    }
  });

  it('two runs started together into one directory: one runs, the other exits 2 having sent nothing', async () => {
    const emu = await startEmulator({ latencyMs: 20, trackPrompts: true });
    try {
      const inputs = writeInputs(dir, 1, 200);
      const out = join(dir, 'out');
      const opts = { env: env(emu.url), cwd: dir };
      const a = start(['-o', out, '--concurrency', '8', '-q', inputs[0]], opts);
      const b = start(['-o', out, '--concurrency', '8', '-q', inputs[0]], opts);
      const codes = [await a.exited, await b.exited].sort();
      expect(codes).toEqual([0, 2]);
      expect(a.stderr() + b.stderr()).toMatch(/Another gempipe run is using `--out .*`: pid \d+, started /);
      expect(emu.stats.requests).toBe(200); // the refused run sent nothing
      const all = readOutputs(out).all;
      expect(all).toHaveLength(200);
      expect(new Set(all.map((r) => r.id)).size).toBe(200);
    } finally {
      await emu.close();
    }
  });

  it('`./x.txt`, `x.txt` and `sub/../x.txt` are one source: a rerun under another spelling sends nothing again', async () => {
    const emu = await startEmulator({ trackPrompts: true });
    try {
      writeFileSync(join(dir, 'x.txt'), Array.from({ length: 20 }, (_, i) => `What is two times ${i}?`).join('\n') + '\n');
      mkdirSync(join(dir, 'sub'));
      // An output written before sources were normalised holds `./x.txt` ids: they count too.
      mkdirSync(join(dir, 'out'));
      writeFileSync(join(dir, 'out', 'shard-00000.jsonl'), JSON.stringify({ id: './x.txt:1', source: './x.txt', line: 1, prompt: 'What is two times 0?', response: 'Two times 0 is 0.' }) + '\n');
      for (const spelling of ['./x.txt', 'x.txt', 'sub/../x.txt']) {
        const r = start(['-o', 'out', '-q', spelling], { env: env(emu.url), cwd: dir });
        expect(await r.exited, r.stderr()).toBe(0);
      }
      expect(emu.stats.requests).toBe(19);
      const ids = readOutputs(join(dir, 'out')).all.map((r) => r.id);
      expect(ids).toHaveLength(20);
      expect(new Set(ids.map((i) => i.replace(/^\.\//, ''))).size).toBe(20);
      expect(ids.filter((i) => i.startsWith('x.txt:'))).toHaveLength(19);
    } finally {
      await emu.close();
    }
  });
});
