// readFailures(): OUT/failures.jsonl summed up for the report — failure records by status, with
// the first few examples of each (distinct messages first, text cut short), streamed with the
// byte line scanner so a large file costs one pass and a bounded amount of memory. Counts are of
// lines: a run compacts the file at start so that each id appears once; within a run that
// retried failures an id may appear twice until the next one.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURES_FILE } from '../output-layout.js';
import { scanLines } from '../util/scan-lines.js';

export interface FailureExample {
  id: string;
  code: number;
  message: string;
  prompt: string;
  attempts: number;
}

export interface FailureDigest {
  total: number;
  byStatus: Record<string, { count: number; examples: FailureExample[] }>;
  /** Lines that were not failure records (a torn tail before the next run repairs it). */
  unreadable: number;
}

const cut = (s: unknown, n: number) => {
  const t = typeof s === 'string' ? s : s === undefined ? '' : JSON.stringify(s);
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

export async function readFailures(dir: string, examplesPerStatus = 3): Promise<FailureDigest> {
  const path = join(dir, FAILURES_FILE);
  const out: FailureDigest = { total: 0, byStatus: {}, unreadable: 0 };
  if (!existsSync(path)) return out;
  const seenMessages = new Map<string, Set<string>>();
  await scanLines(path, (data, start, end, _next, terminated) => {
    if (end === start) return;
    let r: { id?: unknown; prompt?: unknown; attempts?: unknown; error?: { status?: unknown; code?: unknown; message?: unknown } };
    try {
      if (!terminated) throw new Error('torn');
      r = JSON.parse(data.toString('utf8', start, end)) as typeof r;
    } catch {
      out.unreadable++;
      return;
    }
    const status = typeof r?.error?.status === 'string' ? r.error.status : undefined;
    if (!status) {
      out.unreadable++;
      return;
    }
    out.total++;
    const g = (out.byStatus[status] ??= { count: 0, examples: [] });
    g.count++;
    if (g.examples.length >= examplesPerStatus) return;
    const message = cut(r.error!.message, 300);
    const seen = seenMessages.get(status) ?? new Set<string>();
    seenMessages.set(status, seen);
    // Distinct messages first: three copies of one message teach less than three messages.
    if (seen.has(message) && g.count <= 50) return;
    seen.add(message);
    g.examples.push({ id: cut(r.id, 200), code: typeof r.error!.code === 'number' ? r.error!.code : 0, message, prompt: cut(r.prompt, 200), attempts: typeof r.attempts === 'number' ? r.attempts : 0 });
  });
  return out;
}
