// gempipe batches list|cancel (issue 21 item 12) against the emulator: each job asked on the
// endpoint the journal says it was created on, states read a page of the server's list at a
// time (more jobs than a page), cancelled and succeeded jobs not counted live, an unknown state
// saying why; `--base-url` and `-o` before the sub-command; `| head` ending quietly.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { batchesCommand } from '../../src/batch/batches-cli.js';
import { loadJournal, saveJournal, type Journal, type JournalJob } from '../../src/batch/journal.js';
import { startEmulator } from '../../src/emulator/server.js';
import { env, MAIN, start } from '../helpers/cli-helpers.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

/** Batch jobs created on the emulator (inline requests), newest last. */
async function createBatches(url: string, n: number, name = (i: number) => `other-${i}`): Promise<string[]> {
  const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: url } });
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    names.push((await ai.batches.create({ model: 'gemini-flash-latest', src: [{ contents: [{ parts: [{ text: `q ${i}` }], role: 'user' }] }], config: { displayName: name(i) } })).name!);
  }
  return names;
}

const job = (id: string, batch: string | undefined, o: Partial<JournalJob> = {}): JournalJob => ({ id, state: batch ? 'created' : 'packed', records: 2, displayName: `gempipe-t-${id}`, model: 'm', batch, ...o });

function writeJournal(out: string, jobs: JournalJob[]): void {
  mkdirSync(out, { recursive: true });
  saveJournal(out, { version: 1, token: 't', jobs } satisfies Journal);
}

