// The built CLI as a test drives it: spawned (never spawnSync against an emulator in this
// process: it would deadlock), with the key in its environment, and the records it left.

import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { until as untilDeadline } from './util.js';

export const MAIN = resolve(__dirname, '../../dist/main.js');
export const CLI_KEY = 'cli-test-key-987654321';

export function env(url?: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, GEMINI_API_KEY: CLI_KEY };
  delete e.GOOGLE_API_KEY;
  if (url) e.GEMINI_BASE_URL = url;
  else delete e.GEMINI_BASE_URL;
  return e;
}

/** The CLI run to its end, synchronously: only without an emulator in this process. */
export function cli(dir: string, args: string[], opts: { url?: string; input?: string; noKey?: boolean } = {}) {
  const e = env(opts.url);
  if (opts.noKey) delete e.GEMINI_API_KEY;
  return spawnSync(process.execPath, [MAIN, ...args], { env: e, input: opts.input ?? '', encoding: 'utf8', cwd: dir });
}

/** Spawns the built CLI; collects its stderr; `exited` resolves to its exit code (or the signal that ended it). */
export function start(args: string[], opts: SpawnOptions & { input?: string } = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], opts);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  const exited = new Promise<number | string | null>((res) => child.on('exit', (c, sig) => res(sig ?? c)));
  return { child, exited, stderr: () => stderr };
}

/** Resolves once `cond()` holds (it reads the in-process emulator's counters); see util.ts until(). */
export function until(cond: () => boolean, everyMs = 5, what = 'the emulator to get there'): Promise<void> {
  return untilDeadline(cond, { everyMs, what });
}

/** Complete, valid records on disk right now (a torn last line is not a record). */
export function recordsOnDisk(out: string, only?: (name: string) => boolean): Array<{ id: string; prompt: string; hash?: string }> {
  if (!existsSync(out)) return [];
  const recs: Array<{ id: string; prompt: string; hash?: string }> = [];
  for (const name of readdirSync(out)) {
    // Record files only: not gempipe's own dotfiles (the time series, .gempipe-series.jsonl).
    if (!name.endsWith('.jsonl') || name.startsWith('.') || (only && !only(name))) continue;
    const text = readFileSync(join(out, name), 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const l of complete.split('\n')) {
      if (!l) continue;
      try {
        recs.push(JSON.parse(l));
      } catch {
        /* an invalid trailing line: resume truncates it */
      }
    }
  }
  return recs;
}
