// What the report shows, as data (report-data.ts builds it; the page, the text fallback and the
// tests read it): charts of series over job time, a row per run, cost per model, failures.

import type { Summary } from '../stats.js';
import type { Cost } from './cost.js';
import type { FailureDigest } from './failures-digest.js';

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  /** Drawn against the right-hand axis. */
  right?: boolean;
}

export interface ChartData {
  id: string;
  title: string;
  /** What the left (and right) axis counts. */
  unit: string;
  rightUnit?: string;
  /** One line under the title saying how to read it. */
  note: string;
  /** Job time, seconds. */
  x: Array<number>;
  series: ChartSeries[];
  /** Points with a value (the gaps between runs are not points). */
  points: number;
}

export interface RunRow {
  n: number;
  run: string;
  start: number;
  model: string;
  mode: string;
  /** completed | interrupted | fatal | killed (no end line: the process died) | running. */
  outcome: string;
  exitCode?: number;
  wallMs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  deduped: number;
  cached: number;
  attempts: number;
  retries: number;
  http429: number;
  tokensIn: number;
  tokensOut: number;
  recordsPerSec: number;
  /** Undefined: the model is not in the price table. */
  cost?: Cost;
  failedByStatus: Record<string, number>;
  /** From the run's summary (where the time went); absent for a killed run. */
  time?: Summary['time'];
  /** The numbers come from the summary (true) or the last sample (a killed run). */
  fromSummary: boolean;
  argv: string[];
  settings: Record<string, string | number | boolean>;
  priceNote?: string;
  /** Job-time seconds where the run starts on the charts. */
  x0: number;
}

export interface ModelCost {
  model: string;
  runs: number;
  tokensIn: number;
  tokensOut: number;
  /** Undefined: not in the price table (no --price-in/--price-out either). */
  cost?: Cost;
}

export interface ReportData {
  dir: string;
  generatedAt: number;
  runs: RunRow[];
  totals: { succeeded: number; failed: number; deduped: number; cached: number; attempts: number; retries: number; http429: number; tokensIn: number; tokensOut: number; wallMs: number; usd?: number; saved?: number };
  charts: ChartData[];
  /** Latency distribution over the whole job: bucket upper bounds (ms) and counts. */
  latency: { upperMs: number[]; counts: number[]; p50?: number; p90?: number; p99?: number; count: number };
  byModel: ModelCost[];
  failures: FailureDigest;
  notes: string[];
}

export interface BuildOptions {
  /** Points per chart across the whole job. @default 2000 */
  maxPoints?: number;
  now?: number;
}
