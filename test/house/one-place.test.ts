// The house's "one place" rules, as tests rather than comments: comments claiming them went stale
// before (code-review-3 §2.2). Each reads the source files and names the offender.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '../../src');

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The file's code without comments (string literals kept). */
function code(path: string): string {
  return readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/\s\/\/ .*$/gm, '');
}

const rel = (p: string) => relative(SRC, p);
// src/quota and src/emulator have other owners; their files are not held to these rules here.
const OURS = sources().filter((p) => !/^(quota|emulator)\//.test(rel(p)));

describe('one place', () => {
  it('only output/layout.ts names the files of an output directory', () => {
    const name = /['"`][^'"`\n]*(\.gempipe|failures\.jsonl|superseded\.jsonl|shard-\d|shard-\$|\.tmp\b)/;
    // cli/flags.ts: its help texts speak of the files in prose.
    const offenders = OURS.filter((p) => !['output/layout.ts', 'cli/flags.ts'].includes(rel(p)) && name.test(code(p))).map(rel);
    expect(offenders).toEqual([]);
  });

  it('only src/gemini/ talks to @google/genai', () => {
    expect(OURS.filter((p) => !rel(p).startsWith('gemini/') && /from '@google\/genai'|import\('@google\/genai'\)/.test(code(p))).map(rel)).toEqual([]);
  });

  it('lmdb (a native binding) is loaded only when a cache is opened: no static import', () => {
    expect(OURS.filter((p) => /^import[^;]*from 'lmdb'/m.test(code(p)) && !/^import type/m.test(code(p).match(/^import[^;]*from 'lmdb'.*$/m)![0])).map(rel)).toEqual([]);
  });

  it('files read back go through util/scan-lines.ts: no readline', () => {
    expect(OURS.filter((p) => /from 'node:readline'|require\('readline'\)/.test(code(p))).map(rel)).toEqual([]);
  });
});
