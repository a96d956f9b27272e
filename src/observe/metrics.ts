// --metrics HOST:PORT: a Prometheus endpoint (GET /metrics) for a run, a coordinator or a
// worker. It keeps no books of its own: each scrape takes one Snapshot (snapshot.ts, the same
// reading the time series records) and prom-client's collect() hooks copy it into counters and
// gauges; the latency histogram's `le` buckets are every fourth bound of the RunMeter's
// histogram (16 ms … 262 s), read at scrape time. Names and labels follow Prometheus'
// conventions (base units, `_total` counters, `gempipe_` prefix). Its own registry: two
// endpoints in one process (tests) never collide. A port in use is a usage error naming the flag.
// prom-client is loaded when a registry is made: the option parser imports parseMetricsAddress()
// from here, and a run without --metrics does not pay for it.

import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Counter, Gauge, Metric, Registry } from 'prom-client';
import { UsageError } from '../errors.js';
import { costOf, type CostPrices } from './cost.js';
import { MAX_INDEX, PER_DOUBLING, upperMs } from './latency-histogram.js';
import type { Snapshot } from './snapshot.js';

export interface MetricsOptions {
  /** One reading of the run, taken once per scrape. */
  sample: () => Snapshot;
  /** Prices for gempipe_cost_usd_total (absent: no cost series). */
  price?: CostPrices;
  /** gempipe_run_info's labels. */
  info?: { model?: string; mode?: string; role?: 'run' | 'coordinator' | 'worker'; run?: string };
  /** Node's process_* and nodejs_* metrics too. @default true */
  processMetrics?: boolean;
}

export interface MetricsRegistry {
  registry: Registry;
  /** One scrape: the exposition text. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServer {
  /** http://HOST:PORT/metrics */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** `--metrics` value: HOST:PORT, [IPv6]:PORT, :PORT or PORT (the last two: 127.0.0.1). */
export function parseMetricsAddress(value: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65_535) throw new UsageError(`Expected \`--metrics\` to be HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464 for other machines, :0 for a free port), got \`${value}\``);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

/** The histogram's Prometheus buckets: (bucket index, le in seconds) for 16 ms … 262 s. */
const PROM_BUCKETS: Array<[number, string]> = [];
for (let i = 4 * PER_DOUBLING; i <= MAX_INDEX - 2 * PER_DOUBLING; i += PER_DOUBLING) PROM_BUCKETS.push([i, String(upperMs(i) / 1000)]);

const require = createRequire(import.meta.url);

export function createMetricsRegistry(o: MetricsOptions): MetricsRegistry {
  const { collectDefaultMetrics, Counter, Gauge, Registry } = require('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  const registers = [registry];
  let s: Snapshot | undefined;
  const snap = () => (s ??= o.sample());

  const counter = <L extends string>(name: string, help: string, labelNames: L[], read: (s: Snapshot, c: Counter<L>) => void) =>
    new Counter<L>({ name, help, labelNames, registers, collect() {
      this.reset();
      read(snap(), this);
    } });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], read: (s: Snapshot, g: Gauge<L>) => void) =>
    new Gauge<L>({ name, help, labelNames, registers, collect() {
      this.reset();
      read(snap(), this);
    } });
  const each = <L extends string>(c: Counter<L> | Gauge<L>, label: L, m: Readonly<Record<string, number>>) => {
    for (const [k, v] of Object.entries(m)) (c as Counter<string>).inc({ [label]: k }, v);
  };

