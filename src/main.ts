#!/usr/bin/env node
// The CLI: parse argv (commander) -> parseOptions() -> run(); SIGINT/SIGTERM -> an
// AbortController (the second one exits at once); outcome -> exit code (SPEC §6). Thin on
// purpose: it is the only module that reads `process`, so everything else runs in tests.

import { existsSync, readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { buildProgram } from './cli/program.js';
import { ExitCode, UsageError, exitCodeFor, redact } from './errors.js';
import { cacheStats, parseDuration, pruneCache } from './reuse/response-cache.js';
import { startEmulator } from './emulator/server.js';
import { parseCoordinator, parseEmulatorOptions, parseOptions, type Options, type RawOptions } from './cli/options.js';
import { runWorker } from './runners/worker.js';
import { run } from './run.js';
import { formatVerify, jobShape, verify } from './output/verify.js';
import { merge } from './output/merge.js';
import { batchesCommand } from './batch/batches-cli.js';
import { JOB_SHAPE_KEYS } from './request/spec.js';

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

function cachePath(path: string): string {
  if (!existsSync(path)) throw new UsageError(`No cache at ${path} (a --cache file of an earlier run)`);
  return path;
}

async function runCacheStats(path: string): Promise<number> {
  const st = await cacheStats(cachePath(path));
  const day = (t?: number) => (t === undefined ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC');
  const models = Object.entries(st.byModel).map(([m, n]) => `${m} ${n}`).join(', ') || 'none';
  process.stdout.write(`gempipe cache ${path}: ${st.entries} entries, ${(st.bytes / 1048576).toFixed(1)} MB on disk${st.entries ? ` (${Math.round(st.bytes / st.entries)} bytes an entry)` : ''}\n  stored from ${day(st.oldest)} to ${day(st.newest)}\n  by model: ${models}\n`);
  return ExitCode.OK;
}

async function runCachePrune(path: string, olderThan: string | undefined): Promise<number> {
  if (olderThan === undefined) throw new UsageError('`gempipe cache prune PATH` needs `--older-than DURATION` (e.g. 30d; `0s` empties the cache)');
  const ms = parseDuration(olderThan);
  if (ms === undefined) throw new UsageError(`Expected \`--older-than\` to be a duration like 30m, 12h or 7d, got \`${olderThan}\``);
  const r = await pruneCache(cachePath(path), ms);
  process.stdout.write(`gempipe cache ${path}: removed ${r.removed} entries stored more than ${olderThan} ago; ${r.kept} kept\n`);
  return ExitCode.OK;
}

/** A run (or a coordinator) with SIGINT/SIGTERM: the first stops gracefully, the second at once. */
async function runWithSignals(options: Options): Promise<number> {
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
}

async function runWorkerCli(raw: Record<string, string | boolean | undefined>): Promise<number> {
  const redis = (raw.redis as string | undefined) ?? process.env.GEMINI_REDIS_URL;
  if (!redis || !/^rediss?:\/\/\S+$/.test(redis)) throw new UsageError('`gempipe worker` needs `--redis URL` (or GEMINI_REDIS_URL): the coordinator\'s Redis');
  const num = (name: string, v: unknown, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`Expected \`--${name}\` to be an integer from ${min} to ${max}, got \`${String(v)}\``);
    return n;
  };
  const apiKey = process.env.GEMINI_API_KEY || process.env.GOOGLE_API_KEY || undefined;
  const emulator = raw.emulator === true;
  if (!apiKey && !emulator) throw new UsageError('No API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) for the worker, or pass `--emulator`');
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    process.stderr.write('gempipe worker: stopping — finishing the records it holds (again to quit at once)\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const say = (l: string) => process.stderr.write(redact(l, [apiKey]) + '\n');
  const r = await runWorker({
    redis, queue: String(raw.queue ?? 'gempipe'), concurrency: num('concurrency', raw.concurrency ?? 16, 1, 10_000), lockMs: num('lock-ms', raw.lockMs ?? 30_000, 500, 3_600_000),
    apiKey, baseUrl: (raw.baseUrl as string | undefined) ?? process.env.GEMINI_BASE_URL, emulator, say, signal: stop.signal,
  });
  say(`gempipe worker: stopped — answered ${r.records} record(s), ${r.failed} of them failures`);
  return ExitCode.INTERRUPTED;
}

async function runMerge(dirs: string[], raw: { out: string; shardSize: string }): Promise<number> {
  const shardSize = Number(raw.shardSize);
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new UsageError(`Expected \`--shard-size\` to be an integer >= 1, got \`${raw.shardSize}\``);
  const say = (l: string) => process.stderr.write(l + '\n');
  const r = await merge({ out: raw.out, dirs, shardSize, say });
  process.stderr.write(`gempipe merge: ${r.succeeded} succeeded and ${r.failed} failed record(s) from ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} into ${raw.out}/`
    + `${r.duplicates ? `; ${r.duplicates} found twice, written once` : ''}${r.failuresSuperseded ? `; ${r.failuresSuperseded} failure(s) dropped: the id succeeded in another part` : ''}\n`);
  for (const n of r.notes) process.stderr.write(`gempipe merge: note: ${n}\n`);
  return ExitCode.OK;
}

async function runVerify(inputs: string[], raw: RawOptions): Promise<number> {
  // Checked like a run's flags (messages naming them); only the ones given override the job file.
  const parsed = parseOptions({ ...raw, dryRun: true }, inputs, { env: {}, readFile: (p) => readFileSync(p, 'utf8') });
  const given: Record<string, unknown> = {};
  for (const k of JOB_SHAPE_KEYS) if (raw[k] !== undefined) given[k] = parsed[k];
  const { shape } = jobShape(parsed.out, given);
  const report = await verify({ out: parsed.out, inputs, shape, stdin: process.stdin });
  process.stdout.write(formatVerify(parsed.out, report));
  return report.ok ? ExitCode.OK : ExitCode.FAULT;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.enablePositionalOptions(); // `emulator --rpm N` belongs to the emulator, not the run
  program.configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `gempipe: ${s}` : s) });
  let action: (() => Promise<number>) | undefined;
  program.action((inputs: string[], raw: RawOptions) => {
    action = async () => runWithSignals(parseOptions(raw, inputs, { env: process.env, readFile: (p) => readFileSync(p, 'utf8') }));
  });
  const sub = (name: string) => program.commands.find((c) => c.name() === name)!;
  sub('emulator').action((raw: Record<string, string | boolean>) => {
    action = () => runEmulator(raw);
  });
  const cacheCmd = sub('cache');
  cacheCmd.commands.find((c) => c.name() === 'stats')!.action((path: string) => {
    action = () => runCacheStats(path);
  });
  cacheCmd.commands.find((c) => c.name() === 'prune')!.action((path: string, raw: { olderThan?: string }) => {
    action = () => runCachePrune(path, raw.olderThan);
  });
  sub('coordinator').action((inputs: string[], raw: RawOptions) => {
    action = async () => {
      const options = parseOptions(raw, inputs, { env: process.env, readFile: (p) => readFileSync(p, 'utf8'), needKey: false });
      options.coordinator = parseCoordinator(raw, options);
      return runWithSignals(options);
    };
  });
  sub('worker').action((raw: Record<string, string | boolean | undefined>) => {
    action = () => runWorkerCli(raw);
  });
  for (const what of ['list', 'cancel'] as const) {
    sub('batches').commands.find((c) => c.name() === what)!.action((raw: { out: string; baseUrl?: string }) => {
      action = () => batchesCommand(what, raw.out, { apiKey: process.env.GEMINI_API_KEY || process.env.GOOGLE_API_KEY || undefined, baseUrl: raw.baseUrl ?? process.env.GEMINI_BASE_URL }, (l) => process.stdout.write(l + '\n'));
    });
  }
  sub('merge').action((dirs: string[], raw: { out: string; shardSize: string }) => {
    action = () => runMerge(dirs, raw);
  });
  sub('verify').action((inputs: string[], raw: RawOptions) => {
    action = () => runVerify(inputs, raw);
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