async function list(out: string, conn: Parameters<typeof batchesCommand>[2], what: 'list' | 'cancel' = 'list') {
  const lines: string[] = [];
  const code = await batchesCommand(what, out, conn, (l) => (lines.push(l), true));
  return { code, lines };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

describe('gempipe batches list|cancel', () => {
  it('asks each job where the journal says it was created, a page of the server\'s list at a time; cancelled and succeeded jobs are not live', async () => {
    const events: string[] = [];
    box.emu = await startEmulator({ batchTimeScale: 1, onBatchEvent: (k) => events.push(k) });
    const [a, b, c] = await createBatches(box.emu.url, 3, (i) => `gempipe-t-00000${i + 1}`);
    await createBatches(box.emu.url, 120); // newer than ours: ours are on the second page of 100
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: box.emu.url } });
    await ai.batches.cancel({ name: b });
    const out = join(box.dir, 'out');
    writeJournal(out, [job('000001', a, { endpoint: box.emu.url }), job('000002', b, { endpoint: box.emu.url }), job('000003', c, { endpoint: box.emu.url }),
      job('000004', undefined), job('000005', 'batches/old', { state: 'written', remoteState: 'JOB_STATE_SUCCEEDED' })]);
    events.length = 0;
    const r = await list(out, { apiKey: 'k', envBaseUrl: 'http://127.0.0.1:1' }); // GEMINI_BASE_URL elsewhere: the journal wins
    expect(r.code).toBe(0);
    expect(r.lines[0]).toBe(`batch jobs of ${out}: 5 (2 live on the server, 1 ended there, waiting for a run of the same command to write or redo them, 1 not submitted yet)`);
    expect(r.lines.slice(1).map((l) => l.trim().split(/\s+/).slice(0, 6).join(' '))).toEqual([
      `000001 created 2 request(s) ${a} pending`, `000002 created 2 request(s) ${b} cancelled`, `000003 created 2 request(s) ${c} pending`,
      '000004 packed 2 request(s) -', '000005 written 2 request(s) batches/old succeeded']);
    expect(events.filter((e) => e === 'list')).toHaveLength(2); // two pages, no get per job
    expect(events.filter((e) => e === 'get')).toHaveLength(0);
  });

  it('an unknown state says why: the endpoint cannot be reached, or answers an error; an --emulator run\'s job is gone with it', async () => {
    const port = await deadPort();
    const out = join(box.dir, 'out');
    writeJournal(out, [job('000001', 'batches/x', { endpoint: `http://127.0.0.1:${port}` }), job('000002', 'batches/y', { endpoint: 'http://127.0.0.1:9', emulated: true })]);
    const r = await list(out, { apiKey: 'k' });
    expect(r.lines[0]).toBe(`batch jobs of ${out}: 2 (0 live on the server, 2 in a state not known)`);
    expect(r.lines[1]).toContain(`batches/x  unknown (cannot reach http://127.0.0.1:${port}: ECONNREFUSED)`);
    expect(r.lines[2]).toContain('batches/y  unknown (created on the in-process emulator of an --emulator run, gone with it)');
    box.emu = await startEmulator();
    const wrong = await list(out, { apiKey: 'invalid-key-0000', baseUrl: box.emu.url });
    expect(wrong.lines[1]).toMatch(new RegExp(`batches/x  unknown \\(${box.emu.url.replace(/[.]/g, '\\.')} answered HTTP 400 INVALID_ARGUMENT: API key not valid`));
  });

  it('cancel: a live job is cancelled, a succeeded one left to be written, one the server does not know given up in the journal; each on its own endpoint', async () => {
    box.emu = await startEmulator({ batchTimeScale: 1 }); // a batch pends for a minute here
    const fast = await startEmulator({ batchTimeScale: 6000 }); // and ends in 0.11 s there
    try {
      const [live] = await createBatches(box.emu.url, 1);
      const [done] = await createBatches(fast.url, 1);
      const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: fast.url } });
      const deadline = Date.now() + 30_000;
      while ((await ai.batches.get({ name: done })).state !== 'JOB_STATE_SUCCEEDED') expect(Date.now()).toBeLessThan(deadline);
      const out = join(box.dir, 'out');
      writeJournal(out, [job('000001', live, { endpoint: box.emu.url }), job('000002', done, { endpoint: fast.url }), job('000003', 'batches/gone', { endpoint: box.emu.url })]);
      const r = await list(out, { apiKey: 'k' }, 'cancel');
      expect(r.lines).toEqual([
        `cancelled ${live} (batch 000001, 2 request(s))`,
        `${done} (batch 000002) has succeeded already: a run of the same command writes its records`,
        `gave up batches/gone (batch 000003): ${box.emu.url} does not know it; the next run puts its 2 request(s) in a new job`,
        'asked the server to cancel 1 batch job(s); a run of the same command puts their records into new jobs',
      ]);
      expect(loadJournal(out).jobs.map((j) => [j.state, j.remoteState])).toEqual([['created', undefined], ['created', undefined], ['ended', 'JOB_STATE_NOT_FOUND']]);
      const after = await list(out, { apiKey: 'k' });
      expect(after.lines[0]).toBe(`batch jobs of ${out}: 3 (0 live on the server, 2 ended there, waiting for a run of the same command to write or redo them)`);
    } finally {
      await fast.close();
    }
  });

  it('the CLI: --base-url and -o before the sub-command count; piped into `head` it ends quietly with exit 0', async () => {
    box.emu = await startEmulator({ batchTimeScale: 1 });
    const [a] = await createBatches(box.emu.url, 1);
    const out = join(box.dir, 'out');
    // Created (the journal says) on an endpoint that is gone: --base-url before the sub-command says where.
    writeJournal(out, [job('000001', a, { endpoint: `http://127.0.0.1:${await deadPort()}` })]);
    const e = env();
    const r = start(['--base-url', box.emu.url, '-o', out, 'batches', 'list'], { env: e });
    let stdout = '';
    r.child.stdout!.on('data', (d) => (stdout += d));
    expect(await r.exited, r.stderr()).toBe(0);
    expect(stdout).toContain(`${a}  pending`);

    const many = join(box.dir, 'many');
    writeJournal(many, Array.from({ length: 5000 }, (_, i) => job(String(i + 1).padStart(6, '0'), `batches/b${i}`, { state: 'written', remoteState: 'JOB_STATE_SUCCEEDED' })));
    // More than a pipe holds: the writes after `head` has gone meet a closed pipe (EPIPE).
    const sh = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${MAIN}" batches list -o "${many}" | head -n 1`], { env: e });
    let err = '';
    let first = '';
    sh.stderr.on('data', (d) => (err += d));
    sh.stdout.on('data', (d) => (first += d));
    const code = await new Promise((res) => sh.on('exit', (c) => res(c)));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(first).toBe(`batch jobs of ${many}: 5000 (0 live on the server)\n`);
  });
});
