#!/usr/bin/env node
// The CLI: parse argv (commander) -> parseOptions() -> run(); SIGINT/SIGTERM -> an
// AbortController (the second one exits at once); outcome -> exit code (SPEC §6). Thin on
// purpose: it is the only module that reads `process`, so everything else runs in tests.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, UsageError, exitCodeFor, redact } from './errors.js';
import { startEmulator } from './emulator/server.js';
import { parseEmulatorOptions, parseOptions, DEFAULTS, type RawOptions } from './options.js';
import { run } from './run.js';

const VERSION = '0.1.0';

export function buildProgram(): Command {
  const p = new Command('gempipe')
    .description('Run batch LLM jobs on Google Gemini: prompts from files or stdin -> rate-limited, resumable, exactly-once -> JSONL shards or stdout.')
    .version(VERSION)
    .argument('[inputs...]', 'files, directories (their non-hidden files) or - for stdin; default: stdin if piped, else ./inputs')
    .option('-o, --out <dir>', 'output directory for shards, or - for stdout', DEFAULTS.out)
    .option('--open-files <n>', 'input files open at once', String(DEFAULTS.openFiles))
    .addOption(new Option('--input-format <fmt>', 'text: a prompt per line; jsonl: a JSON object per line').choices(['text', 'jsonl']).default(DEFAULTS.inputFormat))
    .option('--prompt-field <name>', 'jsonl: the field holding the prompt (default "prompt")')
    .option('--template <text>', "jsonl: build the prompt from fields, e.g. 'Classify: {{text}}'")
    .option('--keep <fields>', 'jsonl: comma-separated input fields copied into each output record')
    .option('--max-line-bytes <n>', 'longer lines become INVALID_INPUT failure records', String(DEFAULTS.maxLineBytes))
    .option('--model <name>', 'Gemini model (env GEMINI_MODEL)', DEFAULTS.model)
    .option('--system <text>', 'system instruction, or @FILE to read it from a file')
    .option('--temperature <t>', 'sampling temperature, 0-2')
    .option('--max-output-tokens <n>', 'cap on response tokens')
    .option('--thinking-budget <n>', 'thinking tokens (0 off, -1 dynamic)')
    .option('--json-schema <file>', 'structured output: responses must be JSON for this schema (kept as "json")')
    .option('--concurrency <n>', 'most requests in flight', String(DEFAULTS.concurrency))
    .option('--rpm <n>', 'requests per minute (every attempt counts); auto: find it (AIMD, the default); off: no limit')
    .option('--tpm <n>', 'input tokens per minute (estimated before, corrected after)')
    .option('--rpd <n>', 'requests per day, counted across runs into the same --out; reaching it ends the run (exit 1)')
    .option('--max-attempts <n>', 'attempts per prompt, the first included', String(DEFAULTS.maxAttempts))
    .option('--retry-base-delay <ms>', 'first backoff ceiling in ms; doubles per attempt, with full jitter', String(DEFAULTS.retryBaseDelayMs))
    .option('--timeout <ms>', 'per-attempt timeout in ms', String(DEFAULTS.timeoutMs))
    .option('--base-url <url>', 'API endpoint (env GEMINI_BASE_URL)')
    .option('--emulator', 'run against an in-process Gemini emulator (no key needed, no cost)')
    .addOption(new Option('--emulator-if-no-key', 'use the emulator only when no API key is set (the demo)').hideHelp(false))
    .option('--shard-size <n>', 'records per shard', String(DEFAULTS.shardSize))
    .option('--shard-bytes <n>', 'also rotate a shard before it passes this size')
    .option('--ordered', 'write records in input order (default: completion order)')
    .addOption(new Option('--format <fmt>', 'stdout layout: jsonl, or text "<prompt> - <response>"').choices(['jsonl', 'text']).default(DEFAULTS.format))
    .option('--retry-failed', 'retry the records in failures.jsonl instead of skipping them')
    .option('--overwrite', 'delete existing shards and failures.jsonl and start afresh')
    .addOption(new Option('--fsync <policy>', 'none | close (fsync each file when closed) | always (after every batch)').choices(['none', 'close', 'always']).default(DEFAULTS.fsync))
    .option('--progress-interval <s>', 'seconds between status lines when stderr is not a terminal', String(DEFAULTS.progressIntervalSec))
    .option('--dry-run', 'no API calls: print the plan (records to do, tokens, duration, cost)')
    .option('--price-in <usd>', 'USD per million input tokens, for --dry-run (default: built-in table)')
    .option('--price-out <usd>', 'USD per million output tokens, for --dry-run (default: built-in table)')
    .option('-q, --quiet', 'print only errors')
    .option('--summary-json <file>', 'also write the end summary as JSON')
    .option('--post <module>', 'run MODULE[:export] (or builtin:wordcount) on each success record, on worker threads; its fields are merged in')
    .option('--post-workers <n>', 'worker threads for --post (default: cores - 1, at least 1; 0: on the event loop)')
    .option('--post-timeout <ms>', 'per record: a --post function still running after this fails the record (POST_FAILED, answer kept)', String(DEFAULTS.postTimeoutMs))
    .option('--drain-timeout <s>', 'seconds in-flight requests get to finish after SIGINT/SIGTERM', String(DEFAULTS.drainTimeoutSec))
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  p.command('emulator')
    .description('serve a local Gemini-compatible API on 127.0.0.1 (for tests, benchmarks and offline runs)')
    .option('--port <p>', 'port (0: a free one)', '8089')
    .option('--latency-ms <ms>', 'latency per response', '0')
    .option('--jitter-ms <ms>', 'extra uniform random latency', '0')
    .option('--rpm <n>', 'requests per minute before answering 429 + RetryInfo')
    .option('--tpm <n>', 'input tokens per minute before answering 429')
    .option('--rpd <n>', 'requests per day before a per-day 429')
    .option('--error-rate <f>', 'fraction of requests answered 503', '0')
    .option('--seed <s>', 'seed for jitter and random errors', '1')
    .option('--quota-mode <mode>', 'how --rpm/--tpm are enforced: bucket | fixed-window | sliding-window', 'bucket')
    .option('--burst-ms <ms>', 'bucket: capacity, in ms of the rate', '1000')
    .option('--window-ms <ms>', 'windows: length in ms (before --time-scale)', '60000')
    .option('--time-scale <x>', 'divides --window-ms (60 makes a minute window one second)', '1')
    .option('--quota-value', 'quota 429s name their limit (QuotaFailure quotaValue, "limit: N")')
    .option('--capacity-429-rate <f>', 'fraction of requests answered a 429 without details (shared capacity)', '0')
    .option('--limit-zero', 'no quota for the model: every request is a 429 with "limit: 0"')
    .option('--location-error', 'every request: 400 FAILED_PRECONDITION "User location is not supported"')
    .option('--thinking', 'answers carry a thought part and thoughtsTokenCount')
    .option('--refuse-after <n>', 'stop listening after N requests (connections are then refused)');
  return p;
}

