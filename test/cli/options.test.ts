import { describe, expect, it } from 'vitest';
import { parseOptions, type RawOptions } from '../../src/cli/options.js';
import { UsageError } from '../../src/errors.js';

const parse = (raw: RawOptions, env: Record<string, string> = { GEMINI_API_KEY: 'k' }) => parseOptions(raw, [], { env, readFile: () => '' });

describe('--rpm', () => {
  it('takes a number, auto or off; auto is the default against the real API, off against --emulator', () => {
    const rate = (raw: RawOptions, env?: Record<string, string>) => {
      const o = parse(raw, env);
      return [o.adaptiveRate, o.rpm];
    };
    expect(rate({})).toEqual([true, undefined]);
    expect(rate({ rpm: 'auto' })).toEqual([true, undefined]);
    expect(rate({ rpm: 'off' })).toEqual([false, undefined]);
    expect(rate({ rpm: '3000' })).toEqual([false, 3000]);
    expect(parse({ emulator: true }, {})).toMatchObject({ adaptiveRate: false });
    expect(parse({ emulator: true, rpm: 'auto' }, {})).toMatchObject({ adaptiveRate: true });
  });

  it('names the option and the value when it is wrong', () => {
    for (const bad of ['fast', '0', '-5', '1.5', '']) {
      expect(() => parse({ rpm: bad })).toThrow(UsageError);
    }
    expect(() => parse({ rpm: 'fast' })).toThrow('Expected `--rpm` to be an integer >= 1, `auto` or `off`, got `fast`');
    expect(() => parse({ rpd: '0' })).toThrow('`--rpd`');
    expect(() => parse({ priceIn: 'cheap' })).toThrow('`--price-in`');
  });

  it('--dry-run needs no API key', () => {
    expect(() => parse({}, {})).toThrow('No API key');
    expect(parse({ dryRun: true }, {})).toMatchObject({ dryRun: true });
  });
});

describe('the emulator sub-command', () => {
  it('validates its flags like the run does, naming the flag', async () => {
    const { parseEmulatorOptions } = await import('../../src/cli/options.js');
    expect(() => parseEmulatorOptions({ errorRate: '5' })).toThrow('Expected `--error-rate` to be a number from 0 to 1, got `5`');
    expect(() => parseEmulatorOptions({ port: '99999' })).toThrow('Expected `--port` to be an integer from 0 to 65535, got `99999`');
    expect(() => parseEmulatorOptions({ quotaMode: 'leaky' })).toThrow('Expected `--quota-mode` to be one of bucket, fixed-window, sliding-window, got `leaky`');
    expect(parseEmulatorOptions({ port: '0', quotaMode: 'sliding-window', windowMs: '60000', timeScale: '20', quotaValue: true }))
      .toEqual({ port: 0, quota: { mode: 'sliding-window', windowMs: 60_000, timeScale: 20 }, quotaValue: true });
  });
});

describe('--keep', () => {
  it('refuses a field named like a record field instead of dropping it silently', () => {
    expect(() => parse({ inputFormat: 'jsonl', keep: 'lang,id' })).toThrow(/`--keep id`: that is the name of a field every output record has/);
    expect(parse({ inputFormat: 'jsonl', keep: 'lang,topic' }).keep).toEqual(['lang', 'topic']);
  });
});

describe('times with units', () => {
  it('takes `5s`, `1500ms`, `2m` where a flag is in ms; a bare number is still ms', () => {
    expect(parse({ timeout: '5s' }).timeoutMs).toBe(5000);
    expect(parse({ timeout: '1500ms' }).timeoutMs).toBe(1500);
    expect(parse({ timeout: '3000' }).timeoutMs).toBe(3000);
    expect(parse({ timeout: '1.5s' }).timeoutMs).toBe(1500);
    expect(parse({ retryBaseDelay: '2s', batchPoll: '1m', postTimeout: '90s' })).toMatchObject({ retryBaseDelayMs: 2000, batchPollMs: 60_000, postTimeoutMs: 90_000 });
  });

  it('takes `2m` where a flag is in seconds; a bare number is still seconds', () => {
    expect(parse({ drainTimeout: '2m', writeRetry: '90', progressInterval: '500ms' })).toMatchObject({ drainTimeoutSec: 120, writeRetrySec: 90, progressIntervalSec: 0.5 });
  });

  it('names the flag, the units it takes and the range when a time is wrong', () => {
    expect(() => parse({ timeout: 'soon' })).toThrow('Expected `--timeout` to be a time like 1500ms, 5s or 2m (a bare number is milliseconds), from 1 to 86400000 ms, got `soon`');
    expect(() => parse({ timeout: '0s' })).toThrow('`--timeout`');
    expect(() => parse({ timeout: '-5' })).toThrow('`--timeout`');
    expect(() => parse({ drainTimeout: '2d' })).toThrow('Expected `--drain-timeout` to be a time like 30s, 2m or 1h (a bare number is seconds), from 0 to 86400 s, got `2d`');
  });

  it('the worker\'s --lock-ms takes units too', async () => {
    const { parseFlags } = await import('../../src/cli/values.js');
    const { WORKER_FLAGS } = await import('../../src/cli/flags.js');
    expect(parseFlags<{ lockMs: number }>(WORKER_FLAGS, { redis: 'redis://127.0.0.1:1', lockMs: '45s' }).lockMs).toBe(45_000);
  });
});
