// The `gempipe emulator` sub-command's flags for the options added with the faithful emulator (the
// quota family of issue 19, the Batch API's lag, order and error shape of issue 20, the key rule,
// the Files and cachedContents clocks and URL fetching of issue 24),
// as rows in flags.ts's Flag shape plus the one parser that reads them. All rows are `special`, so
// a generic table walk skips them and parseEmulatorExtraFlags() alone turns them into
// EmulatorOptions, with messages that name the flag. To wire them: add EMULATOR_EXTRA_FLAGS to the
// emulator command's options (cli-program.ts) and merge parseEmulatorExtraFlags(raw) into
// parseEmulatorOptions()'s result (options.ts).

import { UsageError } from '../errors.js';
import type { Flag } from '../cli/flags.js';
import type { EmulatorOptions } from './emulator-options.js';
import type { LimitStep, RetryInfoStyle } from './quota.js';

export const EMULATOR_EXTRA_FLAGS: readonly Flag[] = [
  { key: 'apiKey', flags: '--api-key <key>', help: 'accept only this API key (default: any key not starting with "invalid"; none at all is always a 403)', kind: 'special' },
  { key: 'retryInfo', flags: '--retry-info <style>', help: 'quota 429s\' RetryInfo: whole (seconds rounded up, as Google), floor, exact, none, or Ns (always N seconds)', kind: 'special', default: 'whole' },
  { key: 'limitSchedule', flags: '--limit-schedule <steps>', help: 'the --rpm limit over time, AT_MS:PER_MINUTE,... (e.g. 0:6000,30000:3000,60000:6000; AT_MS divided by --time-scale)', kind: 'special' },
  { key: 'tpmSchedule', flags: '--tpm-schedule <steps>', help: 'the --tpm limit over time, as --limit-schedule', kind: 'special' },
  { key: 'batchResultLagMs', flags: '--batch-result-lag-ms <ms>', help: 'Batch: a job reads SUCCEEDED this long before its responses can be read (divided by --batch-time-scale)', kind: 'special', default: 0 },
  { key: 'batchResultLagMode', flags: '--batch-result-lag-mode <mode>', help: 'Batch: during that lag the output is absent, or named but not-found', kind: 'special', choices: ['absent', 'not-found'], default: 'absent' },
  { key: 'batchOrder', flags: '--batch-order <order>', help: 'Batch: responses files shuffled (seeded, as the service promises no order) or in input order', kind: 'special', choices: ['shuffled', 'input'], default: 'shuffled' },
  { key: 'batchErrorShape', flags: '--batch-error-shape <shape>', help: 'Batch: per-request errors as google.rpc.Status (rpc, the service\'s) or HTTP-shaped (http)', kind: 'special', choices: ['rpc', 'http'], default: 'rpc' },
  { key: 'batchRefuseCreates', flags: '--batch-refuse-creates <n>', help: 'Batch: the first N creates get the Batch API\'s 429', kind: 'special', default: 0 },
  { key: 'filesTimeScale', flags: '--files-time-scale <x>', help: 'Files: the 48 h lifetime and video processing divided by this (default: --batch-time-scale)', kind: 'special' },
  { key: 'cacheTimeScale', flags: '--cache-time-scale <x>', help: 'cachedContents: every TTL divided by this (default: --batch-time-scale)', kind: 'special' },
  { key: 'implicitCache', flags: '--implicit-cache <on|off>', help: 'report a repeated prefix of 1,024+ tokens as cachedContentTokenCount, as 2.5+ models do', kind: 'special', choices: ['on', 'off'], default: 'on' },
  { key: 'fetchFileUris', flags: '--fetch-file-uris <on|off>', help: 'fetch http(s) fileData URIs to hash their bytes, as the service fetches them (off: the URL stands for its bytes)', kind: 'special', choices: ['on', 'off'], default: 'on' },
];

type Raw = Record<string, unknown>;

