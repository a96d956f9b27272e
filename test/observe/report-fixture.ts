// The report tests' job: a synthetic job (src/observe/synthetic-run.ts) with what a report must
// show — a probe and a quota learned from 429s, RetryInfo pauses, 503 storms that exhaust
// attempts, blocked / invalid / MAX_TOKENS records, --dedupe and --cache hits — in three runs:
// killed (no summary, a torn line), resumed and interrupted (exit 130), resumed and completed
// (exit 3). And what the series file says, read back plainly, to check the report against.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURES_FILE } from '../../src/output-layout.js';
import { SERIES_FILE } from '../../src/observe/series-format.js';
import { writeSyntheticJob, type SyntheticJobResult } from '../../src/observe/synthetic-run.js';

export interface ReportFixture extends SyntheticJobResult {
  dir: string;
  /** Per run: the last sample line, parsed. */
  lastSamples: Array<Record<string, number>>;
  /** Sample lines in all, and those with latencies. */
  sampleLines: number;
  latencyLines: number;
  /** failures.jsonl by status, counted line by line. */
  failuresByStatus: Record<string, number>;
}

export function makeReportFixture(dir: string, records = 6000): ReportFixture {
  const r = writeSyntheticJob(dir, {
    records, burstEverySec: 20, stormEverySec: 25, stormSec: 8, maxTokens: 0.002, invalid: 0.002, seed: 7,
    runs: [{ until: 0.3, end: 'killed', pauseAfterSec: 1800 }, { until: 0.6, end: 'interrupted', pauseAfterSec: 86_400 }, { until: 1 }],
  });
  const lastSamples: ReportFixture['lastSamples'] = [];
  let sampleLines = 0;
  let latencyLines = 0;
  let last: Record<string, number> | undefined;
  for (const line of readFileSync(join(dir, SERIES_FILE), 'utf8').split('\n')) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a torn line (the next run cuts it off: none is left)
    }
    if ('seg' in o) {
      if (last) lastSamples.push(last);
      last = undefined;
    } else if ('t' in o) {
      sampleLines++;
      if (Array.isArray(o.lat) && o.lat.length > 0) latencyLines++;
      last = o as Record<string, number>;
    }
  }
  if (last) lastSamples.push(last);
  const failuresByStatus: Record<string, number> = {};
  for (const line of readFileSync(join(dir, FAILURES_FILE), 'utf8').split('\n')) {
    if (!line) continue;
    const s = (JSON.parse(line) as { error: { status: string } }).error.status;
    failuresByStatus[s] = (failuresByStatus[s] ?? 0) + 1;
  }
  return { ...r, dir, lastSamples, sampleLines, latencyLines, failuresByStatus };
}
