// createSeriesRecorder(): the run's time series, appended to OUT/.gempipe-series.jsonl
// (series-format.ts). A timer samples the run every second (gauges averaged, pauses noticed)
// and writes a line when one is due; the hot path only bumps counters. Crash-safe like the
// shards: each line is one write of whole bytes, a torn last line (a crash mid-write) is cut
// off before the next run's header, and readers ignore one. A write that fails (disk full) drops
// that line and says so once; the run never fails for its series. Bounded: lines thin out as
// a run ages, and a file over `maxBytes` has its older segments merged down at the next start.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Summary } from '../stats.js';
import type { CostPrices } from './cost.js';
import { BUCKETS, toRange } from './latency-histogram.js';
import { compactSeriesText, lineEvery, RESOLUTION, round1, SERIES_FILE, SERIES_VERSION, type SampleLine, type SegmentHeader } from './series-format.js';

export { compactSeriesText };
import type { Snapshot } from './snapshot.js';
import { tmpNameOf } from '../output/layout.js';

export interface SeriesRecorderOptions {
  /** The output directory. */
  dir: string;
  /** One reading of the run (snapshot.ts createSampler). */
  sample: () => Snapshot;
  model: string;
  /** online | batch | auto | coordinator. */
  mode: string;
  /** This run's id in the series. @default its start time and pid */
  run?: string;
  /** The command line (credentials are removed before it is written). */
  argv?: readonly string[];
  /** Settings shown beside the plots; undefined values are left out. */
  settings?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Prices for the report's cost (cost.ts pricesFor); absent: cost unknown. */
  price?: CostPrices;
  /** @default 1000 */
  tickMs?: number;
  /** Line spacing by run age. @default RESOLUTION */
  resolution?: ReadonlyArray<readonly [number, number]>;
  /** A file larger than this at start has its older segments merged down to half of it. @default 8 MiB */
  maxBytes?: number;
  /** @default Date.now */
  now?: () => number;
  /** Told once about a repair or a failed write. */
  onWarn?: (line: string) => void;
  /**
   * While it says true no sample line is written (the interval grows): the run's writer cannot
   * write (a full disk), and the space left is the records' — it gave back its reserve for them.
   */
  hold?: () => boolean;
}

export interface SeriesRecorder {
  readonly path: string;
  /** Lines written / dropped (failed writes) this run. */
  readonly written: number;
  readonly dropped: number;
  /** Samples now and writes a line when one is due (the timer calls it). */
  tick(): void;
  /** A last sample line, then {"end":{at, summary}}; fsync and close. Idempotent. */
  stop(summary?: Summary): void;
}

/** A run's id in the series: its start time and pid, unique enough within one output directory. */
export function runIdOf(start: number): string {
  return `${new Date(start).toISOString()}-${process.pid}`;
}