function bad(flag: string, expected: string, got: unknown): never {
  throw new UsageError(`Expected \`--${flag}\` to be ${expected}, got \`${String(got)}\``);
}

function steps(flag: string, v: string): LimitStep[] {
  const out: LimitStep[] = [];
  for (const part of v.split(',')) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m) bad(flag, 'AT_MS:PER_MINUTE pairs separated by commas (e.g. 0:6000,30000:3000)', v);
    out.push({ atMs: Number(m[1]), perMinute: Number(m[2]) });
  }
  return out;
}

function number(flag: string, v: unknown, min: number, integer: boolean): number {
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) bad(flag, `${integer ? 'an integer' : 'a number'} >= ${min}`, v);
  return n;
}

/** The EmulatorOptions the extra flags given in `raw` (commander's values) set. */
export function parseEmulatorExtraFlags(raw: Raw): Partial<EmulatorOptions> {
  const o: Partial<EmulatorOptions> = {};
  const given = (k: string) => raw[k] !== undefined && raw[k] !== false;
  if (given('apiKey')) {
    if (String(raw.apiKey) === '') bad('api-key', 'a non-empty key', raw.apiKey);
    o.apiKey = String(raw.apiKey);
  }
  if (given('retryInfo')) {
    const v = String(raw.retryInfo);
    const fixed = /^(\d+(?:\.\d+)?)s$/.exec(v);
    if (fixed) o.retryInfo = { fixed: Number(fixed[1]) };
    else if (['whole', 'floor', 'exact', 'none'].includes(v)) o.retryInfo = v as RetryInfoStyle;
    else bad('retry-info', 'whole, floor, exact, none or a number of seconds like 10s', v);
  }
  if (given('limitSchedule')) o.limitSchedule = steps('limit-schedule', String(raw.limitSchedule));
  if (given('tpmSchedule')) o.tpmSchedule = steps('tpm-schedule', String(raw.tpmSchedule));
  if (given('batchResultLagMs')) o.batchResultLagMs = number('batch-result-lag-ms', raw.batchResultLagMs, 0, false);
  if (given('batchResultLagMode')) {
    if (!['absent', 'not-found'].includes(String(raw.batchResultLagMode))) bad('batch-result-lag-mode', 'absent or not-found', raw.batchResultLagMode);
    o.batchResultLagMode = String(raw.batchResultLagMode) as 'absent' | 'not-found';
  }
  if (given('batchOrder')) {
    if (!['shuffled', 'input'].includes(String(raw.batchOrder))) bad('batch-order', 'shuffled or input', raw.batchOrder);
    o.batchShuffle = raw.batchOrder === 'shuffled';
  }
  if (given('batchErrorShape')) {
    if (!['rpc', 'http'].includes(String(raw.batchErrorShape))) bad('batch-error-shape', 'rpc or http', raw.batchErrorShape);
    o.batchErrorShape = String(raw.batchErrorShape) as 'rpc' | 'http';
  }
  if (given('batchRefuseCreates')) o.batchRefuseCreates = number('batch-refuse-creates', raw.batchRefuseCreates, 0, true);
  if (given('filesTimeScale')) o.filesTimeScale = number('files-time-scale', raw.filesTimeScale, 0.000001, false);
  if (given('cacheTimeScale')) o.cacheTimeScale = number('cache-time-scale', raw.cacheTimeScale, 0.000001, false);
  const onOff = (key: string, flag: string): boolean | undefined => {
    if (!given(key)) return undefined;
    if (raw[key] !== 'on' && raw[key] !== 'off') bad(flag, 'on or off', raw[key]);
    return raw[key] === 'on';
  };
  const implicit = onOff('implicitCache', 'implicit-cache');
  if (implicit !== undefined) o.implicitCache = implicit;
  const fetchUris = onOff('fetchFileUris', 'fetch-file-uris');
  if (fetchUris !== undefined) o.fetchFileUris = fetchUris;
  return o;
}
