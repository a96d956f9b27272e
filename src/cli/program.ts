// The command line's flags and sub-commands (commander), apart from main.ts so that tests and
// the README check can read them without running the CLI. Validation is parseOptions()'s.

import { Command, Option } from 'commander';
import { JOB_SHAPE_KEYS } from '../request/spec.js';
import { EMULATOR_FLAGS, RUN_FLAGS, type Flag } from './flags.js';

export const VERSION = '0.1.0';

/** The run flags `gempipe verify` takes: the output directory and the job's shape. */
const VERIFY_FLAG_KEYS: readonly string[] = ['out', ...JOB_SHAPE_KEYS];

/** A table flag as a commander option, with its default. Values (choices included) are checked by
 * parseOptions() alone, with messages that name the flag: commander checks nothing twice. */
function optionOf(f: Flag): Option {
  const opt = new Option(f.flags, f.help);
  if (f.default !== undefined) opt.default(String(f.default));
  return opt;
}

export function buildProgram(): Command {
  const p = new Command('gempipe')
    .description('Run batch LLM jobs on Google Gemini: prompts from files or stdin -> rate-limited, resumable, exactly-once -> JSONL shards or stdout.')
    .version(VERSION)
    .argument('[inputs...]', 'files, directories (their non-hidden files) or - for stdin; default: stdin if piped, else ./inputs')
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  for (const f of RUN_FLAGS) p.addOption(optionOf(f));
  // verify: the run's flags that say where the output is and what was asked, without defaults
  // (an absent flag means: as the directory's .gempipe-job.json says).
  const verify = p.command('verify').description('check an output directory (and, given INPUTs, that each input line has exactly one record with a matching hash); exit 0 or 1')
    .argument('[inputs...]', 'the inputs of the run (files, directories, - for stdin)');
  for (const f of RUN_FLAGS) if (VERIFY_FLAG_KEYS.includes(f.key)) verify.addOption(new Option(f.flags, f.help));
  const coordinator = p.command('coordinator').description('read the inputs as a run does and be its only writer, while `gempipe worker`s answer the records through a BullMQ queue on --redis')
    .argument('[inputs...]', 'files, directories or - for stdin, as for a run');
  for (const f of RUN_FLAGS) coordinator.addOption(optionOf(f));
  coordinator.addOption(new Option('--queue <name>', 'the queue shared with the workers').default('gempipe'));
  coordinator.addOption(new Option('--max-queued <n>', 'records queued or being answered at once (back-pressure)').default('256'));
  const worker = p.command('worker').description('answer the records of a coordinator\'s queue (any number of workers, on any machine)');
  worker.addOption(new Option('--redis <url>', 'the coordinator\'s Redis (env GEMINI_REDIS_URL)'));
  worker.addOption(new Option('--queue <name>', 'the coordinator\'s --queue').default('gempipe'));
  worker.addOption(new Option('--concurrency <n>', 'records answered at once').default('16'));
  worker.addOption(new Option('--lock-ms <ms>', 'a job whose worker is silent this long goes to another worker').default('30000'));
  worker.addOption(new Option('--base-url <url>', 'API endpoint (env GEMINI_BASE_URL)'));
  worker.addOption(new Option('--emulator', 'answer with an in-process emulator (tests, demos)'));
  const batches = p.command('batches').description('the batch jobs of an output directory (--mode batch)');
  for (const what of ['list', 'cancel'] as const) {
    batches.command(what).description(what === 'list' ? 'show the jobs and their states' : 'cancel the live jobs')
      .addOption(new Option('-o, --out <dir>', 'the output directory').default('outputs'))
      .addOption(new Option('--base-url <url>', 'API endpoint (env GEMINI_BASE_URL)'));
  }
  p.command('merge').description('join the output directories of a job\'s parts (--partition) into one exactly-once directory; conflicting records are refused')
    .argument('<dirs...>', 'the parts\' output directories')
    .addOption(new Option('-o, --out <dir>', 'the merged directory (new or empty)').makeOptionMandatory())
    .addOption(new Option('--shard-size <n>', 'records per shard').default('1000'));
  const cache = p.command('cache').description('look after a --cache file');
  cache.command('stats').description('entries, size on disk, ages, entries per model').argument('<path>', 'the --cache file');
  cache.command('prune').description('remove entries stored longer ago than --older-than').argument('<path>', 'the --cache file')
    .addOption(new Option('--older-than <duration>', 'e.g. 30d, 12h; 0s empties the cache'));
  const emulator = p.command('emulator').description('serve a local Gemini-compatible API on 127.0.0.1 (for tests, benchmarks and offline runs)');
  for (const f of EMULATOR_FLAGS) emulator.addOption(optionOf(f));
  return p;
}
