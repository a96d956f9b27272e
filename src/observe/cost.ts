// What a run cost, from its token counters and the same price table as --dry-run (priceFor):
// online tokens at the table's price, Batch API tokens at half of it, context-cached input
// tokens at the table's cached rate, an explicit cache's storage by the token-hour. And what it
// saved: the Batch API's half, the cached tokens' discount, and the records --cache and --dedupe
// answered without a request (priced at the run's average paid record). Pure arithmetic, once
// per tick or scrape.

import { PRICE_TABLE_DATE, priceFor } from '../plan.js';

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

/** The end summary's cost (job/finish.ts): what the run paid, and what --cache, --dedupe and the Batch API saved. */
export type RunCost =
  | {
      currency: 'USD';
      model: string;
      /** USD per million input / output tokens, online; and where they come from. */
      priceIn: number;
      priceOut: number;
      prices: string;
      /** Everything billed this run: online and Batch API tokens. */
      usd: number;
      onlineUsd: number;
      batchUsd: number;
      /** Not paid: what the reused answers had cost (at the online price), the Batch API's half, and context-cached input's discount. */
      saved: { cacheUsd: number; dedupeUsd: number; batchUsd: number; cachedInputUsd: number };
      /** --context: input tokens served from a context cache, and the explicit caches' creation and storage (in `usd`). */
      cachedTokens: number;
      contextStorageUsd: number;
      /** What the same run would have cost with no context cache at all. */
      withoutContextCacheUsd: number;
    }
  /** No price for the model: said, never guessed. */
  | { model: string; unknown: string };

export interface RunCostCounters {
  tokensIn: number;
  tokensOut: number;
  batchTokensIn: number;
  batchTokensOut: number;
  /** `dedupe.ofCached`: copies of a cache hit whose cost is not known here (priced at the average hit). */
  savedTokens: { cache: { in: number; out: number }; dedupe: { in: number; out: number; ofCached: number } };
  cached: number;
  /** --context: input tokens served from a context cache; explicit caches' tokens × hours and tokens created. */
  tokensCached?: number;
  cacheTokenHours?: number;
  cacheCreatedTokens?: number;
}

/** A run's cost from its counters, priced by pricesFor() — the table --dry-run prices with — on `day`. */
export function runCost(c: RunCostCounters, o: { model: string; priceIn?: number; priceOut?: number }, day?: string): RunCost {
  const p = pricesFor(o.model, o, day);
  if (!p) return { model: o.model, unknown: `unknown price for model ${o.model}: it is not in the built-in price table (of ${PRICE_TABLE_DATE}); give --price-in and --price-out` };
  const none = { tokensCached: 0, batchTokensIn: 0, batchTokensOut: 0, succeeded: 0, deduped: 0, cached: 0 };
  const billed = { ...none, tokensIn: c.tokensIn, tokensOut: c.tokensOut, batchTokensIn: c.batchTokensIn, batchTokensOut: c.batchTokensOut };
  const paid = costOf({ ...billed, tokensCached: c.tokensCached ?? 0, cacheTokenHours: c.cacheTokenHours ?? 0, cacheCreatedTokens: c.cacheCreatedTokens ?? 0 }, p);
  const uncached = costOf(billed, p);
  const at = (t: { in: number; out: number }) => costOf({ ...none, tokensIn: t.in, tokensOut: t.out }, p).usd;
  const cacheUsd = at(c.savedTokens.cache);
  const table = priceFor(o.model, day);
  const prices = o.priceIn !== undefined || o.priceOut !== undefined ? 'from --price-in/--price-out' : `${table?.note ? `${table.note}; ` : ''}built-in price table of ${PRICE_TABLE_DATE}`;
  return {
    currency: 'USD', model: o.model, priceIn: p.in, priceOut: p.out, prices,
    usd: paid.usd, onlineUsd: paid.onlineUsd, batchUsd: paid.batchUsd,
    saved: { cacheUsd, dedupeUsd: at(c.savedTokens.dedupe) + (c.cached > 0 ? (c.savedTokens.dedupe.ofCached * cacheUsd) / c.cached : 0), batchUsd: paid.savedBatchUsd, cachedInputUsd: paid.savedCachedTokensUsd },
    cachedTokens: c.tokensCached ?? 0, contextStorageUsd: paid.storageUsd ?? 0, withoutContextCacheUsd: uncached.usd,
  };
}

/** Dollars as the plan writes them: cents above $1, four places above a cent, else two significant digits. */
export function usd(x: number): string {
  return `$${x >= 1 ? x.toFixed(2) : x >= 0.01 || x === 0 ? x.toFixed(4) : x.toPrecision(2)}`;
}

/** The summary's money line. */
export function formatCost(c: RunCost, cached: number, deduped: number): string {
  if ('unknown' in c) return `cost: ${c.unknown}`;
  const parts = [`cost: ${usd(c.usd)}${c.batchUsd > 0 ? ` (${usd(c.onlineUsd)} online, ${usd(c.batchUsd)} batch)` : ''} for ${c.model} at $${c.priceIn}/M in, $${c.priceOut}/M out (${c.prices})`];
  const saved: string[] = [];
  if (cached > 0) saved.push(`${usd(c.saved.cacheUsd)} by --cache (${cached} answer(s))`);
  if (deduped > 0) saved.push(`${usd(c.saved.dedupeUsd)} by --dedupe (${deduped} copies)`);
  if (c.saved.batchUsd > 0) saved.push(`${usd(c.saved.batchUsd)} by the Batch API's half price`);
  if (c.saved.cachedInputUsd > 0) saved.push(`${usd(c.saved.cachedInputUsd)} by context caching (${c.cachedTokens} input tokens cached)`);
  const storage = c.contextStorageUsd > 0 ? `; the context cache's creation and storage ${usd(c.contextStorageUsd)} (billed): ${usd(c.withoutContextCacheUsd)} without caching` : '';
  return parts[0] + (saved.length ? `; saved ${saved.join(', ')}` : '') + storage;
}
