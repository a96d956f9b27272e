// What a run learned about the quota, kept per model in the output directory
// (OUT/.gempipe-limits.json) so the next run into it starts at that rate instead of probing
// again: a limit the server named (a 429's quotaValue) is held as a limit; a rate found by
// the adaptive controller is where the next run starts. Written atomically (tmp + rename).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LearnedLimit } from './limiter.js';
import { LIMITS_FILE } from '../output-layout.js';


export interface LearnedLimits {
  rpm?: LearnedLimit;
  tpm?: LearnedLimit;
  /** ISO time it was learned. */
  at?: string;
}

type LimitsFile = Record<string, LearnedLimits>;

function readAll(dir: string): LimitsFile {
  try {
    const v = JSON.parse(readFileSync(join(dir, LIMITS_FILE), 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as LimitsFile) : {};
  } catch {
    return {}; // none yet, or unreadable: learn afresh
  }
}

function valid(l: LearnedLimit | undefined): LearnedLimit | undefined {
  return l && Number.isFinite(l.value) && l.value > 0 && (l.source === 'server' || l.source === 'adaptive') ? l : undefined;
}

export function loadLearned(dir: string, model: string): LearnedLimits {
  const m = readAll(dir)[model];
  return m ? { rpm: valid(m.rpm), tpm: valid(m.tpm), at: m.at } : {};
}

export function saveLearned(dir: string, model: string, limits: LearnedLimits): void {
  if (!limits.rpm && !limits.tpm) return;
  const all = readAll(dir);
  all[model] = { ...limits, at: new Date().toISOString() };
  const path = join(dir, LIMITS_FILE);
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify(all, null, 2) + '\n');
    renameSync(`${path}.tmp`, path);
  } catch {
    // best effort: the next run probes again
  }
}
