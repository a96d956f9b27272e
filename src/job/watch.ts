// watchRun(): what a run shows of itself (SPEC §15). The RunMeter its requests tick (answers by
// HTTP code, latency, thoughts, batch tokens); once the mode is known, the time series
// (OUT/.gempipe-series.jsonl, written under the directory's lock) and --metrics' endpoint, both
// reading the run through one sampler; at the end the series' last lines with the summary, the
// endpoint closed and --report's page written. The runner hands its limiter over when it has one
// (the rate and quota gauges). Only a --metrics port that cannot be had fails a run (exit 2,
// before any request); the series and the report warn and let the run go on.

import type { Options } from '../cli/options.js';
import { pricesFor } from '../observe/cost.js';
import { startMetricsServer, type MetricsServer } from '../observe/metrics.js';
import { reportCommand } from '../observe/report.js';
import { createRunMeter, type RunMeter } from '../observe/run-meter.js';
import { createSampler } from '../observe/snapshot.js';
import { createSeriesRecorder, runIdOf, type SeriesRecorder } from '../observe/timeseries.js';
import type { Limiter } from '../quota/limiter.js';
import type { RunStats, Summary } from '../stats.js';

export interface RunWatch {
  /** Undefined when nothing reads it (no series, no --metrics): the Gemini call is not wrapped. */
  readonly meter?: RunMeter;
  /** The limiter whose rate and learned quota the series and --metrics show. */
  setLimiter(limiter: Limiter): void;
  /**
   * The series and the --metrics endpoint, once the mode is known; a port it cannot have is a
   * UsageError. `hold`: no series line while it says true (the writer cannot write: the disk's
   * space is the records').
   */
  start(mode: string, hold?: () => boolean): Promise<void>;
  /** The run's end: the series' last lines with `summary`, --metrics closed, --report written (`summary.report`). */
  end(summary: Summary): Promise<void>;
  /** What end() did not get to (a run that threw): the series ends without a summary. Idempotent. */
  close(): Promise<void>;
}

export function watchRun(o: Options, io: { stats: RunStats; argv?: readonly string[]; say: (line: string) => void }): RunWatch {
  const toStdout = o.out === '-';
  const keepSeries = o.series && !toStdout && !o.dryRun;
  const meter = keepSeries || o.metrics !== undefined ? createRunMeter() : undefined;
  let limiter: Limiter | undefined;
  const sample = createSampler({ stats: io.stats, meter, limiter: () => limiter });
  const price = pricesFor(o.model, o);
  let series: SeriesRecorder | undefined;
  let metrics: MetricsServer | undefined;
  const stop = async (summary?: Summary) => {
    series?.stop(summary);
    series = undefined;
    const m = metrics;
    metrics = undefined;
    await m?.stop();
  };
  return {
    meter,
    setLimiter(l) {
      limiter = l;
    },
    async start(mode, hold) {
      // The endpoint first: a port it cannot have ends the run before it has begun a segment.
      const run = runIdOf(Date.now());
      if (o.metrics !== undefined) {
        metrics = await startMetricsServer(o.metrics, { sample, price, info: { model: o.model, mode, role: o.coordinator ? 'coordinator' : 'run', run } });
        io.say(`gempipe: Prometheus metrics at ${metrics.url}`);
      }
      if (keepSeries) {
        series = createSeriesRecorder({
          dir: o.out, sample, model: o.model, mode, run, argv: io.argv, price, onWarn: io.say, hold,
          settings: {
            concurrency: o.concurrency, rpm: o.rpm ?? (o.adaptiveRate ? 'auto' : 'off'), tpm: o.tpm, rpd: o.rpd, maxAttempts: o.maxAttempts,
            timeoutMs: o.timeoutMs, dedupe: o.dedupe || undefined, cache: o.cache !== undefined || undefined, redis: o.redis !== undefined || undefined,
          },
        });
      }
    },
    async end(summary) {
      await stop(summary);
      if (!o.report) return;
      try {
        summary.report = (await reportCommand(o.out)).path;
      } catch (e) {
        io.say(`gempipe: warning: the report was not written: ${(e as Error).message}`);
      }
    },
    close: () => stop(),
  };
}
