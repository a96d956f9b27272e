// --metrics on a real run: the built CLI against the emulator, held open by three prompts the
// emulator never answers; once every other record is on disk, one scrape must agree with the
// records written — by outcome and status, requests by HTTP code, tokens, latencies — and say
// three are in flight. Then SIGINT ends the run (exit 130) and the endpoint with it. A port
// already taken is exit 2 before anything is sent, and the directory's lock is released. A
// coordinator and a worker serve theirs too (with redis-server).

import { createServer, type Server } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { LOCK_FILE, SERIES_FILE } from '../../src/output/layout.js';
import { readSeries } from '../../src/observe/series-reader.js';
import type { Summary } from '../../src/stats.js';
import { env, start } from '../helpers/cli-helpers.js';
import { useRedis } from '../helpers/redis.js';
import { readOutputs, sandbox, until } from '../helpers/util.js';
import type { FailureRecord, SuccessRecord } from '../../src/records.js';

const box = sandbox();
const redis = useRedis('--metrics on a coordinator and a worker');

/** The exposition text as `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

const N = 300;
const HANG = new Set([50, 150, 250]);
const RETRY = new Set([10, 70, 130, 190, 270]); // 503 twice, then answered
const REFUSED = new Set([20, 120, 220, 280]); // 400 every time: a failure after one attempt
const prompt = (i: number) => `Prompt ${i}: what is ${i} plus 1?${HANG.has(i) ? ' [[emu:hang]]' : ''}${RETRY.has(i) ? ' [[emu:503x2]]' : ''}${REFUSED.has(i) ? ' [[emu:400]]' : ''}`;

describe('--metrics during a run', () => {
  it('serves counters that match the records written, with the run held open; the endpoint ends with the run', async () => {
    box.emu = await startEmulator({ latencyMs: 5 });
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, Array.from({ length: N }, (_, k) => prompt(k + 1)).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const run = start(['-o', out, '--metrics', '127.0.0.1:0', '--rpm', '12000', '--concurrency', '16', '--retry-base-delay', '10', '--drain-timeout', '0.2', '--progress-interval', '3600', '--summary-json', join(box.dir, 's.json'), input], { env: env(box.emu.url), cwd: box.dir });
    let url = '';
    await until(() => {
      url = /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr())?.[1] ?? '';
      return url !== '';
    }, { what: 'the metrics URL on stderr' });
    // Everything but the three hanging prompts on disk (each file read whole: the writer writes whole lines).
    const onDisk = () => readOutputs(out).all.length;
    await until(() => existsSync(join(out, 'shard-00000.jsonl')) && onDisk() === N - HANG.size, { what: `${N - HANG.size} records on disk`, everyMs: 50 });
    const m = parse(await (await fetch(url)).text());
    const { shards, failures } = readOutputs(out);
    const ok = shards.flatMap((s) => s.records) as SuccessRecord[];
    const failed = failures as FailureRecord[];
    expect(ok).toHaveLength(N - HANG.size - REFUSED.size);

    expect(m.get('gempipe_records_total{outcome="succeeded"}')).toBe(ok.length);
    expect(m.get('gempipe_records_total{outcome="failed"}')).toBe(failed.length);
    expect(m.get('gempipe_records_total{outcome="skipped"}')).toBe(0);
    expect(m.get('gempipe_records_failed_total{status="INVALID_ARGUMENT"}')).toBe(REFUSED.size);
    // Requests by HTTP code: every attempt of every record written (the hanging ones are not
    // answered yet), 200s for the answers, 503s for the retried ones' first two tries.
    const attempts = [...ok, ...failed].reduce((a, r) => a + r.attempts, 0);
    expect(m.get('gempipe_requests_total{code="200"}')).toBe(ok.length);
    expect(m.get('gempipe_requests_total{code="503"}')).toBe(2 * RETRY.size);
    expect(m.get('gempipe_requests_total{code="400"}')).toBe(REFUSED.size);
    expect(ok.length + 2 * RETRY.size + REFUSED.size).toBe(attempts);
    expect(m.get('gempipe_retries_total{cause="503"}')).toBe(2 * RETRY.size);
    // Latency: one observation per answered attempt.
    expect(m.get('gempipe_request_duration_seconds_count')).toBe(attempts);
    expect(m.get('gempipe_request_duration_seconds_bucket{le="+Inf"}')).toBe(attempts);
    // Tokens as the records' usage says.
    const sum = (f: (r: SuccessRecord) => number | undefined) => ok.reduce((a, r) => a + (f(r) ?? 0), 0);
    expect(m.get('gempipe_tokens_total{kind="input"}')).toBe(sum((r) => r.usage.promptTokens));
    expect(m.get('gempipe_tokens_total{kind="output"}')).toBe(sum((r) => r.usage.responseTokens));
    expect(m.get('gempipe_tokens_total{kind="thoughts"}')).toBe(sum((r) => r.usage.thoughtsTokens));
    // Gauges: the three hanging requests, the rate asked for, what this process is.
    expect(m.get('gempipe_in_flight_requests')).toBe(HANG.size);
    const rate = m.get('gempipe_rate_limit_requests_per_minute')!;
    expect(rate).toBeGreaterThan(11_000);
    expect(rate).toBeLessThanOrEqual(12_000);
    expect(m.get('gempipe_rate_limit_paused')).toBe(0);
    expect([...m.keys()].some((k) => k.startsWith('gempipe_run_info{') && k.includes('role="run"') && k.includes('mode="online"'))).toBe(true);
    expect(m.get('gempipe_cost_usd_total{model="gemini-flash-latest",mode="online"}')).toBeGreaterThan(0);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    await expect(fetch(url)).rejects.toThrow();
    // The series and the summary say the same as the scrape did.
    const summary = JSON.parse(readFileSync(join(box.dir, 's.json'), 'utf8')) as Summary;
    expect([summary.succeeded, summary.failed, summary.attempts]).toEqual([ok.length, failed.length, attempts + HANG.size]); // sent, abandoned at the drain timeout
    const seg = (await readSeries(out)).segments[0];
    expect(seg.header.argv).toContain('--metrics');
    expect(seg.samples.at(-1)!.codes).toEqual({ 200: ok.length, 400: REFUSED.size, 503: 2 * RETRY.size });
  });

  it('a port already taken is exit 2 naming --metrics, before anything is sent; the lock is released', async () => {
    box.emu = await startEmulator({});
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, 'one\ntwo\n');
    const taken: Server = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', () => res()));
    try {
      const port = (taken.address() as { port: number }).port;
      const out = join(box.dir, 'out');
      const run = start(['-o', out, '--metrics', `127.0.0.1:${port}`, input], { env: env(box.emu.url), cwd: box.dir });
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toContain(`\`--metrics 127.0.0.1:${port}\`: cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect(box.emu.stats.requests).toBe(0);
      expect(existsSync(join(out, LOCK_FILE))).toBe(false);
      // The series was not begun either: the run never started.
      expect(existsSync(join(out, SERIES_FILE))).toBe(false);
    } finally {
      await new Promise((res) => taken.close(res));
    }
  });

  it.runIf(redis.available)('a coordinator and its worker each serve theirs: the records written, the worker\'s requests by code', async () => {
    const r = redis.server;
    r.cli('flushall');
    box.emu = await startEmulator({ latencyMs: 5 });
    const n = 60;
    const input = join(box.dir, 'in.txt');
    writeFileSync(input, Array.from({ length: n }, (_, k) => `Ticket ${k + 1}${k === 29 ? ' [[emu:hang]]' : ''}${k === 9 ? ' [[emu:503x1]]' : ''}`).join('\n') + '\n');
    const out = join(box.dir, 'out');
    const e = env(box.emu.url);
    const worker = start(['worker', '--redis', r.url, '--queue', 'm1', '--concurrency', '4', '--metrics', '127.0.0.1:0'], { env: e });
    const coord = start(['coordinator', '--redis', r.url, '--queue', 'm1', '-o', out, '--metrics', '127.0.0.1:0', '--drain-timeout', '0.2', '--progress-interval', '3600', input], { env: e });
    try {
      const urlOf = (text: () => string) => /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(text())?.[1] ?? '';
      await until(() => urlOf(worker.stderr) !== '' && urlOf(coord.stderr) !== '', { what: 'both metrics URLs on stderr' });
      await until(() => existsSync(out) && readOutputs(out).all.length === n - 1, { what: `${n - 1} records on disk`, everyMs: 50 });
      const c = parse(await (await fetch(urlOf(coord.stderr))).text());
      const w = parse(await (await fetch(urlOf(worker.stderr))).text());
      expect(c.get('gempipe_records_total{outcome="succeeded"}')).toBe(n - 1);
      expect(c.get('gempipe_requests_total{code="200"}')).toBe(n - 1); // the workers' answers, as the coordinator sees them
      expect(c.get('gempipe_in_flight_requests')).toBe(1);
      expect([...c.keys()].some((k) => k.startsWith('gempipe_run_info{') && k.includes('role="coordinator"'))).toBe(true);
      expect(w.get('gempipe_requests_total{code="200"}')).toBe(n - 1);
      expect(w.get('gempipe_requests_total{code="503"}')).toBe(1);
      expect(w.get('gempipe_in_flight_requests')).toBe(1);
      expect(w.get('gempipe_request_duration_seconds_count')).toBe(n);
      expect([...w.keys()].some((k) => k.startsWith('gempipe_run_info{') && k.includes('role="worker"'))).toBe(true);
      coord.child.kill('SIGINT');
      expect(await coord.exited).toBe(130);
    } finally {
      // It holds the hanging record: the first SIGTERM asks it to finish that, the second ends it.
      if (worker.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await until(() => worker.stderr().includes('gempipe worker: stopping'), { what: 'the worker to say it stops' });
        worker.child.kill('SIGTERM');
      }
      expect(await worker.exited).toBe(130);
      if (coord.child.exitCode === null) coord.child.kill('SIGKILL');
    }
  });
});
