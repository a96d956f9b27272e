// `gempipe --help` (and any run without --cache) does not load lmdb's native binding: the option
// parser no longer imports the cache module for parseDuration (code-review-3 §1.2). Checked on the
// built CLI: the shared objects the process loaded, as Node's diagnostic report lists them.

import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../helpers/cli-helpers.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

/** The native libraries a CLI invocation loaded, by name. */
function loaded(args: string[]): { status: number | null; objects: string[] } {
  const probe = join(box.dir, 'probe.mjs');
  const out = join(box.dir, 'objects.json');
  writeFileSync(probe, `process.on('exit', () => process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.report.getReport().sharedObjects)));\n`);
  rmSync(out, { force: true });
  const r = spawnSync(process.execPath, ['--import', probe, MAIN, ...args], { encoding: 'utf8', cwd: box.dir, env: { ...process.env, GEMINI_API_KEY: 'k' } });
  const objects = JSON.parse(readFileSync(out, 'utf8')) as string[];
  return { status: r.status, objects };
}

describe('lazy native bindings', () => {
  it('--help loads no lmdb; `cache stats` does (the probe sees it)', () => {
    const help = loaded(['--help']);
    expect(help.status).toBe(0);
    expect(help.objects.filter((o) => /lmdb/i.test(o))).toEqual([]);
    writeFileSync(join(box.dir, 'empty'), '');
    const stats = loaded(['cache', 'stats', join(box.dir, 'empty')]); // not a cache, but opening it loads lmdb
    expect(stats.status).toBe(1);
    expect(stats.objects.filter((o) => /lmdb/i.test(o))).not.toEqual([]);
  });
});
