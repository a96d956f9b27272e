// The library's public surface is what the README's Library table documents: every value
// src/index.ts exports is in the table, and every name in the table is exported (types aside).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as lib from '../../src/index.js';

describe('the public surface', () => {
  it('is the README Library table, name for name', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('The whole surface, by role:'), readme.indexOf('Records are plain objects'));
    const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| role') && !l.startsWith('|---'));
    const names = rows.flatMap((r) => {
      const cell = r.split(' | ')[1].split(' and the types ')[0];
      return [...cell.matchAll(/`([A-Za-z_]\w*)`/g)].map((m) => m[1]);
    });
    expect(names.length).toBeGreaterThan(20);
    expect(Object.keys(lib).sort()).toEqual([...new Set(names)].sort());
  });
});
