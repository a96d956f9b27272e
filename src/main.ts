#!/usr/bin/env node
// The CLI: argv (commander, cli/program.ts) -> a command (cli/commands.ts) or a run; SIGINT and
// SIGTERM -> an AbortController (the second one exits at once); the result -> the exit code
// (SPEC §6), and every exit 1 or 2 says why on stderr. The only module that reads `process`.

import { readFileSync } from 'node:fs';
import { CommanderError, type Command } from 'commander';
import { batchesCliCommand, cachePruneCommand, cacheStatsCommand, emulatorCommand, mergeCommand, reportCliCommand, verifyCommand, workerCommand, type CliIO } from './cli/commands.js';
import { parseOptions, type RawOptions } from './cli/options.js';
import { parseEmbedOptions } from './cli/embed-options.js';
import { buildProgram } from './cli/program.js';
import { ExitCode, exitCodeFor, redact } from './errors.js';
import { run } from './run.js';

// A stderr that cannot be written (a closed pipe, /dev/full) loses the messages, never the job:
// without a listener its first 'error' would end the process (exit 1) before a record was asked.
process.stderr.on('error', () => {});

const io: CliIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, readFile: (p) => readFileSync(p, 'utf8') };

/** Aborted by the first SIGINT/SIGTERM; the second calls `again` (which exits). */
function onSignals(first: () => void, again: () => void): AbortSignal {
  const stop = new AbortController();
  const handle = () => {
    if (!stop.signal.aborted) {
      first();
      stop.abort(new Error('interrupted'));
    } else again();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return stop.signal;
}

const exitNow = (line: string) => () => {
  process.stderr.write(line);
  process.exit(ExitCode.INTERRUPTED);
};

/** A run (or a coordinator): the first signal stops gracefully, the second at once. */
async function runWithSignals(inputs: string[], raw: RawOptions, coordinator: boolean, parse = parseOptions): Promise<number> {
  const options = parse(raw, inputs, { env: io.env, readFile: io.readFile, coordinator });
  const signal = onSignals(() => {}, exitNow('\ngempipe: interrupted again — exiting now; what is on disk is valid and resumable\n'));
  return (await run(options, { stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, signal, argv: ['gempipe', ...process.argv.slice(2)] })).exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.enablePositionalOptions(); // `emulator --rpm N` belongs to the emulator, not the run
  program.configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `gempipe: ${s}` : s) });
  let action: (() => Promise<number>) | undefined;
  const sub = (name: string) => program.commands.find((c) => c.name() === name)!;
  const on = (c: Command, f: (...a: never[]) => Promise<number>) => c.action((...a: unknown[]) => {
    action = () => f(...(a as never[]));
  });
  on(program, (inputs: string[], raw: RawOptions) => runWithSignals(inputs, raw, false));
  on(sub('coordinator'), (inputs: string[], raw: RawOptions) => runWithSignals(inputs, raw, true));
  on(sub('embed'), (inputs: string[], raw: RawOptions) => runWithSignals(inputs, raw, false, parseEmbedOptions));
  on(sub('emulator'), (raw: RawOptions) => emulatorCommand(raw, io, new Promise((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  })));
  on(sub('worker'), (raw: RawOptions) => workerCommand(raw, io, onSignals(
    () => process.stderr.write('gempipe worker: stopping — finishing the records it holds (again to quit at once)\n'), exitNow(''))));
  on(sub('merge'), (dirs: string[], raw: RawOptions) => mergeCommand(dirs, raw, io));
  on(sub('verify'), (inputs: string[], raw: RawOptions) => verifyCommand(inputs, raw, io));
  on(sub('report'), (raw: RawOptions) => reportCliCommand(raw, io));
  const cache = sub('cache').commands;
  on(cache.find((c) => c.name() === 'stats')!, (path: string) => cacheStatsCommand(path, io));
  on(cache.find((c) => c.name() === 'prune')!, (path: string, raw: RawOptions) => cachePruneCommand(path, raw, io));
  // `gempipe --base-url URL -o DIR batches list`: flags put before the sub-command count too.
  const before = (c: Command, raw: RawOptions): RawOptions => Object.fromEntries(['out', 'baseUrl'].map((k) => [k, c.getOptionValueSource(k) !== 'cli' && program.getOptionValueSource(k) === 'cli' ? program.opts()[k] : raw[k]]));
  for (const c of sub('batches').commands) on(c, (raw: RawOptions) => batchesCliCommand(c.name() as 'list' | 'cancel', { ...raw, ...before(c, raw) }, io));
  try {
    await program.parseAsync(argv);
    return action ? await action() : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.OK;
      return ExitCode.USAGE;
    }
    process.stderr.write(`gempipe: error: ${redact((err as Error).message, [io.env.GEMINI_API_KEY, io.env.GOOGLE_API_KEY])}\n`);
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
