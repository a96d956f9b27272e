// Answers that cost nothing go first: a duplicate of another record (--dedupe), then the cache
// (--cache), then the work that asks. One wrapping for every mode that asks record by record
// (online, a coordinator's queue, batch mode's online fallback).

import type { InputRecord, OutputRecord } from '../records.js';
import type { Dedupe } from './dedupe.js';
import type { ResponseCache } from './response-cache.js';

export type Work = (rec: InputRecord, signal: AbortSignal) => Promise<OutputRecord | null>;

export function reuseAnswers(work: Work, o: { dedupe?: Dedupe; cache?: ResponseCache }): Work {
  let w = work;
  if (o.cache) w = o.cache.wrap(w);
  if (o.dedupe) w = o.dedupe.wrap(w);
  return w;
}