async function runEmulator(raw: Record<string, string | boolean>): Promise<number> {
  const emu = await startEmulator(parseEmulatorOptions(raw));
  process.stdout.write(`${emu.url}\n`);
  process.stderr.write(`gempipe emulator: serving the Gemini API at ${emu.url} (GEMINI_BASE_URL=${emu.url}); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await emu.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.enablePositionalOptions(); // `emulator --rpm N` belongs to the emulator, not the run
  program.configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `gempipe: ${s}` : s) });
  let action: (() => Promise<number>) | undefined;
  program.action((inputs: string[], raw: RawOptions) => {
    action = async () => {
      const options = parseOptions(raw, inputs, { env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
      const stop = new AbortController();
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals === 1) stop.abort(new Error('interrupted'));
        else {
          process.stderr.write('\ngempipe: interrupted again — exiting now; what is on disk is valid and resumable\n');
          process.exit(ExitCode.INTERRUPTED);
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const result = await run(options, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
      return result.exitCode;
    };
  });
  program.commands[0].action((raw: Record<string, string | boolean>) => {
    action = () => runEmulator(raw);
  });
  try {
    await program.parseAsync(argv);
    return action ? await action() : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.OK;
      return ExitCode.USAGE;
    }
    const secrets = [process.env.GEMINI_API_KEY, process.env.GOOGLE_API_KEY];
    process.stderr.write(`gempipe: error: ${redact((err as Error).message, secrets)}\n`);
    return exitCodeFor(err);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`gempipe: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = ExitCode.FAULT;
  },
);
