// unusable(): an answer the API gave that is still a failure for its record — no text (the
// output-token limit spent on thoughts, or nothing at all), or, under --json-schema, text that
// is not JSON or breaks the schema (those retryable, as a new answer may fit). Online and batch
// mode judge their answers by this one rule.

import type { GenerateResult } from '../gemini/client.js';
import type { RecordError } from '../records.js';

/** A successful call that is still a failure for the record: no answer text, or not JSON. */
export function unusable(res: Extract<GenerateResult, { kind: 'ok' }>, expectJson: boolean, check?: (v: unknown) => string | undefined): { error: RecordError; retry: boolean; json?: undefined } | { json: unknown } {
  if (res.text === '') {
    const maxTokens = res.finishReason === 'MAX_TOKENS';
    const thoughts = res.usage.thoughtsTokens ? ` (thoughts used ${res.usage.thoughtsTokens} tokens)` : '';
    return {
      retry: false,
      error: maxTokens
        ? { status: 'MAX_TOKENS', code: 0, message: `the answer hit the output-token limit before any text${thoughts}: give a larger --max-output-tokens or a smaller --thinking-budget` }
        : { status: 'EMPTY_RESPONSE', code: 0, message: `the answer has no text (finishReason ${res.finishReason})` },
    };
  }
  if (!expectJson) return { json: undefined };
  let json: unknown;
  try {
    json = JSON.parse(res.text) as unknown;
  } catch (e) {
    return { retry: true, error: { status: 'INVALID_RESPONSE', code: 0, message: `the response is not valid JSON: ${(e as Error).message}` } };
  }
  const wrong = check?.(json);
  if (wrong !== undefined) return { retry: true, error: { status: 'INVALID_RESPONSE', code: 0, message: `the response does not fit --json-schema: ${wrong}` } };
  return { json };
}
