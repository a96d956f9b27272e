// Runs the real pipeline in-process against an emulator, through the real SDK over HTTP.

import { readFileSync } from 'node:fs';
import { parseOptions, type RawOptions } from '../../src/cli/options.js';
import { run, type RunResult } from '../../src/run.js';
import type { Emulator } from '../../src/emulator/server.js';
import { stdio } from './util.js';

export const TEST_KEY = 'test-secret-key-0123456789';

export async function runAgainst(
  emu: Emulator,
  inputs: string[],
  raw: RawOptions,
  opts: { stdin?: string; signal?: AbortSignal; key?: string } = {},
): Promise<RunResult & { stdout: string; stderr: string }> {
  const options = parseOptions({ quiet: false, progressInterval: '3600', rpm: 'off', ...raw }, inputs, {
    env: { GEMINI_API_KEY: opts.key ?? TEST_KEY, GEMINI_BASE_URL: emu.url },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  const io = stdio(opts.stdin);
  const result = await run(options, { ...io, signal: opts.signal });
  return { ...result, stdout: io.stdout.text, stderr: io.stderr.text };
}
