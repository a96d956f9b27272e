// What `gempipe merge` checks before it writes anything: that the directories are the parts 1/N …
// N/N of one job (each part's .gempipe-job.json: the same shape, the same inputs by name, each
// index once; a directory without --partition is 1/1), each given once, and each finished — its
// last run ended with a record for every input line of its share (the job file's `complete`) and
// it still holds as many records. What is wrong refuses the merge (exit 2) naming it, unless
// --allow-partial, which merges anyway and says the same things.

import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Partition } from '../partition.js';
import { IdSet } from './id-set.js';
import { readJobFile, shapeKey, type Completion } from './job-file.js';
import { JOB_FILE, SOURCES_FILE } from './layout.js';
import { scanJsonl } from './output-state.js';
import { listRecordFiles } from './record-files.js';
import { readSourceNames } from './source-names.js';

export interface PartsCheck {
  /** What keeps the directories from being a whole job, in words ([] when they are). */
  missing: string[];
  /** Every part is whole: the merged job's input records (the parts' shares together). */
  complete?: Pick<Completion, 'lines'>;
}

/** Distinct ids in a directory's record files. */
async function distinctIds(dir: string): Promise<number> {
  const ids = new IdSet();
  for (const name of listRecordFiles(dir)) await scanJsonl(join(dir, name), (ref) => void ids.add(ref.source, ref.line), false);
  return ids.size;
}

const partName = (p: Partition) => `${p.index}/${p.count}`;

export async function checkParts(dirs: readonly string[], allowPartial: boolean, say: (line: string) => void): Promise<PartsCheck> {
  const missing: string[] = [];
  const byReal = new Map<string, string>();
  for (const d of dirs) {
    const real = realpathSync(d);
    const twice = byReal.get(real);
    if (twice !== undefined) missing.push(`${d} is given twice${twice !== d ? ` (also as ${twice})` : ''}: each part once`);
    byReal.set(real, d);
  }
  const parts = dirs.map((d) => ({ dir: d, job: readJobFile(d) }));
  const counts = new Set(parts.map((p) => p.job?.partition?.count ?? 1));
  const shapes = new Set(parts.filter((p) => p.job).map((p) => shapeKey(p.job!)));
  if (counts.size > 1) missing.push(`the directories are parts of different splits (${parts.map((p) => `${p.dir}: ${partName(p.job?.partition ?? { index: 1, count: 1 })}`).join(', ')})`);
  if (shapes.size > 1) missing.push(`the parts asked differently (their ${JOB_FILE} differ: model, system instruction, generation config or input format): they are not parts of one job`);
  const names = parts.map((p) => [...readSourceNames(p.dir).keys()].sort().join('\n'));
  if (names.every((n) => n !== '') && new Set(names).size > 1) missing.push(`the parts read different inputs (their ${SOURCES_FILE} name other files): they are not parts of one job`);
  let lines = 0;
  if (counts.size === 1) {
    const n = [...counts][0];
    const seen = new Map<number, string>();
    for (const p of parts) {
      const i = p.job?.partition?.index ?? 1;
      const other = seen.get(i);
      if (other !== undefined && realpathSync(other) !== realpathSync(p.dir)) missing.push(`part ${i}/${n} is given twice (${other} and ${p.dir})`);
      seen.set(i, p.dir);
    }
    const absent = Array.from({ length: n }, (_, k) => k + 1).filter((i) => !seen.has(i));
    if (absent.length > 0) missing.push(`part${absent.length > 1 ? 's' : ''} ${absent.slice(0, 10).map((i) => `${i}/${n}`).join(', ')}${absent.length > 10 ? ', …' : ''} of ${n} ${absent.length > 1 ? 'are' : 'is'} not given`);
  }
  for (const p of parts) {
    const part = p.job?.partition ? `part ${partName(p.job.partition)} (${p.dir})` : p.dir;
    if (!p.job) {
      missing.push(`${p.dir} has no ${JOB_FILE}: no gempipe run wrote it to the end (or an older gempipe did), so whether it is whole cannot be told`);
      continue;
    }
    const c = p.job.complete;
    if (!c) {
      missing.push(`${part} did not finish: its last run stopped before every input line of its share had a record (killed, interrupted, a fault or unreadable input); rerun that part's command to complete it`);
      continue;
    }
    const held = await distinctIds(p.dir);
    if (held < c.records) missing.push(`${part} holds ${held} record(s), fewer than the ${c.records} its finished run left: records were removed since; rerun that part's command`);
    lines += c.lines;
  }
  if (missing.length > 0) {
    if (!allowPartial) throw new UsageError(`merge refused: the directories are not every part of one finished job — ${missing.join('; ')}. Merge anyway with --allow-partial (it says what is missing)`);
    for (const m of missing) say(`gempipe merge: --allow-partial: ${m}`);
    return { missing };
  }
  return { missing, complete: { lines } };
}
