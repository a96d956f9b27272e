// `gempipe report -o DIR` (and `--report` at the end of a run): reads the directory's time
// series and failures.jsonl once, builds the report's data (report-data.ts) and writes
// DIR/report.html (report-html.ts) — through a temporary file and a rename, so a browser never
// opens half a report — or returns the text fallback. It reads no shards: its cost does not
// grow with the records, only with the series (bounded) and failures.jsonl (one pass).

import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { FAILURES_FILE, REPORT_FILE, tmpNameOf } from '../output/layout.js';
import { readFailures } from './failures-digest.js';
import { buildReportData, type ReportData } from './report-data.js';
import { renderReportHtml } from './report-html.js';
import { formatReportText } from './report-text.js';
import { SERIES_FILE } from './series-format.js';
import { readSeries } from './series-reader.js';

export { REPORT_FILE };

export interface ReportOptions {
  /** The text fallback instead of the HTML file. */
  text?: boolean;
  /** Where the HTML goes. @default DIR/report.html */
  file?: string;
  /** Points per chart across the job. @default 2000 */
  maxPoints?: number;
  /** The clock, for "generated at" (tests). */
  now?: number;
}

export interface ReportResult {
  /** The HTML file written (not with `text`). */
  path?: string;
  /** Its size in bytes. */
  bytes: number;
  /** The text report (with `text`). */
  text?: string;
  data: ReportData;
}

/** The report's data for an output directory; a usage error when it is no gempipe output. */
export async function loadReportData(dir: string, options: Pick<ReportOptions, 'maxPoints' | 'now'> = {}): Promise<ReportData> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`No output directory at ${dir}: give the run's \`-o DIR\``);
  if (!existsSync(join(dir, SERIES_FILE)) && !existsSync(join(dir, FAILURES_FILE))) {
    throw new UsageError(`${dir} has no time series (${SERIES_FILE}) and no ${FAILURES_FILE}: nothing to report (runs record the series from this version of gempipe on)`);
  }
  if (options.maxPoints !== undefined && (!Number.isInteger(options.maxPoints) || options.maxPoints < 10)) {
    throw new UsageError(`Expected \`--max-points\` to be an integer >= 10, got \`${options.maxPoints}\``);
  }
  const [series, failures] = await Promise.all([readSeries(dir), readFailures(dir)]);
  return buildReportData(dir, series, failures, options);
}

export async function reportCommand(dir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const data = await loadReportData(dir, options);
  if (options.text) {
    const text = formatReportText(data);
    return { text, bytes: Buffer.byteLength(text), data };
  }
  const html = renderReportHtml(data);
  const path = options.file ?? join(dir, REPORT_FILE);
  const tmp = join(dirname(path), tmpNameOf(basename(path)));
  writeFileSync(tmp, html);
  renameSync(tmp, path);
  return { path, bytes: Buffer.byteLength(html), data };
}
