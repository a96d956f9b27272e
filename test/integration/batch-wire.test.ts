// --mode batch against the Batch API's wire facts, played by the faithful emulator (issue 20):
// per-request errors as google.rpc.Status (transient ones redone and answered, permanent ones
// failures with their status and canonical code; HTTP-shaped ones still read), a job that reads
// SUCCEEDED before its responses file can be read (polled, never resubmitted: the emulator's
// batchesCreated proves it), a responses file that cannot be downloaded (the run ends
// resumably, a rerun downloads it with no new job), a shuffled responses file matched by key.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Journal } from '../../src/batch/journal.js';
import { answerFor, startEmulator, type Emulator } from '../../src/emulator/server.js';
import { JOURNAL_FILE } from '../../src/output/layout.js';
import { isFailure, type FailureRecord, type SuccessRecord } from '../../src/records.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();
const journalOf = (out: string) => JSON.parse(readFileSync(join(out, JOURNAL_FILE), 'utf8')) as Journal;

/**
 * A proxy in front of the emulator whose downloads of responses files can be made to fail: each
 * download asks `download()` what to do — pass it on, answer 503, or cut its body mid-line.
 */
async function downloadProxy(emu: Emulator, download: () => 'pass' | '503' | 'cut'): Promise<{ url: string; bodies: string[]; close: () => Promise<void> }> {
  const target = new URL(emu.url);
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isDownload = /:download/.test(req.url ?? '');
      const what = isDownload ? download() : 'pass';
      if (what === '503') {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 503, status: 'UNAVAILABLE', message: 'The service is currently unavailable.' } }));
        return;
      }
      const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        const got: Buffer[] = [];
        r.on('data', (c: Buffer) => got.push(c));
        r.on('end', () => {
          let body = Buffer.concat(got);
          if (isDownload && r.statusCode === 200) {
            bodies.push(body.toString('utf8'));
            if (what === 'cut') body = body.subarray(0, body.indexOf(0x0a, body.length >> 1) - 5); // in the middle of a line
          }
          const headers = { ...r.headers };
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          res.writeHead(r.statusCode ?? 502, headers).end(body);
        });
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, close: () => new Promise((res) => server.close(() => res())) };
}

