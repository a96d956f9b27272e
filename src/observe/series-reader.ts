// readSeries(): OUT/.gempipe-series.jsonl back as segments, one per run, oldest first — with
// the byte line scanner (a long file is never read whole). A torn last line (a crash mid-write)
// and any line that does not parse are skipped and counted, never fatal: the series is for
// looking, and a half-written line must not hide the rest. Samples before the first header
// (a file cut by hand) are dropped the same way.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { scanLines } from '../util/scan-lines.js';
import { parseSeriesLine, SERIES_FILE, type EndLine, type SampleLine, type SegmentHeader } from './series-format.js';

export interface Segment {
  header: SegmentHeader;
  samples: SampleLine[];
  /** Absent: the run was killed (or is still running). */
  end?: EndLine;
}

export interface Series {
  segments: Segment[];
  /** Lines that did not parse (a torn tail included). */
  skippedLines: number;
  /** The file ended in a line without a newline. */
  tornTail: boolean;
}

export async function readSeries(dir: string): Promise<Series> {
  const path = join(dir, SERIES_FILE);
  const out: Series = { segments: [], skippedLines: 0, tornTail: false };
  if (!existsSync(path)) return out;
  await scanLines(path, (data, start, end, _next, terminated) => {
    if (!terminated) {
      if (end > start) {
        out.tornTail = true;
        out.skippedLines++;
      }
      return;
    }
    if (end === start) return;
    const l = parseSeriesLine(data.toString('utf8', start, end));
    const cur = out.segments[out.segments.length - 1];
    if (!l) out.skippedLines++;
    else if ('seg' in l) out.segments.push({ header: l.seg, samples: [] });
    else if (!cur) out.skippedLines++;
    else if ('end' in l) cur.end = l.end;
    else cur.samples.push(l);
  });
  return out;
}
