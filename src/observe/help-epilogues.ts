// What each sub-command's --help ends with: a few real examples (each with what it does) and
// the exit codes, as data, so the help teaches and a test can check every example's flags
// against the command's own (test/observe/help-epilogues.test.ts). Attach one with commander:
// `cmd.addHelpText('after', formatEpilogue(HELP_EPILOGUES.verify))`.

import { FAILURES_FILE, shardName } from '../output/layout.js';

export interface HelpEpilogue {
  examples: ReadonlyArray<{ command: string; says: string }>;
  exitCodes: ReadonlyArray<readonly [code: number, meaning: string]>;
}

export type HelpTopic = 'run' | 'emulator' | 'verify' | 'merge' | 'coordinator' | 'worker' | 'batches' | 'cache' | 'report';

const RUN_EXITS: HelpEpilogue['exitCodes'] = [
  [0, 'every record succeeded (or was already done)'],
  [3, `the run finished, but some records are failures (${FAILURES_FILE}; --retry-failed retries them)`],
  [2, 'usage or configuration error: nothing was started'],
  [1, 'a whole-run fault (bad key, unknown model, no quota, daily quota spent, API unreachable, disk): rerun to resume'],
  [130, 'interrupted (SIGINT/SIGTERM): what is on disk is valid; rerun to resume'],
];