describe('--mode batch on the Batch API\'s wire facts', () => {
  it.each(['rpc', 'http'] as const)('transient per-request errors (13, 14, 8, 4) go into new jobs and are answered; permanent ones (3, 5) are failures with their status and canonical code (%s-shaped)', async (shape) => {
    box.emu = await startEmulator({ batchTimeScale: 6000, batchErrorShape: shape });
    const f = join(box.dir, 'x.txt');
    writeFileSync(f, ['plain', 'internal twice [[emu:batch13x2]]', 'unavailable once [[emu:batch14x1]]', 'exhausted once [[emu:batch8x1]]',
      'deadline once [[emu:batch4x1]]', 'always bad [[emu:batchfail]]', 'never there [[emu:batch5]]'].join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, [f], { out, mode: 'batch', batchPoll: '20', maxAttempts: '3' });
    expect(r.exitCode).toBe(3);
    const o = readOutputs(out);
    const ok = Object.fromEntries((o.all.filter((x) => !isFailure(x)) as SuccessRecord[]).map((x) => [x.line, x]));
    expect(Object.keys(ok).map(Number).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const x of Object.values(ok)) expect(x.response).toBe(answerFor(x.prompt));
    expect([1, 2, 3, 4, 5].map((l) => ok[l].attempts)).toEqual([1, 3, 2, 2, 2]);
    const failed = (o.failures as FailureRecord[]).map((x) => [x.line, x.error.status, x.error.code, x.error.rpcCode, x.attempts]).sort();
    expect(failed).toEqual([[6, 'INVALID_ARGUMENT', 400, 3, 1], [7, 'NOT_FOUND', 404, 5, 1]]);
    // One job of 7, one of the 4 transient ones, one of the request that failed twice.
    expect(journalOf(out).jobs.map((j) => [j.records, j.state])).toEqual([[7, 'written'], [4, 'written'], [1, 'written']]);
    expect(box.emu.batch.batchesCreated).toBe(3);
    expect(r.batch).toMatchObject({ jobs: 3, requests: 12, leftJobs: 0 });
  });

  it('--fallback online: transient per-request errors are asked online, in no new job', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const f = join(box.dir, 'x.txt');
    writeFileSync(f, ['plain', 'internal [[emu:batch13x1]]', 'unavailable [[emu:batch14x1]]', 'always bad [[emu:batchfail]]'].join('\n') + '\n');
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, [f], { out, mode: 'batch', batchPoll: '20', fallback: 'online' });
    expect(r.exitCode).toBe(3);
    expect(box.emu.batch.batchesCreated).toBe(1);
    expect(box.emu.stats.requests).toBe(2); // online generateContent calls
    const o = readOutputs(out);
    expect(o.shards.flatMap((s) => s.records).map((x) => x.line).sort()).toEqual([1, 2, 3]);
    expect((o.failures as FailureRecord[]).map((x) => x.error)).toMatchObject([{ status: 'INVALID_ARGUMENT', rpcCode: 3 }]);
  });

  it.each(['absent', 'not-found'] as const)('a job that reads SUCCEEDED 2 s before its responses file is there (%s) is polled, never resubmitted', async (mode) => {
    // 2 s of wall time at this scale (pending and running take 0.11 s); polls every 20 ms at first.
    box.emu = await startEmulator({ batchTimeScale: 6000, batchResultLagMs: 2000 * 6000, batchResultLagMode: mode });
    const inputs = writeInputs(box.dir, 1, 30);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, mode: 'batch', batchPoll: '20' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(box.emu.batch.batchesCreated).toBe(1);
    const all = readOutputs(out).all as SuccessRecord[];
    expect(all).toHaveLength(30);
    for (const x of all) expect(x.response).toBe(answerFor(x.prompt));
    expect(r.stderr).toMatch(new RegExp(`batch 000001 \\(batches/\\S+\\) reads succeeded but its responses file ${mode === 'absent' ? 'is not named yet' : 'files/\\S+ cannot be read yet'}; polling again for up to 60 min \\(--batch-result-wait\\), never submitting it again`));
    expect(journalOf(out).jobs.map((j) => [j.state, j.remoteState])).toEqual([['written', 'JOB_STATE_SUCCEEDED']]);
  });

  it('a job whose responses file is not there within --batch-result-wait ends the run resumably (exit 1, the job named); a rerun collects it with no new job', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000, batchResultLagMs: 1500 * 6000 });
    const inputs = writeInputs(box.dir, 1, 10);
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, inputs, { out, mode: 'batch', batchPoll: '20', batchResultWait: '100ms' });
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatch(/^1 batch job\(s\) could not be collected; the journal keeps them and none is submitted again — batch 000001 \(batches\/\S+\): it has read SUCCEEDED for \d+ ms without a readable responses file \(--batch-result-wait 100 ms\)\. Rerun the same command/);
    expect(journalOf(out).jobs.map((j) => j.state)).toEqual(['created']);
    expect(readOutputs(out).all).toHaveLength(0);
    const again = await runAgainst(box.emu, inputs, { out, mode: 'batch', batchPoll: '20' });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(readOutputs(out).all).toHaveLength(10);
    expect(box.emu.batch.batchesCreated).toBe(1);
    expect(again.batch).toMatchObject({ jobs: 0, requests: 0 });
  });

  it('a responses file that cannot be downloaded (a 503, a body cut short) is tried again, then the run ends resumably; a rerun downloads it with 0 new jobs', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    let healthy = false;
    let n = 0;
    const proxy = await downloadProxy(box.emu, () => (healthy ? 'pass' : n++ % 2 === 0 ? 'cut' : '503'));
    try {
      const inputs = writeInputs(box.dir, 1, 40);
      const out = join(box.dir, 'out');
      const viaProxy = { ...box.emu, url: proxy.url } as Emulator;
      const r = await runAgainst(viaProxy, inputs, { out, mode: 'batch', batchPoll: '20', maxAttempts: '3' });
      expect(r.exitCode).toBe(1);
      expect(r.error).toMatch(/batch 000001 \(batches\/\S+\): its responses file files\/\S+ (does not parse|could not be downloaded) \(.*\), 3 time\(s\)\. Rerun the same command to collect them/);
      expect(r.stderr).toMatch(/its responses file files\/\S+ does not parse \(line \d+ is not a JSON object: .*\), 1 time\(s\); trying again at the next poll/);
      expect(r.stderr).toMatch(/could not be downloaded \(HTTP 503 UNAVAILABLE: The service is currently unavailable\.\), 2 time\(s\)/);
      expect(readOutputs(out).all).toHaveLength(0);
      expect(journalOf(out).jobs.map((j) => j.state)).toEqual(['created']);
      healthy = true;
      const again = await runAgainst(viaProxy, inputs, { out, mode: 'batch', batchPoll: '20' });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(readOutputs(out).all).toHaveLength(40);
      expect(box.emu.batch.batchesCreated).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('a shuffled responses file: every record gets its own prompt\'s answer (matched by key, not by line)', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const proxy = await downloadProxy(box.emu, () => 'pass');
    try {
      const inputs = writeInputs(box.dir, 2, 100);
      const out = join(box.dir, 'out');
      const r = await runAgainst({ ...box.emu, url: proxy.url } as Emulator, inputs, { out, mode: 'batch', batchPoll: '20' });
      expect(r.exitCode).toBe(0);
      // The file the service sent was not in input order.
      const keys = proxy.bodies[0].trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key);
      expect(keys).toHaveLength(200);
      expect(keys).not.toEqual([...keys].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
      const all = readOutputs(out).all as SuccessRecord[];
      expect(all).toHaveLength(200);
      for (const x of all) expect(x.response, x.id).toBe(answerFor(x.prompt));
      expect(new Set(all.map((x) => x.response)).size).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it('the progress lines give the server\'s counts (strings, zero counts left out); the summary counts the requests put in batch jobs', async () => {
    box.emu = await startEmulator({ batchTimeScale: 6000 });
    const f = join(box.dir, 'x.txt');
    writeFileSync(f, Array.from({ length: 20 }, (_, i) => (i % 10 === 9 ? `bad ${i} [[emu:batchfail]]` : `good ${i}`)).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const json = join(box.dir, 'summary.json');
    const r = await runAgainst(box.emu, [f], { out, mode: 'batch', batchPoll: '20', summaryJson: json });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/batch 000001 \(batches\/\S+\): succeeded, 20 request\(s\) \(18 ok, 2 failed, 0 pending\)/);
    expect(r.stderr).toContain('  batch: 1 job(s) created with 20 request(s) (at the batch price)');
    expect(r.stderr).toMatch(/requests: 0 online, 20 in batch jobs/);
    expect(JSON.parse(readFileSync(json, 'utf8')).batch).toEqual({ jobs: 1, requests: 20, leftJobs: 0, leftRequests: 0, detached: false });
  });
});
