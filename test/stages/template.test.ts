// --template: nested fields, array elements, a missing field named with its line, @FILE, and
// malformed templates refused before any request.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseOptions } from '../../src/cli/options.js';
import { createJsonlParser } from '../../src/stages/line-parsers.js';
import { compileTemplate } from '../../src/template.js';
import { tempDir } from '../helpers/util.js';

describe('templates', () => {
  it('reads nested fields and array elements; strings as they are, other values as JSON', () => {
    const t = compileTemplate('Reply to {{ user.name }} ({{user.tags.1}}) about {{items.0}}: {{meta}}');
    expect(t.render({ user: { name: 'Ada', tags: ['x', 'vip'] }, items: ['order 7'], meta: { n: 1 } })).toEqual({ prompt: 'Reply to Ada (vip) about order 7: {"n":1}' });
    expect(t.fields).toEqual(['user', 'items', 'meta']);
    expect(t.render({ user: { name: 'Ada', tags: ['x'] }, items: ['o'], meta: 1 })).toEqual({ missing: 'user.tags.1' });
    expect(t.render({ user: { name: null }, items: [], meta: 1 })).toEqual({ missing: 'user.name' });
    expect(compileTemplate('{{toString}}').render({})).toEqual({ missing: 'toString' }); // own fields only
  });

  it('a record without a field becomes INVALID_INPUT naming the field and the line', () => {
    const parse = createJsonlParser({ promptField: 'prompt', template: 'Summarise {{doc.title}}', keep: [] });
    expect(parse('in.jsonl', { line: 7, text: '{"doc":{"title":"Dune"}}' })).toMatchObject({ prompt: 'Summarise Dune' });
    expect(parse('in.jsonl', { line: 8, text: '{"doc":{}}' })).toMatchObject({
      id: 'in.jsonl:8', invalid: { message: 'line 8 of in.jsonl has no field "doc.title" used by --template' },
    });
  });

  it('--template @FILE reads the template from a file; a stray {{ is a usage error', () => {
    const t = tempDir();
    try {
      const f = join(t.dir, 'prompt.txt');
      writeFileSync(f, 'Classify:\n{{text}}\n');
      const ctx = { env: { GEMINI_API_KEY: 'k' }, readFile: (p: string) => readFileSync(p, 'utf8') };
      expect(parseOptions({ inputFormat: 'jsonl', template: `@${f}` }, [], ctx).template).toBe('Classify:\n{{text}}');
      expect(() => parseOptions({ inputFormat: 'jsonl', template: 'Classify {{text}' }, [], ctx)).toThrow(UsageError);
      expect(() => parseOptions({ inputFormat: 'jsonl', template: 'Classify {{a..b}}' }, [], ctx)).toThrow(/not a field path/);
      expect(() => parseOptions({ inputFormat: 'jsonl', template: '@/nonexistent/t.txt' }, [], ctx)).toThrow(/Cannot read the file given to `--template`/);
    } finally {
      t.cleanup();
    }
  });
});