export const HELP_EPILOGUES: Readonly<Record<HelpTopic, HelpEpilogue>> = {
  run: {
    examples: [
      { command: 'gempipe -o out inputs/', says: `every file in inputs/ into out/${shardName(0).replace('00000', '*')}; run it again to resume where it stopped` },
      { command: 'gempipe --dry-run -o out inputs/', says: 'records to do, tokens, duration and cost, without one API call' },
      { command: "gempipe --input-format jsonl --template 'Classify: {{text}}' --keep id:review_id --json-schema label.json -o out reviews.jsonl", says: 'prompts built from JSONL fields, answers checked against a schema, the input\'s id kept as review_id' },
      { command: 'cat prompts.txt | gempipe -o - --format text | head', says: 'stdin to stdout, one "<prompt> - <response>" line each' },
      { command: 'gempipe --mode batch --deadline 12h --report --metrics 127.0.0.1:9464 -o out inputs/', says: 'Batch API at half the price, online for what is left at 12 h; Prometheus metrics while it runs, out/report.html at the end' },
    ],
    exitCodes: RUN_EXITS,
  },
  emulator: {
    examples: [
      { command: 'gempipe emulator --port 8089', says: 'a Gemini-compatible API on 127.0.0.1:8089; point a run at it with GEMINI_BASE_URL=http://127.0.0.1:8089 and any GEMINI_API_KEY' },
      { command: 'gempipe emulator --rpm 600 --quota-mode fixed-window --quota-value', says: 'a quota the way the real service enforces one: 429s with RetryInfo and the quota\'s value' },
      { command: 'gempipe emulator --latency-ms 800 --jitter-ms 400 --error-rate 0.02 --seed 7', says: 'slow, jittery answers and 2% 503s, the same ones every time' },
      { command: 'gempipe emulator --batch-time-scale 600 --thinking', says: 'batch jobs that finish in about a second; answers with thoughts' },
    ],
    exitCodes: [
      [0, 'stopped with Ctrl-C or SIGTERM'],
      [2, 'a bad flag'],
      [1, 'it could not start (the port is in use)'],
    ],
  },
  verify: {
    examples: [
      { command: 'gempipe verify -o out', says: 'every file whole, every line a record, every id once' },
      { command: 'gempipe verify -o out inputs/', says: 'and each input line has exactly one record, asked as the inputs ask it now (hash)' },
      { command: 'gempipe verify -o part-2 --partition 2/4 inputs/', says: 'one part of a partitioned job against its share of the inputs' },
    ],
    exitCodes: [
      [0, 'the directory is whole and, given inputs, matches them'],
      [1, 'something is wrong: each problem is listed'],
      [2, 'usage error (no such directory, a bad flag)'],
    ],
  },
  merge: {
    examples: [
      { command: 'gempipe merge -o all part-1 part-2 part-3 part-4', says: 'the parts of a --partition job into one exactly-once directory' },
      { command: 'gempipe --partition 2/2 -o part-2 inputs/ && gempipe merge -o all part-1 part-2', says: 'run the last part, then join them' },
      { command: 'gempipe merge -o all --shard-size 10000 part-1 part-2', says: 'larger shards in the merged directory' },
    ],
    exitCodes: [
      [0, 'merged'],
      [1, 'refused: an id answered differently in two parts, or an unreadable record (nothing written)'],
      [2, 'usage error (no -o, a part that does not exist or is in use, an -o that holds records), or the parts are not every finished part 1/N … N/N of one job, each once (--allow-partial merges them anyway)'],
    ],
  },
  coordinator: {
    examples: [
      { command: 'gempipe coordinator -o out --redis redis://queue:6379 inputs/', says: 'read the inputs and write the shards; `gempipe worker`s on any machine answer' },
      { command: 'gempipe coordinator -o out --redis redis://queue:6379 --queue nightly --max-queued 1024 inputs/', says: 'a queue of its own, more records out at once' },
      { command: 'gempipe coordinator -o out --redis redis://queue:6379 --metrics 0.0.0.0:9464 inputs/', says: 'the job\'s progress for Prometheus, scraped from other machines' },
    ],
    exitCodes: RUN_EXITS,
  },
  worker: {
    examples: [
      { command: 'gempipe worker --redis redis://queue:6379', says: 'answer a coordinator\'s records with GEMINI_API_KEY, 16 at a time' },
      { command: 'gempipe worker --redis redis://queue:6379 --queue nightly --concurrency 64', says: 'the coordinator\'s --queue, more at once' },
      { command: 'gempipe worker --redis redis://queue:6379 --metrics 127.0.0.1:9465', says: 'this worker\'s requests, latency and tokens for Prometheus' },
      { command: 'gempipe worker --redis redis://127.0.0.1:6379 --emulator', says: 'answer with the built-in emulator (a demo, a test)' },
    ],
    exitCodes: [
      [130, 'stopped by SIGINT/SIGTERM after finishing the records it held (a worker runs until stopped)'],
      [2, 'usage error (no --redis, no API key)'],
      [1, 'a fault it could not go on after (the coordinator\'s settings unreadable, Redis gone)'],
    ],
  },
  batches: {
    examples: [
      { command: 'gempipe batches list -o out', says: 'the batch jobs of out/ and their states (the live ones asked of the server)' },
      { command: 'gempipe batches cancel -o out', says: 'cancel the live jobs; a rerun puts their records into new jobs' },
      { command: 'gempipe --mode batch --detach -o out inputs/ && gempipe batches list -o out', says: 'submit, exit, and look later' },
    ],
    exitCodes: [
      [0, 'listed, or cancelled'],
      [2, 'no batch jobs in the directory, or no API key to cancel with'],
      [1, 'the API refused (a key, a network error)'],
    ],
  },
  cache: {
    examples: [
      { command: 'gempipe cache stats cache.lmdb', says: 'entries, size on disk, ages, entries per model' },
      { command: 'gempipe cache prune cache.lmdb --older-than 30d', says: 'drop answers stored more than 30 days ago' },
      { command: 'gempipe cache prune cache.lmdb --older-than 0s', says: 'remove every entry: an empty cache' },
    ],
    exitCodes: [
      [0, 'done'],
      [2, 'no cache at PATH, or prune without --older-than'],
      [1, 'the cache file could not be read'],
    ],
  },
  report: {
    examples: [
      { command: 'gempipe report -o out', says: 'out/report.html: throughput, rate limit, 429s, latency, tokens, cost, failures, runs — open it in any browser, offline' },
      { command: 'gempipe report -o out --text', says: 'the same for a terminal' },
      { command: 'gempipe report -o out --max-points 500', says: 'fewer points per chart (a smaller file)' },
      { command: 'gempipe -o out --report inputs/', says: 'a run that writes out/report.html when it ends' },
    ],
    exitCodes: [
      [0, 'written (or printed)'],
      [2, 'no such directory, nothing to report in it, or a bad flag'],
      [1, 'report.html could not be written'],
    ],
  },
};

/** The help text: an Examples block and an Exit codes block. */
export function formatEpilogue(e: HelpEpilogue): string {
  const ex = e.examples.map((x) => `  $ ${x.command}\n      ${x.says}`).join('\n');
  const codes = e.exitCodes.map(([c, m]) => `  ${String(c).padEnd(4)}${m}`).join('\n');
  return `\nExamples:\n${ex}\n\nExit codes:\n${codes}\n`;
}
