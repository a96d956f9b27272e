// Papercuts a user meets at the command line (issue 21): times with units, a stderr that cannot
// be written, a plain-http endpoint that is not this machine. The built CLI, spawned.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, env, MAIN, recordsOnDisk } from '../helpers/cli-helpers.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

function prompts(n: number, extra: string[] = []): string {
  const p = join(box.dir, 'q.txt');
  writeFileSync(p, [...Array.from({ length: n }, (_, i) => `What is two times ${i}?`), ...extra].join('\n') + '\n');
  return p;
}

describe('times take units', () => {
  it('--timeout 5s and --drain-timeout 1m run (a bare number is still ms / s)', () => {
    const out = join(box.dir, 'out');
    const r = cli(box.dir, ['--emulator', '--timeout', '5s', '--retry-base-delay', '250ms', '--drain-timeout', '1m', '-o', out, prompts(3)]);
    expect(r.stderr).not.toMatch(/Expected/);
    expect(r.status).toBe(0);
    expect(recordsOnDisk(out)).toHaveLength(3);
    const bad = cli(box.dir, ['--emulator', '--timeout', '5 parsecs', '-o', out, prompts(3)]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Expected `--timeout` to be a time like 1500ms, 5s or 2m/);
  });
});

describe('a stderr that cannot be written', () => {
  /** The CLI with its stderr a pipe this test closes at once: every message it writes fails (EPIPE). */
  function withClosedStderr(args: string[]): Promise<number | null> {
    const child = spawn(process.execPath, [MAIN, ...args], { env: env(), cwd: box.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.destroy();
    return new Promise((res) => child.on('exit', (code) => res(code)));
  }

  it('does not change the exit code of a job that finished: 0, with every record written', async () => {
    const out = join(box.dir, 'out');
    expect(await withClosedStderr(['--emulator', '-o', out, prompts(20)])).toBe(0);
    expect(recordsOnDisk(out)).toHaveLength(20);
  });

  it('nor of one with failures: 3', async () => {
    const out = join(box.dir, 'out');
    expect(await withClosedStderr(['--emulator', '-o', out, prompts(5, ['[[emu:block]] no'])])).toBe(3);
    expect(recordsOnDisk(out)).toHaveLength(6);
  });

  it('a full one (/dev/full) neither', () => {
    const out = join(box.dir, 'out');
    const r = spawnFull(['--emulator', '-o', out, prompts(10)]);
    expect(r).toBe(0);
    expect(recordsOnDisk(out)).toHaveLength(10);
  });
});

function spawnFull(args: string[]): number | null {
  const fd = openSync('/dev/full', 'w');
  try {
    return spawnSync(process.execPath, [MAIN, ...args], { env: env(), cwd: box.dir, stdio: ['ignore', 'ignore', fd] }).status;
  } finally {
    closeSync(fd);
  }
}

describe('--json-schema failures', () => {
  it('keep the paid, invalid answer in the failure record ("response")', () => {
    const out = join(box.dir, 'out');
    const schema = join(box.dir, 's.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { label: { type: 'string' } }, required: ['label'] }));
    const r = cli(box.dir, ['--emulator', '--json-schema', schema, '--schema-retries', '1', '-o', out, prompts(2, ['bad [[emu:schemabad]]'])]);
    expect(r.status).toBe(3);
    const failures = recordsOnDisk(out, (n) => n === 'failures.jsonl') as unknown as Array<{ line: number; attempts: number; response?: string; error: { status: string } }>;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ line: 3, attempts: 2, error: { status: 'INVALID_RESPONSE' } });
    expect(() => JSON.parse(failures[0].response!)).not.toThrow();
  });
});

describe('the key over plain http:// to another host', () => {
  const warning = /warning: the API key goes in clear text over http:\/\/ to /g;
  it('is said once, naming the host, even with -q', () => {
    const r = cli(box.dir, ['-q', '--base-url', 'http://0.0.0.0:1', '--max-attempts', '1', '-o', '-'], { input: 'q\n' });
    expect(r.status).toBe(1); // nothing listens there
    expect(r.stderr.match(warning)).toHaveLength(1);
    expect(r.stderr).toMatch(/to 0\.0\.0\.0:1 \(--base-url/);
  });

  it('is not said for loopback (::1, localhost; the rest in test/gemini/plain-http.test.ts)', () => {
    for (const url of ['http://[::1]:1', 'http://localhost:1']) {
      const r = cli(box.dir, ['-q', '--base-url', url, '--max-attempts', '1', '-o', '-'], { input: 'q\n' });
      expect(r.status, url).toBe(1);
      expect(r.stderr, url).not.toMatch(warning);
    }
  });
});
