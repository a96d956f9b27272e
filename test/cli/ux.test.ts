// Papercuts a user meets at the command line (issue 21): times with units, a stderr that cannot
// be written, a plain-http endpoint that is not this machine. The built CLI, spawned.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
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

describe('what the run cost', () => {
  type Rec = { id: string; usage: { promptTokens: number; responseTokens: number }; dedupedFrom?: string; cached?: boolean };
  const summaryOf = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { tokensIn: number; tokensOut: number; cost: Record<string, unknown> & { usd: number; saved: { cacheUsd: number; dedupeUsd: number } } };

  it('the summary prices the tokens (a money line, a `cost` object); --dedupe\'s copies and --cache\'s hits are saved at what their answers cost', () => {
    const q = join(box.dir, 'q.txt');
    writeFileSync(q, Array.from({ length: 60 }, (_, i) => `What is two times ${i % 6}?`).join('\n') + '\n');
    const price = ['--price-in', '2', '--price-out', '10', '--temperature', '0'];
    const out = join(box.dir, 'out');
    const r = cli(box.dir, ['--emulator', '--dedupe', ...price, '--cache', join(box.dir, 'c.lmdb'), '-o', out, '--summary-json', join(box.dir, 's1.json'), q]);
    expect(r.status).toBe(0);
    const s1 = summaryOf(join(box.dir, 's1.json'));
    expect(s1.cost.usd).toBeCloseTo((s1.tokensIn * 2 + s1.tokensOut * 10) / 1e6, 12);
    expect(s1.cost).toMatchObject({ currency: 'USD', priceIn: 2, priceOut: 10, prices: 'from --price-in/--price-out' });
    // Each copy saved what its representative's answer cost.
    const recs = recordsOnDisk(out) as unknown as Rec[];
    const byId = new Map(recs.map((x) => [x.id, x]));
    const copies = recs.filter((x) => x.dedupedFrom);
    expect(copies).toHaveLength(54);
    const saved = copies.reduce((a, x) => a + (byId.get(x.dedupedFrom!)!.usage.promptTokens * 2 + byId.get(x.dedupedFrom!)!.usage.responseTokens * 10) / 1e6, 0);
    expect(s1.cost.saved.dedupeUsd).toBeCloseTo(saved, 12);
    const money = r.stderr.split('\n').find((l) => l.trim().startsWith('cost: '));
    expect(money).toMatch(/^ {2}cost: \$0\.\d{4} for gemini-flash-latest at \$2\/M in, \$10\/M out \(from --price-in\/--price-out\); saved \$0\.\d{4} by --dedupe \(54 copies\)$/);

    // The same job into a new directory: the cache answers all; nothing paid, the first run's cost saved.
    const again = cli(box.dir, ['--emulator', ...price, '--cache', join(box.dir, 'c.lmdb'), '-o', join(box.dir, 'out2'), '--summary-json', join(box.dir, 's2.json'), q]);
    expect(again.status).toBe(0);
    const s2 = summaryOf(join(box.dir, 's2.json'));
    expect(s2.cost.usd).toBe(0);
    expect(s2.cost.saved.cacheUsd).toBeCloseTo(s1.cost.usd + s1.cost.saved.dedupeUsd, 12);
  });

  it('a model the price table lacks: "unknown price for model X", never a guess', () => {
    const r = cli(box.dir, ['--emulator', '--model', 'gemini-2.5-flash-my-tune', '-o', join(box.dir, 'o'), '--summary-json', join(box.dir, 's.json'), prompts(2)]);
    expect(r.status).toBe(0);
    expect(summaryOf(join(box.dir, 's.json')).cost).toMatchObject({ model: 'gemini-2.5-flash-my-tune', currency: 'USD' }); // a family member: priced as its family
    const u = cli(box.dir, ['--emulator', '--model', 'my-model', '-o', join(box.dir, 'o2'), '--summary-json', join(box.dir, 'u.json'), prompts(2)]);
    expect(u.stderr).toMatch(/ {2}cost: unknown price for model my-model: .*give --price-in and --price-out/);
    expect(summaryOf(join(box.dir, 'u.json')).cost).toEqual({ model: 'my-model', unknown: expect.stringMatching(/^unknown price for model my-model/) });
  });
});
