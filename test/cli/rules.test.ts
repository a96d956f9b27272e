// Every rule between flags, as a table (like outcome.test.ts): the flags given, the command,
// and the message (or none: the combination runs). Each rule of cli/rules.ts is hit by a row.

import { describe, expect, it } from 'vitest';
import { WORKER_FLAGS } from '../../src/cli/flags.js';
import { parseOptions } from '../../src/cli/options.js';
import { FLAG_RULES } from '../../src/cli/rules.js';
import { parseFlags, type RawOptions } from '../../src/cli/values.js';

const KEY = { GEMINI_API_KEY: 'k' };
const REDIS = 'redis://127.0.0.1:6379';
const parse = (raw: RawOptions, coordinator = false, env: Record<string, string> = KEY) => parseOptions(raw, [], { env, readFile: () => '{}', coordinator });

// [what, flags, coordinator?, the message it fails with (a part of it), or null: it runs]
const ROWS: Array<[string, RawOptions, boolean, string | null]> = [
  ['--format text into a directory', { format: 'text', out: 'o' }, false, '`--format text` writes to stdout only'],
  ['--format text to stdout', { format: 'text', out: '-' }, false, null],
  ['--template with text input', { template: '{{a}}' }, false, 'need `--input-format jsonl` or `csv`'],
  ['--keep with text input', { keep: 'a' }, false, 'need `--input-format jsonl` or `csv`'],
  ['--prompt-field with text input', { promptField: 'q' }, false, 'need `--input-format jsonl` or `csv`'],
  ['--keep with jsonl', { keep: 'a', inputFormat: 'jsonl' }, false, null],
  ['--mode batch to stdout', { mode: 'batch', out: '-' }, false, '`--mode batch` writes shards'],
  ['--mode batch --dedupe --cache --post', { mode: 'batch', dedupe: true, cache: 'c.lmdb', post: 'builtin:wordcount' }, false, null],
  ['--mode auto --dedupe --cache', { mode: 'auto', dedupe: true, cache: 'c.lmdb' }, false, null],
  ['--mode auto to stdout', { mode: 'auto', out: '-' }, false, null],
  ['--detach online', { detach: true }, false, '`--detach` is for `--mode batch`'],
  ['--detach batch', { detach: true, mode: 'batch' }, false, null],
  ['--detach auto', { detach: true, mode: 'auto' }, false, null],
  ['--quota-id without --redis', { quotaId: 'q1' }, false, '`--quota-id` needs `--redis URL`'],
  ['--quota-id with --redis', { quotaId: 'q1', redis: REDIS }, false, null],
  ['--quota-id not a name', { quotaId: 'a b', redis: REDIS }, false, 'Expected `--quota-id` to be letters, digits'],
  ['--redis not a redis URL', { redis: 'http://x' }, false, 'Expected `--redis` (or GEMINI_REDIS_URL) to be a redis:// or rediss:// URL'],
  ['--cache-all without --cache', { cacheAll: true }, false, '`--cache-all` and `--cache-ttl` need `--cache PATH`'],
  ['--cache-ttl without --cache', { cacheTtl: '1d' }, false, '`--cache-all` and `--cache-ttl` need `--cache PATH`'],
  ['--cache-ttl not a duration', { cacheTtl: 'soon', cache: 'c' }, false, 'Expected `--cache-ttl` to be a duration'],
  ['--deadline not a duration', { deadline: '0s', mode: 'batch' }, false, 'Expected `--deadline` to be a duration'],
  ['--retry-failed with --overwrite', { retryFailed: true, overwrite: true }, false, 'cannot be used together'],
  ['--retry-failed to stdout', { retryFailed: true, out: '-' }, false, 'apply to an output directory'],
  ['--partition with --dedupe and --cache', { partition: '1/2', dedupe: true, cache: 'c' }, false, null],
  ['--partition not i/N', { partition: '3/2' }, false, 'Expected `--partition` to be i/N'],
  ['--csv-delimiter with jsonl input', { csvDelimiter: ';', inputFormat: 'jsonl' }, false, '`--csv-delimiter` needs `--input-format csv`'],
  ['--csv-delimiter with csv input', { csvDelimiter: ';', inputFormat: 'csv' }, false, null],
  ['--report into a directory', { report: true, out: 'o' }, false, null],
  ['--report to stdout', { report: true, out: '-' }, false, '`--report` writes OUT/report.html'],
  ['--report with --dry-run', { report: true, dryRun: true }, false, '`--report` and `--metrics` show a run'],
  ['--metrics with --dry-run', { metrics: ':0', dryRun: true }, false, '`--report` and `--metrics` show a run'],
  ['--metrics to stdout', { metrics: '127.0.0.1:0', out: '-' }, false, null],
  ['--metrics not HOST:PORT', { metrics: 'localhost' }, false, 'Expected `--metrics` to be HOST:PORT'],
  ['coordinator --report --metrics', { redis: REDIS, report: true, metrics: '0.0.0.0:9464' }, true, null],
  ['coordinator without --redis', {}, true, '`gempipe coordinator` needs `--redis URL`'],
  ['coordinator to stdout', { redis: REDIS, out: '-' }, true, '`gempipe coordinator` writes shards'],
  ['coordinator --dry-run', { redis: REDIS, dryRun: true }, true, '`--dry-run` plans a run'],
  ['coordinator --mode batch', { redis: REDIS, mode: 'batch' }, true, '`--mode batch` and `--mode auto` need no workers'],
  ['coordinator --mode auto', { redis: REDIS, mode: 'auto' }, true, '`--mode batch` and `--mode auto` need no workers'],
  ['coordinator --dedupe --cache --post --partition', { redis: REDIS, dedupe: true, cache: 'c', post: 'builtin:wordcount', partition: '1/2' }, true, null],
  ['coordinator --queue not a name', { redis: REDIS, queue: 'a/b' }, true, 'Expected `--queue` to be letters, digits'],
  ['coordinator --max-queued 0', { redis: REDIS, maxQueued: '0' }, true, 'Expected `--max-queued` to be an integer from 1 to 100000'],
  ['--template with request lines', { inputFormat: 'request', template: '{{a}}' }, false, 'a request line (`--input-format request`) is sent as it is'],
  ['--keep with request lines', { inputFormat: 'request', keep: 'a' }, false, 'a request line (`--input-format request`) is sent as it is'],
  ['--prompt-field with request lines', { inputFormat: 'request', promptField: 'q' }, false, 'a request line (`--input-format request`) is sent as it is'],
  ['request lines in batch mode', { inputFormat: 'request', mode: 'batch' }, false, null],
  ['--attach with text input', { attach: 'image' }, false, '`--attach` names fields of `--input-format jsonl` or `csv` records'],
  ['--attach with request lines', { attach: 'image', inputFormat: 'request' }, false, '`--attach` names fields of `--input-format jsonl` or `csv` records'],
  ['--attach with jsonl', { attach: 'image,scan', inputFormat: 'jsonl' }, false, null],
  ['--attach with csv, --inline-max 512k', { attach: 'image', inputFormat: 'csv', inlineMax: '512k' }, false, null],
  ['--attach empty', { attach: ' , ', inputFormat: 'jsonl' }, false, 'Expected `--attach` to name one or more fields'],
  ['--attach in batch mode', { attach: 'image', inputFormat: 'jsonl', mode: 'batch' }, false, '`--attach` runs online (`--mode online`)'],
  ['coordinator --attach', { redis: REDIS, attach: 'image', inputFormat: 'jsonl' }, true, 'cannot read local attachments'],
  ['coordinator --context', { redis: REDIS, context: 'manual.txt' }, true, '`--context` is not handed to workers yet'],
  ['--inline-max without --attach', { inlineMax: '1M' }, false, '`--inline-max` needs `--attach FIELD`'],
  ['--inline-max not a size', { inlineMax: 'big', attach: 'image', inputFormat: 'jsonl' }, false, 'Expected `--inline-max` to be `auto` or a size in bytes'],
  ['--inline-max over 100 MiB', { inlineMax: '101M', attach: 'image', inputFormat: 'jsonl' }, false, 'Expected `--inline-max` to be `auto` or a size in bytes'],
  ['--context with --context-cache off', { context: 'manual.txt', contextCache: 'off', contextTtl: '30m' }, false, null],
  ['--context-cache not a mode', { context: 'manual.txt', contextCache: 'always' }, false, 'Expected `--context-cache` to be one of auto, off'],
];

