// --input-format request: a GenerateContentRequest or a Batch API line per line, kept as given
// (keys under their JSON names), its text the prompt, its key kept; a bad line names what is
// wrong, its line and its file.

import { describe, expect, it } from 'vitest';
import { createRequestParser } from '../../src/request/line-request.js';

const parse = (text: string, model = 'gemini-2.5-flash') => createRequestParser(model)('batch.jsonl', { line: 4, text });

describe('request lines', () => {
  it('a Batch API line keeps its key; snake_case top-level and generationConfig keys read as JSON names; the text of the turns is the prompt', () => {
    const r = parse(JSON.stringify({
      key: 'req-7',
      request: {
        contents: [{ role: 'user', parts: [{ text: 'Hi' }] }, { role: 'model', parts: [{ text: 'Hello!' }] }, { role: 'user', parts: [{ text: 'Describe ' }, { file_data: { file_uri: 'https://x/y.png' } }, { text: 'this' }] }],
        system_instruction: { parts: [{ text: 'Be brief.' }] },
        generation_config: { max_output_tokens: 50, temperature: 0.1 },
        safety_settings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
      },
    }));
    expect(r).toMatchObject({ id: 'batch.jsonl:4', line: 4, key: 'req-7', prompt: 'Hi\nHello!\nDescribe this' });
    expect(r!.invalid).toBeUndefined();
    expect(Object.keys(r!.request!)).toEqual(['contents', 'systemInstruction', 'generationConfig', 'safetySettings']);
    expect(r!.request!.generationConfig).toEqual({ maxOutputTokens: 50, temperature: 0.1 });
  });

  it('a bare GenerateContentRequest has no key; a system instruction given as text becomes a Content; the same model under models/ is accepted', () => {
    const r = parse(JSON.stringify({ model: 'models/gemini-2.5-flash', contents: [{ parts: [{ text: 'Q' }] }], systemInstruction: 'Answer in French.' }));
    expect(r!.key).toBeUndefined();
    expect(r!.request).toEqual({ contents: [{ parts: [{ text: 'Q' }] }], systemInstruction: { parts: [{ text: 'Answer in French.' }] } });
    expect(parse(JSON.stringify({ key: 12, request: { contents: [{ parts: [{ text: 'Q' }] }] } }))!.key).toBe('12');
  });

  it('a line that is not a request says what is wrong, with its line and file', () => {
    const cases: Array<[string, string]> = [
      ['{"contents": [', 'line 4 of batch.jsonl is not valid JSON'],
      ['[1,2]', 'line 4 of batch.jsonl is not a JSON object'],
      ['{"prompt": "hi"}', 'line 4 of batch.jsonl is neither a GenerateContentRequest (it has no "contents") nor a Batch API line ({"key", "request"})'],
      ['{"key": "a", "request": "hi"}', 'has a "request" that is not a JSON object'],
      ['{"key": {"x": 1}, "request": {"contents": []}}', 'has a "key" that is not a string'],
      ['{"contents": []}', 'has a bad request: "contents" must be a non-empty array of turns'],
      ['{"contents": [{"role": "user"}]}', '"contents[0].parts" must be a non-empty array'],
      ['{"contents": [{"parts": [{}]}]}', '"contents[0].parts[0]" must be a part object'],
      ['{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": 3}', 'has a "generationConfig" that is not an object'],
      ['{"contents": [{"parts": [{"text": "x"}]}], "model": "gemini-2.5-pro"}', 'asks for model "gemini-2.5-pro", not this run\'s --model gemini-2.5-flash'],
    ];
    for (const [text, message] of cases) {
      const r = parse(text);
      expect(r!.invalid?.message, text).toContain(message);
      expect(r!.request).toBeUndefined();
    }
  });
});
