// Each sub-command's action: its flags read through its table (values.ts), then the library
// call, with the process's streams passed in (main.ts is the one module that reads `process`).
// Returns the exit code.

import { existsSync } from 'node:fs';
import { UsageError, ExitCode, redact } from '../errors.js';
import { startEmulator } from '../emulator/server.js';
import { batchesCommand } from '../batch/batches-cli.js';
import { merge } from '../output/merge.js';
import { formatVerify, jobShape, verify } from '../output/verify.js';
import { JOB_SHAPE_KEYS } from '../request/spec.js';
import { cacheStats, pruneCache } from '../reuse/response-cache.js';
import { runWorker } from '../runners/worker.js';
import { reportCommand } from '../observe/report.js';
import { BATCHES_FLAGS, CACHE_PRUNE_FLAGS, MERGE_FLAGS, REPORT_FLAGS, WORKER_FLAGS } from './flags.js';
import { parseEmulatorOptions, parseOptions } from './options.js';
import { parseFlags, type RawOptions } from './values.js';

export interface CliIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
}

const keyOf = (env: CliIO['env']) => env.GEMINI_API_KEY || env.GOOGLE_API_KEY || undefined;

/** `gempipe emulator`: serves until `stopped` resolves. */
export async function emulatorCommand(raw: RawOptions, io: CliIO, stopped: Promise<void>): Promise<number> {
  const emu = await startEmulator(parseEmulatorOptions(raw));
  io.stdout.write(`${emu.url}\n`);
  io.stderr.write(`gempipe emulator: serving the Gemini API at ${emu.url} (GEMINI_BASE_URL=${emu.url}); Ctrl-C to stop\n`);
  await stopped;
  await emu.close();
  return ExitCode.OK;
}

function cachePath(path: string): string {
  if (!existsSync(path)) throw new UsageError(`No cache at ${path} (a --cache file of an earlier run)`);
  return path;
}

export async function cacheStatsCommand(path: string, io: CliIO): Promise<number> {
  const st = await cacheStats(cachePath(path));
  const day = (t?: number) => (t === undefined ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC');
  const models = Object.entries(st.byModel).map(([m, n]) => `${m} ${n}`).join(', ') || 'none';
  io.stdout.write(`gempipe cache ${path}: ${st.entries} entries, ${(st.bytes / 1048576).toFixed(1)} MB on disk${st.entries ? ` (${Math.round(st.bytes / st.entries)} bytes an entry)` : ''}\n  stored from ${day(st.oldest)} to ${day(st.newest)}\n  by model: ${models}\n`);
  return ExitCode.OK;
}

export async function cachePruneCommand(path: string, raw: RawOptions, io: CliIO): Promise<number> {
  const { olderThanMs } = parseFlags<{ olderThanMs: number }>(CACHE_PRUNE_FLAGS, raw);
  const r = await pruneCache(cachePath(path), olderThanMs);
  io.stdout.write(`gempipe cache ${path}: removed ${r.removed} entries stored more than ${String(raw.olderThan)} ago; ${r.kept} kept\n`);
  return ExitCode.OK;
}

/** `gempipe worker`: answers until `signal` (the first SIGINT/SIGTERM), then lets the records it holds end. */
export async function workerCommand(raw: RawOptions, io: CliIO, signal: AbortSignal): Promise<number> {
  const o = parseFlags<{ redis: string; queue: string; concurrency: number; lockMs: number; baseUrl?: string; emulator: boolean; metrics?: string }>(WORKER_FLAGS, raw, io.env);
  const apiKey = keyOf(io.env);
  if (!apiKey && !o.emulator) throw new UsageError('No API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) for the worker, or pass `--emulator`');
  const say = (l: string) => io.stderr.write(redact(l, [apiKey]) + '\n');
  const r = await runWorker({ ...o, apiKey, say, signal });
  say(`gempipe worker: stopped — answered ${r.records} record(s), ${r.failed} of them failures`);
  return ExitCode.INTERRUPTED;
}

export async function mergeCommand(dirs: string[], raw: RawOptions, io: CliIO): Promise<number> {
  const { out, shardSize, allowPartial } = parseFlags<{ out: string; shardSize: number; allowPartial?: boolean }>(MERGE_FLAGS, raw);
  const r = await merge({ out, dirs, shardSize, allowPartial, say: (l) => io.stderr.write(l + '\n') });
  io.stderr.write(`gempipe merge: ${r.succeeded} succeeded and ${r.failed} failed record(s) from ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} into ${out}/`
    + `${r.duplicates ? `; ${r.duplicates} found twice, written once` : ''}${r.failuresSuperseded ? `; ${r.failuresSuperseded} failure(s) dropped: the id succeeded in another part` : ''}\n`);
  for (const n of r.notes) io.stderr.write(`gempipe merge: note: ${n}\n`);
  return ExitCode.OK;
}

export async function verifyCommand(inputs: string[], raw: RawOptions, io: CliIO): Promise<number> {
  // Checked like a run's flags (messages naming them); only the ones given override the job file.
  const parsed = parseOptions({ ...raw, dryRun: true }, inputs, { env: {}, readFile: io.readFile });
  const given: Record<string, unknown> = {};
  for (const k of JOB_SHAPE_KEYS) if (raw[k] !== undefined) given[k] = parsed[k];
  if (!existsSync(parsed.out)) throw new UsageError(`-o ${parsed.out}: no such directory to verify`);
  const report = await verify({ out: parsed.out, inputs, shape: jobShape(parsed.out, given).shape, stdin: io.stdin });
  io.stdout.write(formatVerify(parsed.out, report));
  return report.ok ? ExitCode.OK : ExitCode.FAULT;
}

/** `gempipe report -o DIR`: report.html written (exit 0), or the text on stdout with --text. */
export async function reportCliCommand(raw: RawOptions, io: CliIO): Promise<number> {
  const { out, text, maxPoints } = parseFlags<{ out: string; text: boolean; maxPoints: number }>(REPORT_FLAGS, raw);
  const r = await reportCommand(out, { text, maxPoints });
  if (r.text !== undefined) io.stdout.write(r.text);
  else io.stderr.write(`gempipe report: ${r.path} (${(r.bytes / 1024).toFixed(0)} KB, ${r.data.runs.length} run(s)); open it in any browser, offline\n`);
  return ExitCode.OK;
}

export async function batchesCliCommand(what: 'list' | 'cancel', raw: RawOptions, io: CliIO): Promise<number> {
  const { out } = parseFlags<{ out: string; baseUrl?: string }>(BATCHES_FLAGS, raw, io.env);
  // --base-url given: every job is asked there; else where the journal says each was created.
  const told = raw.baseUrl !== undefined ? parseFlags<{ baseUrl?: string }>(BATCHES_FLAGS, { baseUrl: raw.baseUrl }).baseUrl : undefined;
  const env = parseFlags<{ baseUrl?: string }>(BATCHES_FLAGS, {}, io.env).baseUrl;
  // `| head` closes stdout: the listing stops there, quietly, exit 0 (no EPIPE stack trace).
  let open = true;
  io.stdout.on('error', () => (open = false));
  const say = (l: string) => {
    if (open) io.stdout.write(l + '\n');
    return open;
  };
  return batchesCommand(what, out, { apiKey: keyOf(io.env), baseUrl: told, envBaseUrl: env }, say);
}