describe('the rules between flags', () => {
  it.each(ROWS)('%s', (_what, raw, coordinator, message) => {
    if (message === null) expect(() => parse(raw, coordinator)).not.toThrow();
    else expect(() => parse(raw, coordinator)).toThrow(message);
  });

  it('a coordinator needs no API key; a run does, a dry run does not', () => {
    expect(() => parse({ redis: REDIS }, true, {})).not.toThrow();
    expect(() => parse({}, false, {})).toThrow('No API key');
    expect(() => parse({ dryRun: true }, false, {})).not.toThrow();
  });

  it('every rule of cli/rules.ts is met by a row of this table', () => {
    const messages = ROWS.map((r) => r[3]).filter((m): m is string => m !== null);
    for (const rule of FLAG_RULES) expect(messages.some((m) => rule.message.includes(m)), rule.message).toBe(true);
  });
});

describe("gempipe worker's flags", () => {
  const worker = (raw: RawOptions, env: Record<string, string> = {}) => parseFlags(WORKER_FLAGS, raw, env);
  it('needs --redis (or GEMINI_REDIS_URL), validated; takes its defaults from the table', () => {
    expect(() => worker({})).toThrow('`gempipe worker` needs `--redis URL` (or GEMINI_REDIS_URL)');
    expect(() => worker({ redis: 'nope' })).toThrow('Expected `--redis` (or GEMINI_REDIS_URL) to be a redis:// or rediss:// URL, got `nope`');
    expect(worker({}, { GEMINI_REDIS_URL: REDIS })).toEqual({ redis: REDIS, queue: 'gempipe', concurrency: 16, lockMs: 30_000 });
    expect(() => worker({ redis: REDIS, concurrency: '0' })).toThrow('Expected `--concurrency` to be an integer from 1 to 10000, got `0`');
    expect(() => worker({ redis: REDIS, lockMs: '10' })).toThrow('Expected `--lock-ms` to be a time like 1500ms, 5s or 2m (a bare number is milliseconds), from 500 to 3600000 ms, got `10`');
    expect(() => worker({ redis: REDIS, baseUrl: 'ftp://x' })).toThrow('Expected `--base-url` (or GEMINI_BASE_URL) to be an http(s) URL');
    expect(worker({ redis: REDIS, metrics: ':9465' })).toMatchObject({ metrics: ':9465' });
    expect(() => worker({ redis: REDIS, metrics: 'host:99999' })).toThrow('Expected `--metrics` to be HOST:PORT');
  });
});