  counter('gempipe_records_total', 'Records finished this run, by outcome (skipped: done by an earlier run, found at resume).', ['outcome'], (x, c) => {
    c.inc({ outcome: 'succeeded' }, x.succeeded);
    c.inc({ outcome: 'failed' }, x.failed);
    c.inc({ outcome: 'skipped' }, x.skipped);
  });
  counter('gempipe_records_reused_total', 'Of the succeeded records, those answered without a request: from the --cache or a --dedupe copy.', ['via'], (x, c) => {
    c.inc({ via: 'cache' }, x.cached);
    c.inc({ via: 'dedupe' }, x.deduped);
  });
  counter('gempipe_records_failed_total', 'Failure records by status (BLOCKED, UNAVAILABLE, INVALID_INPUT, ...).', ['status'], (x, c) => each(c, 'status', x.failedByStatus));
  counter('gempipe_requests_total', 'Requests (attempts, retries included) by HTTP status code; "none": no answer (timeout, connection).', ['code'], (x, c) => {
    if (Object.keys(x.answers).length > 0) each(c, 'code', x.answers);
    else if (x.attempts > 0) c.inc({ code: 'unknown' }, x.attempts);
  });
  counter('gempipe_retries_total', 'Retries by cause (an HTTP status, timeout, connection, invalid JSON, ...).', ['cause'], (x, c) => each(c, 'cause', x.retriesByCause));
  counter('gempipe_tokens_total', 'Tokens by kind: input, output (thoughts included), thoughts, cached_input (of input, read from a context cache).', ['kind'], (x, c) => {
    c.inc({ kind: 'input' }, x.tokensIn);
    c.inc({ kind: 'output' }, x.tokensOut);
    c.inc({ kind: 'thoughts' }, x.tokensThoughts);
    c.inc({ kind: 'cached_input' }, x.tokensCached);
  });
  if (o.price) {
    const p = o.price;
    const costs = (x: Snapshot) => costOf(x, p);
    counter('gempipe_cost_usd_total', 'What the tokens cost, in US dollars, at the price table\'s rates (Batch API at half).', ['model', 'mode'], (x, c) => {
      const k = costs(x);
      c.inc({ model: p.model, mode: 'online' }, k.onlineUsd);
      c.inc({ model: p.model, mode: 'batch' }, k.batchUsd);
    });
    counter('gempipe_saved_usd_total', 'What was not paid, in US dollars: the Batch API\'s half, context-cached input, records reused by --cache/--dedupe (estimated).', ['via'], (x, c) => {
      const k = costs(x);
      c.inc({ via: 'batch' }, k.savedBatchUsd);
      c.inc({ via: 'context_cache' }, k.savedCachedTokensUsd);
      c.inc({ via: 'reuse' }, k.savedReuseUsd);
    });
  }
  gauge('gempipe_in_flight_requests', 'Records being worked on now (waiting for the limiter, on the wire or in backoff).', [], (x, g) => g.set(x.inFlight));
  gauge('gempipe_rate_limit_requests_per_minute', 'The request rate the limiter holds to now (a known limit or the one being found).', [], (x, g) => {
    if (x.rpm !== undefined) g.set(x.rpm);
  });
  gauge('gempipe_rate_limit_tokens_per_minute', 'The input-token rate the limiter holds to now.', [], (x, g) => {
    if (x.tpm !== undefined) g.set(x.tpm);
  });
  gauge('gempipe_quota_requests_per_minute', 'The request quota the server named in a 429 (quotaValue), once it has.', [], (x, g) => {
    if (x.quotaRpm !== undefined) g.set(x.quotaRpm);
  });
  gauge('gempipe_quota_tokens_per_minute', 'The token quota the server named in a 429 (quotaValue), once it has.', [], (x, g) => {
    if (x.quotaTpm !== undefined) g.set(x.quotaTpm);
  });
  gauge('gempipe_rate_limit_paused', '1 while a 429\'s RetryInfo pauses every request, else 0.', [], (x, g) => g.set(x.pausedUntil > x.at ? 1 : 0));
  gauge('gempipe_batch_jobs', 'Batch Mode: jobs by journal state (packed, uploaded, created, written, ended).', ['state'], (x, g) => {
    for (const [k, v] of Object.entries(x.batchJobs ?? {})) g.set({ state: k }, v);
  });
  const info = o.info ?? {};
  const started = Date.now() / 1000;
  new Gauge({ name: 'gempipe_run_info', help: 'Always 1; the labels say what this process runs.', labelNames: ['model', 'mode', 'role', 'run'], registers }).set({ model: info.model ?? '', mode: info.mode ?? '', role: info.role ?? 'run', run: info.run ?? '' }, 1);
  new Gauge({ name: 'gempipe_run_start_time_seconds', help: 'When this process started serving metrics, seconds since the epoch.', registers }).set(started);

  // The latency histogram, read from the RunMeter's buckets (prom-client's Histogram would be
  // a second set of books).
  const H = 'gempipe_request_duration_seconds';
  const HELP = 'Latency of answered requests (any HTTP status), from sending to the answer.';
  const histogram = {
    name: H, help: HELP, type: 'histogram', aggregator: 'sum',
    async get() {
      const lat = snap().latency;
      const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
      let cum = 0;
      let i = 0;
      for (const [idx, le] of PROM_BUCKETS) {
        for (; i <= idx; i++) cum += lat?.counts[i] ?? 0;
        values.push({ metricName: `${H}_bucket`, labels: { le }, value: cum });
      }
      values.push({ metricName: `${H}_bucket`, labels: { le: '+Inf' }, value: lat?.count ?? 0 });
      values.push({ metricName: `${H}_sum`, labels: {}, value: (lat?.sumMs ?? 0) / 1000 });
      values.push({ metricName: `${H}_count`, labels: {}, value: lat?.count ?? 0 });
      return { name: H, help: HELP, type: 'histogram', aggregator: 'sum', values };
    },
    reset() {},
  };
  registry.registerMetric(histogram as unknown as Metric);
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry });

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      s = o.sample();
      try {
        return await registry.metrics();
      } finally {
        s = undefined;
      }
    },
  };
}

const LISTEN_WHY: Record<string, string> = { EADDRINUSE: 'the port is in use', EACCES: 'not permitted (a port below 1024?)', EADDRNOTAVAIL: 'no such address on this machine' };

/** Serves GET /metrics on `listen` (the --metrics value) until stop(). */
export async function startMetricsServer(listen: string, o: MetricsOptions): Promise<MetricsServer> {
  const { host, port } = parseMetricsAddress(listen);
  const m = createMetricsRegistry(o);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      m.scrape().then(
        (text) => res.writeHead(200, { 'content-type': m.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`gempipe: metrics failed: ${err.message}\n`),
      );
    } else {
      res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end('gempipe: Prometheus metrics are at /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`\`--metrics ${listen}\`: cannot listen on ${host}:${port}: ${LISTEN_WHY[err.code ?? ''] ?? err.code ?? err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    port: bound,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      m.registry.clear();
    },
  };
}
