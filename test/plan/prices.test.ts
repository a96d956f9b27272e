// The built-in price table --dry-run prices a plan with.

import { describe, expect, it } from 'vitest';
import { priceFor } from '../../src/plan.js';

describe('priceFor', () => {
  it('prices a model, its dated variants, and an introductory price by date', () => {
    expect(priceFor('gemini-2.5-flash')).toMatchObject({ in: 0.3, out: 2.5 });
    expect(priceFor('models/gemini-2.5-flash-preview-09-2025')).toMatchObject({ in: 0.3, out: 2.5, note: 'priced as gemini-2.5-flash' });
    expect(priceFor('gemini-2.5-flash-lite')).toMatchObject({ in: 0.1, out: 0.4 });
    expect(priceFor('gemini-3.8-flash', '2026-11-23')).toMatchObject({ in: 0.75, out: 3.75 });
    expect(priceFor('gemini-3.8-flash', '2027-01-01')).toMatchObject({ in: 1.5, out: 7.5 });
    expect(priceFor('some-other-model')).toBeUndefined();
  });
});
