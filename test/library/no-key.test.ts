// run() from the library without an API key: one clear rejection naming where the key comes
// from, before anything is made — not the SDK's warning per client and an "unreachable" exit 1.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGeminiClient, run, UsageError } from '../../src/index.js';
import { sandbox, stdio } from '../helpers/util.js';

const box = sandbox();
afterEach(() => vi.restoreAllMocks());

describe('run() without an API key', () => {
  it('rejects once with a UsageError naming GEMINI_API_KEY and `apiKey`; nothing printed, nothing made', async () => {
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    const input = join(box.dir, 'q.txt');
    writeFileSync(input, 'What is two times 3?\n');
    const out = join(box.dir, 'out');
    const io = stdio();
    const p = run({ inputs: [input], out }, io);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(/No API key: pass `apiKey` to run\(\) \(the CLI reads it from GEMINI_API_KEY or GOOGLE_API_KEY\), or `emulator: true`/);
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
    expect(io.stderr.text).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('--dry-run and the emulator need none', async () => {
    const input = join(box.dir, 'q.txt');
    writeFileSync(input, 'What is two times 3?\n');
    await expect(run({ inputs: [input], out: join(box.dir, 'o1'), dryRun: true }, stdio())).resolves.toMatchObject({ exitCode: 0 });
    await expect(run({ inputs: [input], out: join(box.dir, 'o2'), emulator: true, quiet: true }, stdio())).resolves.toMatchObject({ exitCode: 0, succeeded: 1 });
  });

  it('createGeminiClient() without one throws at once, naming `apiKey`', () => {
    expect(() => createGeminiClient({ apiKey: '', model: 'gemini-2.5-flash', timeoutMs: 1000 })).toThrow(/createGeminiClient\(\) needs `apiKey`/);
  });
});
