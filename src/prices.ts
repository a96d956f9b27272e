// The price table --dry-run, the summary's cost, the report and --metrics price tokens with: USD per
// million input, output and context-cached tokens and cache storage per model, dated, with
// introductory prices that end and aliases priced as the model they stand for.

/**
 * USD per million tokens, standard paid tier, text, prompts up to 200k tokens. Source: the
 * Gemini API pricing page (ai.google.dev/gemini-api/docs/pricing) as read on 2026-10-07, plus
 * gemini-3-flash from its launch price. Prices change: --price-in/--price-out override.
 *
 * Context caching (`cached`: USD per million cached input tokens; `storage`: USD per million
 * tokens per hour an explicit cache lives), as of CACHE_PRICES_DATE: the pricing page's rows as
 * quoted on discuss.ai.google.dev (2.5 Pro $0.125 and $4.50/h, 3 Pro $0.20), and its rule for the
 * rest — cached input is 10% of the input price on 2.5 and later models (the "90% discount" of the
 * caching docs), 25% on 2.0; storage $1.00/h for Flash and Flash-Lite, $4.50/h for Pro. Creating
 * an explicit cache bills its tokens once at the input price (the caching docs).
 */
export const PRICE_TABLE_DATE = '2026-10-07';
export const CACHE_PRICES_DATE = '2026-12-01';
export interface Price {
  in: number;
  out: number;
  /** Cached input tokens (implicit or explicit cache hits), USD per million. */
  cached: number;
  /** An explicit cache's storage, USD per million tokens per hour. */
  storage: number;
  note?: string;
  /** An introductory price that ends: from `from` (YYYY-MM-DD) on, `in`/`out`/`cached` become these. */
  later?: { from: string; in: number; out: number; cached: number };
}
export const PRICES: Record<string, Price> = {
  'gemini-3.8-flash': { in: 0.75, out: 3.75, cached: 0.075, storage: 1, later: { from: '2027-01-01', in: 1.5, out: 7.5, cached: 0.15 } },
  'gemini-3.5-flash': { in: 1.5, out: 9, cached: 0.15, storage: 1 },
  'gemini-3.5-flash-lite': { in: 0.3, out: 2.5, cached: 0.03, storage: 1 },
  'gemini-3.1-pro': { in: 2, out: 12, cached: 0.2, storage: 4.5 },
  'gemini-3-flash': { in: 0.5, out: 3, cached: 0.05, storage: 1 },
  'gemini-2.5-pro': { in: 1.25, out: 10, cached: 0.125, storage: 4.5 },
  'gemini-2.5-flash': { in: 0.3, out: 2.5, cached: 0.03, storage: 1 },
  'gemini-2.5-flash-lite': { in: 0.1, out: 0.4, cached: 0.01, storage: 1 },
  'gemini-2.0-flash': { in: 0.1, out: 0.4, cached: 0.025, storage: 1 },
  'gemini-flash-latest': { in: 1.5, out: 9, cached: 0.15, storage: 1, note: 'an alias that moves with each release; priced as gemini-3.5-flash, the dearest Flash in the table' },
  'gemini-flash-lite-latest': { in: 0.3, out: 2.5, cached: 0.03, storage: 1, note: 'an alias; priced as gemini-3.5-flash-lite' },
  'gemini-pro-latest': { in: 2, out: 12, cached: 0.2, storage: 4.5, note: 'an alias; priced as gemini-3.1-pro' },
  // Embeddings bill input tokens only (pricing page as quoted by embeddingcost.com and tokenmix.ai,
  // read 2026-12-01: $0.15 / $0.20 per million, batch half); text inputs.
  'gemini-embedding-001': { in: 0.15, out: 0, cached: 0.15, storage: 0 },
  'gemini-embedding-2-preview': { in: 0.2, out: 0, cached: 0.2, storage: 0 },
};

/** The price of a model on a day (YYYY-MM-DD); a dated or preview variant is priced as its family. */
export function priceFor(model: string, day = new Date().toISOString().slice(0, 10)): { in: number; out: number; cached: number; storage: number; note?: string } | undefined {
  let name = model.replace(/^models\//, '');
  let note: string | undefined;
  if (!PRICES[name]) {
    const family = Object.keys(PRICES).filter((k) => name.startsWith(k + '-')).sort((a, b) => b.length - a.length)[0];
    if (!family) return undefined;
    note = `priced as ${family}`;
    name = family;
  }
  const p = PRICES[name];
  if (p.later && day >= p.later.from) return { in: p.later.in, out: p.later.out, cached: p.later.cached, storage: p.storage, note: note ?? p.note };
  const intro = p.later ? `introductory price until ${p.later.from}, then $${p.later.in}/$${p.later.out}` : undefined;
  const notes = [note ?? p.note, intro].filter(Boolean).join('; ');
  return { in: p.in, out: p.out, cached: p.cached, storage: p.storage, ...(notes ? { note: notes } : {}) };
}
