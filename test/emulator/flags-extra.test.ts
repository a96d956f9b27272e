// The emulator sub-command's extra flags (src/emulator/flags-extra.ts): parsed by commander as the
// CLI would (the rows added to a command), turned into EmulatorOptions a server starts with, and
// refused with a message naming the flag.

import { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { EMULATOR_EXTRA_FLAGS, parseEmulatorExtraFlags } from '../../src/emulator/flags-extra.js';
import { startEmulator } from '../../src/emulator/server.js';

function raw(argv: string[]): Record<string, unknown> {
  const cmd = new Command('emulator').exitOverride();
  for (const f of EMULATOR_EXTRA_FLAGS) {
    const opt = new Option(f.flags, f.help);
    if (f.default !== undefined) opt.default(String(f.default));
    cmd.addOption(opt);
  }
  cmd.parse(argv, { from: 'user' });
  return cmd.opts();
}

describe('emulator extra flags', () => {
  it('parse into the options a server starts with', async () => {
    const o = parseEmulatorExtraFlags(raw([
      '--api-key', 'AIza-x', '--retry-info', '10s', '--limit-schedule', '0:6000,30000:3000,60000:6000', '--batch-result-lag-ms', '1500',
      '--batch-result-lag-mode', 'not-found', '--batch-order', 'input', '--batch-error-shape', 'http', '--batch-refuse-creates', '2', '--files-time-scale', '60',
      '--cache-time-scale', '3600', '--implicit-cache', 'off', '--fetch-file-uris', 'off',
    ]));
    expect(o).toEqual({
      apiKey: 'AIza-x', retryInfo: { fixed: 10 }, limitSchedule: [{ atMs: 0, perMinute: 6000 }, { atMs: 30000, perMinute: 3000 }, { atMs: 60000, perMinute: 6000 }],
      batchResultLagMs: 1500, batchResultLagMode: 'not-found', batchShuffle: false, batchErrorShape: 'http', batchRefuseCreates: 2, filesTimeScale: 60,
      cacheTimeScale: 3600, implicitCache: false, fetchFileUris: false,
    });
    const emu = await startEmulator(o);
    await emu.close();
    // The defaults the table shows are the options' defaults.
    expect(parseEmulatorExtraFlags(raw([]))).toEqual({
      retryInfo: 'whole', batchResultLagMs: 0, batchResultLagMode: 'absent', batchShuffle: true, batchErrorShape: 'rpc', batchRefuseCreates: 0, implicitCache: true, fetchFileUris: true,
    });
  });

  it('refuse a bad value, naming the flag', () => {
    expect(() => parseEmulatorExtraFlags(raw(['--retry-info', 'often']))).toThrow(/Expected `--retry-info` to be/);
    expect(() => parseEmulatorExtraFlags(raw(['--limit-schedule', '0=6000']))).toThrow(/Expected `--limit-schedule` to be AT_MS:PER_MINUTE/);
    expect(() => parseEmulatorExtraFlags(raw(['--batch-order', 'random']))).toThrow(/Expected `--batch-order` to be shuffled or input/);
    expect(() => parseEmulatorExtraFlags(raw(['--batch-refuse-creates', '1.5']))).toThrow(/Expected `--batch-refuse-creates` to be an integer/);
    expect(() => parseEmulatorExtraFlags(raw(['--implicit-cache', 'yes']))).toThrow(/Expected `--implicit-cache` to be on or off/);
  });
});
