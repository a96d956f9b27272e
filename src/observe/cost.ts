// What a run cost, from its token counters and the same price table as --dry-run (priceFor):
// online tokens at the table's price, Batch API tokens at half of it, context-cached input
// tokens at the table's cached rate, an explicit cache's storage by the token-hour. And what it
// saved: the Batch API's half, the cached tokens' discount, and the records --cache and --dedupe
// answered without a request (priced at the run's average paid record). Pure arithmetic, once
// per tick or scrape.

import { priceFor } from '../plan.js';
import type { RunCost } from '../stats.js';

/** The Batch API bills this fraction of the online price. */
export const BATCH_FACTOR = 0.5;
/**
 * Context-cached input tokens bill this fraction of the input price where the table has no
 * rate of its own for the model (--price-in for a model not in it): 2.5 and later models' rule.
 */
export const CACHED_INPUT_FACTOR = 0.1;

export interface CostPrices {
  model: string;
  /** USD per million input / output tokens, online. */
  in: number;
  out: number;
  /** USD per million context-cached input tokens. */
  cachedIn: number;
  /** USD per million tokens per hour of an explicit cache's storage (0: unknown). */
  storage?: number;
  /** Batch API price as a fraction of online. */
  batchFactor: number;
  /** Where the prices come from, for the report. */
  note: string;
}

/**
 * The prices of a run of `model`: --price-in/--price-out where given, else the built-in table;
 * undefined when the model is not in it and no flag gives both.
 */
export function pricesFor(model: string, flags: { priceIn?: number; priceOut?: number } = {}, day?: string): CostPrices | undefined {
  const table = priceFor(model, day);
  const pin = flags.priceIn ?? table?.in;
  const pout = flags.priceOut ?? table?.out;
  if (pin === undefined || pout === undefined) return undefined;
  const from = flags.priceIn !== undefined || flags.priceOut !== undefined ? 'from --price-in/--price-out' : `built-in price table${table?.note ? ` (${table.note})` : ''}`;
  // The cached rate keeps the table's ratio to the input price when --price-in overrides it.
  const ratio = table ? table.cached / table.in : CACHED_INPUT_FACTOR;
  const cachedIn = pin * ratio;
  return { model, in: pin, out: pout, cachedIn, storage: table?.storage ?? 0, batchFactor: BATCH_FACTOR, note: `${from}; cached input at $${+cachedIn.toPrecision(3)}/M (${Math.round(ratio * 100)}% of the input price)` };
}

export interface CostCounters {
  tokensIn: number;
  tokensOut: number;
  tokensCached: number;
  batchTokensIn: number;
  batchTokensOut: number;
  succeeded: number;
  deduped: number;
  cached: number;
  /** Explicit context caches' storage: tokens × hours they lived. */
  cacheTokenHours?: number;
  /** Explicit context caches created: their tokens, billed once at the input price. */
  cacheCreatedTokens?: number;
}

export interface Cost {
  /** Everything billed. */
  usd: number;
  onlineUsd: number;
  batchUsd: number;
  /** The Batch API's discount on the tokens it answered. */
  savedBatchUsd: number;
  /** The context cache's discount on cached input tokens. */
  savedCachedTokensUsd: number;
  /** Explicit caches' creation and storage (in `usd`). */
  storageUsd?: number;
  /** Records answered by --cache/--dedupe, at the run's average paid record (an estimate). */
  savedReuseUsd: number;
}

/** The summary's cost (stats.ts RunCost) of a run's counters; undefined when the model has no price. */
export function runCostOf(c: CostCounters, model: string, flags: { priceIn?: number; priceOut?: number } = {}): RunCost | undefined {
  const p = pricesFor(model, flags);
  if (!p) return undefined;
  const cost = costOf(c, p);
  const uncached = costOf({ ...c, tokensCached: 0, cacheTokenHours: 0, cacheCreatedTokens: 0 }, p);
  return {
    usd: cost.usd, withoutCacheUsd: uncached.usd, savedCachedUsd: cost.savedCachedTokensUsd, storageUsd: cost.storageUsd ?? 0, savedBatchUsd: cost.savedBatchUsd,
    prices: { in: p.in, cached: +p.cachedIn.toPrecision(3), out: p.out }, note: p.note.replace(/; cached input at .*$/, ''),
  };
}

export function costOf(c: CostCounters, p: CostPrices): Cost {
  const M = 1e6;
  const onlineIn = Math.max(0, c.tokensIn - c.batchTokensIn);
  const onlineOut = Math.max(0, c.tokensOut - c.batchTokensOut);
  // Cached tokens are part of the prompt count; bill them at their own rate.
  const cachedOnline = Math.min(c.tokensCached, onlineIn);
  const onlineUsd = ((onlineIn - cachedOnline) * p.in + cachedOnline * p.cachedIn + onlineOut * p.out) / M;
  const fullBatch = (c.batchTokensIn * p.in + c.batchTokensOut * p.out) / M;
  const batchUsd = fullBatch * p.batchFactor;
  const storageUsd = ((c.cacheTokenHours ?? 0) * (p.storage ?? 0) + (c.cacheCreatedTokens ?? 0) * p.in) / M;
  const usd = onlineUsd + batchUsd + storageUsd;
  const paid = c.succeeded - c.deduped - c.cached;
  return {
    usd,
    onlineUsd,
    batchUsd,
    savedBatchUsd: fullBatch - batchUsd,
    savedCachedTokensUsd: (cachedOnline * (p.in - p.cachedIn)) / M,
    storageUsd,
    savedReuseUsd: paid > 0 ? ((c.deduped + c.cached) * usd) / paid : 0,
  };
}
