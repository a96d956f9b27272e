// Records' `hash` values and cache keys are on users' disks (resume, --dedupe, --cache): they
// must not change when the code that computes them does. Known values, pinned.

import { describe, expect, it } from 'vitest';
import { requestSpecOf } from '../../src/request/spec.js';

const SCHEMA = { type: 'object', properties: { label: { type: 'string' }, score: { type: 'number' } }, required: ['label'] };
const FULL = { model: 'gemini-2.5-flash', system: 'Be terse.', temperature: 0, maxOutputTokens: 256, thinkingBudget: 0, jsonSchema: SCHEMA };
const ODD = 'ünïcødé\n"quoted" \u0000';

const KNOWN: Array<[object, string, string, string]> = [
  [{ model: 'gemini-flash-latest' }, 'What is two times 3?', 'e9ab70dcd9ebc58a', 'b1976f8d51849bc9287377888eeeec821f782c615695bbd22df424ed3798bd32'],
  [{ model: 'gemini-flash-latest' }, '', '70a13d5ff30ea93e', '97e4401c478edbed1efbe7fb561a8e8a4f50577a0b3d69df23c81b95ae3b1644'],
  [{ model: 'gemini-flash-latest' }, ODD, 'af017a29924d5ea5', 'f79446384e1c90675d2815f8c26d7fbadfe7f7def3631bdafbf755519f4ba694'],
  [FULL, 'What is two times 3?', '696fda9653cd2cc4', '3f6fab2710bf642d77f9cf24a6146f2cd075040fa847ed90bf3dd3a9fd346022'],
  [FULL, ODD, '2710e317cbbfddd5', '80ae8c3ffbf48a2902bd53fb0628304ac72547c3be64dc65b387fe5a777d1180'],
  // The schema's keys in another order: the same `hash` (canonical), another cache key (as ever).
  [{ ...FULL, jsonSchema: { required: ['label'], properties: { score: { type: 'number' }, label: { type: 'string' } }, type: 'object' } }, 'What is two times 3?', '696fda9653cd2cc4', '6372a120cd9850c68fd991794b3ee0186bdfbae0f956509b0f2f3534e0802872'],
  [{ model: 'm', temperature: 1.5, thinkingBudget: -1 }, '', 'b60e3477c8ebb9fa', '6b31c0af102082b95f90e6818b6b0bc8266403abe6ffb65a05d5a08513bc5cb5'],
];

describe('known request hashes and cache keys', () => {
  it.each(KNOWN)('%j %j', (shape, prompt, hash, cacheKey) => {
    const spec = requestSpecOf(shape as never);
    expect(spec.hash(prompt)).toBe(hash);
    expect(spec.cacheKey(prompt)).toBe(cacheKey);
  });
});

describe('the request spec', () => {
  it('gives the SDK config, a fingerprint that follows every field, and the shape in words', () => {
    const spec = requestSpecOf(FULL);
    expect(spec.config()).toEqual({
      automaticContinuation: false, systemInstruction: 'Be terse.', temperature: 0, maxOutputTokens: 256,
      thinkingConfig: { thinkingBudget: 0 }, responseMimeType: 'application/json', responseJsonSchema: SCHEMA,
    });
    expect(requestSpecOf({ model: 'm' }).config()).toEqual({ automaticContinuation: false });
    expect(spec.fingerprint()).toMatch(/^[0-9a-f]{16}$/);
    expect(spec.fingerprint({ maxAttempts: 3 })).not.toBe(spec.fingerprint({ maxAttempts: 4 }));
    expect(requestSpecOf({ ...FULL, temperature: 0.5 }).fingerprint()).not.toBe(spec.fingerprint());
    expect(spec.describe()).toBe('gemini-2.5-flash, a system instruction, temperature 0, at most 256 output tokens, thinking budget 0, a JSON schema');
    expect(spec.expectJson).toBe(true);
    expect(spec.checkJson?.({ label: 'x' })).toBeUndefined();
    expect(spec.checkJson?.({ score: 1 })).toMatch(/label/);
    expect(requestSpecOf({ model: 'm' }).checkJson).toBeUndefined();
  });
});
