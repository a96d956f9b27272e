// The summary's cost (issue 21, item 11): the run's tokens priced by the table --dry-run uses,
// the Batch API's half, what --cache and --dedupe saved; a model without a price said so.

import { describe, expect, it } from 'vitest';
import { formatCost, runCost } from '../../src/observe/cost.js';
import { priceFor } from '../../src/plan.js';

const zero = { tokensIn: 0, tokensOut: 0, batchTokensIn: 0, batchTokensOut: 0, cached: 0, savedTokens: { cache: { in: 0, out: 0 }, dedupe: { in: 0, out: 0, ofCached: 0 } } };

describe('runCost', () => {
  it('prices online tokens at the table\'s price, batch tokens at half, and the savings apart', () => {
    const c = runCost({ ...zero, tokensIn: 3_000_000, tokensOut: 1_000_000, batchTokensIn: 1_000_000, batchTokensOut: 0, cached: 4, savedTokens: { cache: { in: 1_000_000, out: 0 }, dedupe: { in: 0, out: 1_000_000, ofCached: 2 } } }, { model: 'gemini-2.5-flash' }, '2026-11-02');
    const p = priceFor('gemini-2.5-flash', '2026-11-02')!;
    expect(c).toMatchObject({ currency: 'USD', model: 'gemini-2.5-flash', priceIn: p.in, priceOut: p.out });
    if ('unknown' in c) throw new Error('priced');
    expect(c.onlineUsd).toBeCloseTo(2 * p.in + p.out, 9);
    expect(c.batchUsd).toBeCloseTo(p.in / 2, 9);
    expect(c.usd).toBeCloseTo(c.onlineUsd + c.batchUsd, 9);
    expect(c.saved.batchUsd).toBeCloseTo(p.in / 2, 9);
    expect(c.saved.cacheUsd).toBeCloseTo(p.in, 9);
    // 1M output tokens copied, plus 2 copies of cache hits at the average hit (p.in / 4).
    expect(c.saved.dedupeUsd).toBeCloseTo(p.out + (2 * p.in) / 4, 9);
  });

  it('--price-in/--price-out price a model the table lacks; without them the price is unknown, not guessed', () => {
    expect(runCost({ ...zero, tokensIn: 1e6, tokensOut: 1e6 }, { model: 'my-model', priceIn: 1, priceOut: 2 })).toMatchObject({ usd: 3, prices: 'from --price-in/--price-out' });
    const unknown = runCost({ ...zero, tokensIn: 1e6 }, { model: 'my-model' });
    expect(unknown).toEqual({ model: 'my-model', unknown: expect.stringMatching(/^unknown price for model my-model: .*give --price-in and --price-out$/) });
    expect(formatCost(unknown, 0, 0)).toMatch(/^cost: unknown price for model my-model/);
  });

  it('the summary line names the price and each saving that happened', () => {
    const c = runCost({ ...zero, tokensIn: 1e6, tokensOut: 0, cached: 1, savedTokens: { cache: { in: 2e6, out: 0 }, dedupe: { in: 1e6, out: 0, ofCached: 0 } } }, { model: 'x', priceIn: 1, priceOut: 1 });
    expect(formatCost(c, 1, 3)).toBe('cost: $1.00 for x at $1/M in, $1/M out (from --price-in/--price-out); saved $2.00 by --cache (1 answer(s)), $1.00 by --dedupe (3 copies)');
    expect(formatCost(c, 0, 0)).toBe('cost: $1.00 for x at $1/M in, $1/M out (from --price-in/--price-out)');
  });
});