/** Credentials out of a command line: user:password in URLs, key= parameters; long values cut. */
export function cleanArgv(argv: readonly string[]): string[] {
  return argv.map((a) => {
    const s = a.replace(/\/\/[^@/\s]*@/g, '//').replace(/([?&]key=)[^&\s"']+/gi, '$1***');
    return s.length > 200 ? `${s.slice(0, 199)}…` : s;
  });
}

export function createSeriesRecorder(options: SeriesRecorderOptions): SeriesRecorder {
  const o = { ...options, tickMs: options.tickMs ?? 1000, resolution: options.resolution ?? RESOLUTION, maxBytes: options.maxBytes ?? 8 * 1024 * 1024, now: options.now ?? Date.now };
  const path = join(o.dir, SERIES_FILE);
  let warned = false;
  const warn = (line: string) => {
    if (warned) return;
    warned = true;
    o.onWarn?.(line);
  };
  let fd: number;
  try {
    fd = openSeries(path, o.maxBytes, o.onWarn);
  } catch (e) {
    // No series (a read-only directory, a full disk at start): the run goes on without one.
    warn(`gempipe: cannot keep the time series ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the run goes on without it`);
    return { path, written: 0, dropped: 0, tick() {}, stop() {} };
  }

  const start = o.now();
  let written = 0;
  let dropped = 0;
  let closed = false;
  const append = (obj: unknown) => {
    try {
      writeSync(fd, JSON.stringify(obj) + '\n');
      written++;
    } catch (e) {
      dropped++;
      warn(`gempipe: cannot write the time series ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); lines are dropped, the run goes on`);
    }
  };
  const settings: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(o.settings ?? {})) if (v !== undefined) settings[k] = v;
  const header: SegmentHeader = {
    v: SERIES_VERSION, run: o.run ?? runIdOf(start), start, model: o.model, mode: o.mode,
    host: hostname(), pid: process.pid, argv: cleanArgv(o.argv ?? []), settings, ...(o.price ? { price: o.price } : {}),
  };
  append({ seg: header });

  // The interval's accumulators.
  let lastLineAt = start;
  let ticks = 0;
  let inflightSum = 0;
  let inflightMax = 0;
  let pausedTicks = 0;
  let pauses = 0;
  let pausedMs = 0;
  let pauseEnd = 0;
  const latPrev = new Float64Array(BUCKETS);
  const latDelta = new Float64Array(BUCKETS);

  let lastTick = start;
  function observe(s: Snapshot, t: number): void {
    ticks++;
    inflightSum += s.inFlight;
    if (s.inFlight > inflightMax) inflightMax = s.inFlight;
    if (s.pausedUntil > t) pausedTicks++;
    if (s.pausedUntil > pauseEnd) {
      // A new (or longer) pause, seen now; it began after the last tick: counted from there
      // (the limiter does not say when; RetryInfo pauses last whole seconds, a tick is one).
      pauses++;
      pausedMs += s.pausedUntil - Math.max(pauseEnd, lastTick);
      pauseEnd = s.pausedUntil;
    }
    lastTick = t;
  }

  function line(s: Snapshot, t: number): SampleLine {
    const l: SampleLine = { t: t - start };
    const put = (k: keyof SampleLine, v: number | undefined) => {
      if (v !== undefined && v !== 0 && Number.isFinite(v)) (l as unknown as Record<string, number>)[k] = v;
    };
    put('ok', s.succeeded);
    put('fail', s.failed);
    put('skip', s.skipped);
    put('dedup', s.deduped);
    put('cache', s.cached);
    put('req', s.attempts);
    put('retry', s.retries);
    put('r429', s.http429);
    if (Object.keys(s.answers).length > 0) l.codes = { ...s.answers };
    put('tin', s.tokensIn);
    put('tout', s.tokensOut);
    put('tthink', s.tokensThoughts);
    put('tcache', s.tokensCached);
    put('btin', s.batchTokensIn);
    put('btout', s.batchTokensOut);
    put('inflight', ticks > 0 ? round1(inflightSum / ticks) : s.inFlight);
    put('inflightMax', Math.max(inflightMax, s.inFlight));
    put('rpm', s.rpm);
    put('tpm', s.tpm);
    put('quotaRpm', s.quotaRpm);
    put('quotaTpm', s.quotaTpm);
    put('paused', ticks > 0 ? Math.round((pausedTicks / ticks) * 100) / 100 : 0);
    put('pauses', pauses);
    // A pause still running is counted up to now, not to its end.
    put('pausedMs', Math.round(pausedMs - Math.max(0, pauseEnd - t)));
    if (s.latency) {
      const c = s.latency.counts;
      for (let i = 0; i < BUCKETS; i++) {
        latDelta[i] = c[i] - latPrev[i];
        latPrev[i] = c[i];
      }
      const range = toRange(latDelta);
      if (range.length > 0) l.lat = range;
    }
    if (s.batchJobs && Object.keys(s.batchJobs).length > 0) l.batch = { ...s.batchJobs };
    ticks = 0;
    inflightSum = 0;
    inflightMax = 0;
    pausedTicks = 0;
    lastLineAt = t;
    return l;
  }

  function tick(): void {
    if (closed) return;
    const t = o.now();
    const s = o.sample();
    observe(s, t);
    if (t - lastLineAt >= lineEvery(t - start, o.resolution) && !o.hold?.()) append(line(s, t));
  }

  const timer = setInterval(tick, o.tickMs);
  timer.unref?.();

  return {
    path,
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    tick,
    stop(summary) {
      if (closed) return;
      clearInterval(timer);
      const t = o.now();
      const s = o.sample();
      observe(s, t);
      append(line(s, t));
      append({ end: { at: t, ...(summary ? { summary } : {}) } });
      closed = true;
      try {
        fsyncSync(fd);
      } catch {
        /* the lines are written; fsync is for a power loss */
      }
      closeSync(fd);
    },
  };
}

/** Opens the file for appending: a torn last line cut off, an oversized file compacted first. */
function openSeries(path: string, maxBytes: number, onWarn?: (line: string) => void): number {
  mkdirSync(dirname(path), { recursive: true });
  let fd = openSync(path, 'a+');
  try {
    const cut = repairTail(fd);
    if (cut > 0) onWarn?.(`gempipe: ${path}: cut a torn last line (${cut} bytes) left by an earlier run`);
    if (fstatSync(fd).size > maxBytes) {
      closeSync(fd);
      fd = -1;
      compactFile(path, maxBytes);
      fd = openSync(path, 'a+');
    }
    return fd;
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    throw e;
  }
}

/** Cuts a last line without its newline; returns the bytes cut. */
function repairTail(fd: number): number {
  const size = fstatSync(fd).size;
  if (size === 0) return 0;
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, size - 1);
  if (one[0] === 0x0a) return 0;
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const from = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - from, from);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) {
      ftruncateSync(fd, from + nl + 1);
      return size - (from + nl + 1);
    }
    end = from;
  }
  ftruncateSync(fd, 0);
  return size;
}

/** Rewrites the file (tmp + fsync + rename) with its segments merged down to half of `maxBytes`. */
function compactFile(path: string, maxBytes: number): void {
  const text = compactSeriesText(readFileSync(path, 'utf8'), Math.floor(maxBytes / 2));
  const tmp = join(dirname(path), tmpNameOf(basename(path)));
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
