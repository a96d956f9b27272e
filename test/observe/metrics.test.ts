import { afterEach, describe, expect, it } from 'vitest';
import { parseMetricsAddress, startMetricsServer, type MetricsServer } from '../../src/observe/metrics.js';
import { createRunMeter } from '../../src/observe/run-meter.js';
import { createSampler } from '../../src/observe/snapshot.js';
import { pricesFor, costOf } from '../../src/observe/cost.js';
import { createStats, countFailure } from '../../src/stats.js';
import { UsageError } from '../../src/errors.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

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

function fixture() {
  const stats = createStats(0);
  const meter = createRunMeter();
  let pausedUntil = 0;
  const limiter = {
    state: () => ({ pausedUntil, waitingForRequests: 0, waitingForTokens: 0, waitingForWindow: 0, adaptive: false, rpm: 2940 }),
    learned: () => ({ rpm: { value: 3000, source: 'server' as const } }),
  };
  const now = () => 10_000;
  return { stats, meter, sample: createSampler({ stats, meter, limiter, now }), pause: (until: number) => (pausedUntil = until) };
}

describe('--metrics', () => {
  it('serves the run\'s counters, gauges and latency histogram from one snapshot a scrape', async () => {
    const { stats, meter, sample, pause } = fixture();
    const price = pricesFor('gemini-2.5-flash', {}, '2026-11-02')!;
    const srv = await startMetricsServer('127.0.0.1:0', { sample, price, info: { model: 'gemini-2.5-flash', mode: 'online', role: 'run', run: 'r1' } });
    servers.push(srv);
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/metrics`);

    stats.succeeded = 40;
    stats.cached = 3;
    stats.deduped = 2;
    countFailure(stats, 'BLOCKED');
    countFailure(stats, 'UNAVAILABLE');
    countFailure(stats, 'UNAVAILABLE');
    stats.skipped = 7;
    stats.attempts = 46;
    stats.retriesByCause = { 503: 3, 429: 1 };
    stats.tokensIn = 4000;
    stats.tokensOut = 9000;
    stats.inFlight = 12;
    meter.usage({ thoughtsTokens: 1000, cachedTokens: 500 });
    for (let i = 0; i < 40; i++) meter.attempt(200, 10 + i * 100); // 10 ms … 3.91 s
    meter.attempt(503, 20);
    meter.attempt(503, 20);
    meter.attempt(503, 20);
    meter.attempt(429, 5);
    meter.attempt(0, 120_000);
    meter.setBatchJobs({ created: 2 });
    pause(12_000);

    const res = await fetch(srv.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const m = parse(text);
    expect(m.get('gempipe_records_total{outcome="succeeded"}')).toBe(40);
    expect(m.get('gempipe_records_total{outcome="failed"}')).toBe(3);
    expect(m.get('gempipe_records_total{outcome="skipped"}')).toBe(7);
    expect(m.get('gempipe_records_reused_total{via="cache"}')).toBe(3);
    expect(m.get('gempipe_records_reused_total{via="dedupe"}')).toBe(2);
    expect(m.get('gempipe_records_failed_total{status="UNAVAILABLE"}')).toBe(2);
    expect(m.get('gempipe_requests_total{code="200"}')).toBe(40);
    expect(m.get('gempipe_requests_total{code="503"}')).toBe(3);
    expect(m.get('gempipe_requests_total{code="none"}')).toBe(1);
    expect(m.get('gempipe_retries_total{cause="503"}')).toBe(3);
    expect(m.get('gempipe_tokens_total{kind="input"}')).toBe(4000);
    expect(m.get('gempipe_tokens_total{kind="thoughts"}')).toBe(1000);
    expect(m.get('gempipe_tokens_total{kind="cached_input"}')).toBe(500);
    const cost = costOf(sample(), price);
    expect(m.get('gempipe_cost_usd_total{model="gemini-2.5-flash",mode="online"}')).toBeCloseTo(cost.onlineUsd, 12);
    expect(m.get('gempipe_saved_usd_total{via="reuse"}')).toBeCloseTo(cost.savedReuseUsd, 12);
    expect(m.get('gempipe_in_flight_requests')).toBe(12);
    expect(m.get('gempipe_rate_limit_requests_per_minute')).toBe(2940);
    expect(m.get('gempipe_quota_requests_per_minute')).toBe(3000);
    expect(m.get('gempipe_rate_limit_paused')).toBe(1);
    expect(m.get('gempipe_batch_jobs{state="created"}')).toBe(2);
    expect(m.get('gempipe_run_info{model="gemini-2.5-flash",mode="online",role="run",run="r1"}')).toBe(1);
    // The histogram: cumulative buckets in seconds, every answered attempt counted once.
    expect(m.get('gempipe_request_duration_seconds_count')).toBe(44);
    expect(m.get('gempipe_request_duration_seconds_bucket{le="+Inf"}')).toBe(44);
    expect(m.get('gempipe_request_duration_seconds_bucket{le="0.016"}')).toBe(2); // the 429 (5 ms) and the first 200 (10 ms)
    expect(m.get('gempipe_request_duration_seconds_bucket{le="0.032"}')).toBe(5); // and the three 503s (20 ms)
    expect(m.get('gempipe_request_duration_seconds_bucket{le="1.024"}')).toBe(4 + 11); // 429, 503×3 and 10…1010 ms
    expect(m.get('gempipe_request_duration_seconds_sum')).toBeCloseTo((40 * 10 + 100 * 780 + 60 + 5) / 1000, 9);
    const les = [...m.keys()].filter((k) => k.startsWith('gempipe_request_duration_seconds_bucket')).map((k) => m.get(k)!);
    expect(les).toEqual([...les].sort((a, b) => a - b)); // cumulative
    expect(text).toMatch(/# TYPE gempipe_request_duration_seconds histogram/);
    expect(text).toMatch(/# TYPE gempipe_records_total counter/);
    expect(m.has('process_cpu_user_seconds_total')).toBe(true);

    // A counter moves with the run between scrapes (no second set of books to drift).
    stats.succeeded = 41;
    const again = parse(await (await fetch(srv.url)).text());
    expect(again.get('gempipe_records_total{outcome="succeeded"}')).toBe(41);
    expect((await fetch(srv.url.replace('/metrics', '/nope'))).status).toBe(404);
  });

  it('runs two endpoints in one process without their metrics colliding', async () => {
    const a = fixture();
    const b = fixture();
    a.stats.succeeded = 1;
    b.stats.succeeded = 2;
    const sa = await startMetricsServer(':0', { sample: a.sample, processMetrics: false });
    const sb = await startMetricsServer('127.0.0.1:0', { sample: b.sample, processMetrics: false });
    servers.push(sa, sb);
    expect(parse(await (await fetch(sa.url)).text()).get('gempipe_records_total{outcome="succeeded"}')).toBe(1);
    expect(parse(await (await fetch(sb.url)).text()).get('gempipe_records_total{outcome="succeeded"}')).toBe(2);
  });

  it('names the flag when the address is wrong or the port is taken', async () => {
    expect(parseMetricsAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseMetricsAddress('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    for (const bad of ['', 'localhost', 'host:99999', 'http://x:1']) expect(() => parseMetricsAddress(bad)).toThrow(/Expected `--metrics` to be HOST:PORT/);
    const a = fixture();
    const first = await startMetricsServer('127.0.0.1:0', { sample: a.sample, processMetrics: false });
    servers.push(first);
    const taken = startMetricsServer(`127.0.0.1:${first.port}`, { sample: a.sample, processMetrics: false });
    await expect(taken).rejects.toThrow(UsageError);
    await expect(taken).rejects.toThrow(`\`--metrics 127.0.0.1:${first.port}\`: cannot listen on 127.0.0.1:${first.port}: the port is in use`);
  });
});
