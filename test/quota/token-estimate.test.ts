// TokenEstimator: the input-token estimate the limiter's token budget takes before each call.
// (Moved out of daily-cap.test.ts, which held it.)

import { describe, expect, it } from 'vitest';
import { TokenEstimator } from '../../src/quota/token-estimate.js';

describe('TokenEstimator', () => {
  it('starts at ~4 characters a token and converges on the reported counts', () => {
    const e = new TokenEstimator();
    const prompt = 'x'.repeat(400);
    expect(e.estimate(prompt)).toBe(101);
    // The API says these prompts are 2 characters a token (e.g. numbers or CJK).
    for (let i = 0; i < 5; i++) e.observe(prompt, 200);
    expect(e.charsPerToken).toBe(2);
    expect(e.estimate(prompt)).toBe(201);
  });

  it('learns the fixed per-request tokens separately from the prompt', () => {
    const e = new TokenEstimator(50);
    expect(e.estimate('abcd'.repeat(25))).toBe(25 + 50 + 1);
    for (let i = 0; i < 10; i++) e.observe('abcd'.repeat(25), 50 + 50); // 100 chars = 50 tokens
    expect(e.charsPerToken).toBe(2);
  });
});
