// The command line's commands (commander), built from the flag tables (flags.ts), apart from
// main.ts so that tests and the README check can read them without running the CLI. commander
// parses; validation is values.ts's alone (no choices or mandatory options here). Each command's
// --help ends with its examples and exit codes (observe/help-epilogues.ts).

import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { JOB_SHAPE_KEYS } from '../request/spec.js';
import { formatEpilogue, HELP_EPILOGUES, type HelpTopic } from '../observe/help-epilogues.js';
import { BATCHES_FLAGS, CACHE_PRUNE_FLAGS, COORDINATOR_FLAGS, EMBED_COMMAND_FLAGS, EMULATOR_FLAGS, MERGE_FLAGS, REPORT_FLAGS, RUN_FLAGS, WORKER_FLAGS, type Flag } from './flags.js';
import { EMULATOR_EXTRA_FLAGS } from '../emulator/flags-extra.js';

/** package.json's version: dist/cli/program.js and src/cli/program.ts sit two levels below it. */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** A table flag as a commander option, with its default (shown in --help) unless `withDefault` is false. */
function optionOf(f: Flag, withDefault = true): Option {
  const opt = new Option(f.flags, f.help);
  if (withDefault && f.default !== undefined) opt.default(String(f.default));
  return opt;
}

function addFlags(c: Command, flags: readonly Flag[], withDefault = true): Command {
  for (const f of flags) c.addOption(optionOf(f, withDefault));
  return c;
}

export function buildProgram(): Command {
  const p = new Command('gempipe')
    .description('Run batch LLM jobs on Google Gemini: prompts from files or stdin -> rate-limited, resumable, exactly-once -> JSONL shards or stdout.')
    .version(VERSION)
    .argument('[inputs...]', 'files, directories (their non-hidden files) or - for stdin; default: stdin if piped, else ./inputs')
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  addFlags(p, RUN_FLAGS);
  // verify: the run's flags that say where the output is and what was asked, without defaults
  // (an absent flag means: as the directory's .gempipe-job.json says).
  const verifyKeys: readonly string[] = ['out', ...JOB_SHAPE_KEYS];
  addFlags(p.command('verify').description('check an output directory (and, given INPUTs, that each input line has exactly one record with a matching hash); exit 0 or 1')
    .argument('[inputs...]', 'the inputs of the run (files, directories, - for stdin)'), RUN_FLAGS.filter((f) => verifyKeys.includes(f.key)), false);
  addFlags(p.command('coordinator').description('read the inputs as a run does and be its only writer, while `gempipe worker`s answer the records through a BullMQ queue on --redis')
    .argument('[inputs...]', 'files, directories or - for stdin, as for a run'), COORDINATOR_FLAGS);
  addFlags(p.command('embed').description('embed texts (a line, or a JSONL/CSV field, each) into vectors: the same inputs, resume, exactly-once, quota, --dedupe, --cache, --mode batch, --partition and coordinator as a run (README: Embeddings)')
    .argument('[inputs...]', 'files, directories or - for stdin, as for a run'), EMBED_COMMAND_FLAGS);
  addFlags(p.command('worker').description('answer the records of a coordinator\'s queue (any number of workers, on any machine)'), WORKER_FLAGS);
  const batches = p.command('batches').description('the batch jobs of an output directory (--mode batch)');
  for (const what of ['list', 'cancel'] as const) addFlags(batches.command(what).description(what === 'list' ? 'show the jobs and their states' : 'cancel the live jobs'), BATCHES_FLAGS);
  addFlags(p.command('merge').description('join the output directories of a job\'s parts (--partition) into one exactly-once directory; conflicting records are refused')
    .argument('<dirs...>', 'the parts\' output directories'), MERGE_FLAGS);
  const cache = p.command('cache').description('look after a --cache file');
  cache.command('stats').description('entries, size on disk, ages, entries per model').argument('<path>', 'the --cache file');
  addFlags(cache.command('prune').description('remove entries stored longer ago than --older-than').argument('<path>', 'the --cache file'), CACHE_PRUNE_FLAGS);
  addFlags(p.command('emulator').description('serve a local Gemini-compatible API on 127.0.0.1 (for tests, benchmarks and offline runs)'), [...EMULATOR_FLAGS, ...EMULATOR_EXTRA_FLAGS]);
  addFlags(p.command('report').description('write DIR/report.html from the runs\' time series and failure records: one offline file with plots (--text: for a terminal)'), REPORT_FLAGS);
  // Each command's --help ends with examples and its exit codes (observe/help-epilogues.ts).
  const topics: Array<[Command, HelpTopic]> = [[p, 'run']];
  for (const t of ['verify', 'coordinator', 'worker', 'batches', 'merge', 'cache', 'emulator', 'report'] as const) topics.push([p.commands.find((c) => c.name() === t)!, t]);
  for (const [c, topic] of topics) {
    const text = formatEpilogue(HELP_EPILOGUES[topic]);
    c.addHelpText('after', text);
    if (c !== p) for (const sub of c.commands) sub.addHelpText('after', text); // batches list|cancel, cache stats|prune
  }
  return p;
}
