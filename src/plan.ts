// --dry-run's plan, without a single API call: the reader runs as in a real run (same inputs,
// same resume skips) into a counter that writes nothing. Token estimates are
// calibrated from the records already in the output directory when there are any (their
// promptTokens per character, responseTokens and latency), else ~4 characters a token. The
// duration is the largest of what --concurrency, --rpm and --tpm each allow.

import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fixedTokensOf, TokenEstimator } from './quota/token-estimate.js';
import { SHARD_RE } from './output/layout.js';
import { listRecordFiles } from './output/record-files.js';
import { scanLines } from './util/scan-lines.js';
import { RequestIndex } from './reuse/request-index.js';
import type { Options } from './cli/options.js';
import type { InputRecord } from './records.js';

export { CACHE_PRICES_DATE, PRICE_TABLE_DATE, PRICES, priceFor, type Price } from './prices.js';
import { PRICE_TABLE_DATE, priceFor } from './prices.js';

export interface History {
  records: number;
  charsPerToken?: number;
  avgResponseTokens?: number;
  medianLatencyMs?: number;
}

/**
 * What the records already written say about this job (up to 5,000 of them). Characters per
 * token are learnt as the run learns them (TokenEstimator: the system instruction's tokens,
 * `fixedTokens`, are not the prompt's).
 */
export async function readHistory(dir: string | undefined, fixedTokens = 0, most = 5000): Promise<History> {
  const h: History = { records: 0 };
  if (!dir) return h;
  let names: string[];
  try {
    names = listRecordFiles(dir).filter((n) => SHARD_RE.test(n));
  } catch {
    return h;
  }
  const estimator = new TokenEstimator(fixedTokens);
  let out = 0;
  const lat: number[] = [];
  // Line by line, at most `most` records: a large output directory is never read whole.
  for (const n of names) {
    await scanLines(join(dir, n), (data, start, end, _next, terminated) => {
      if (!terminated) return; // a torn line: resume repairs it; the plan just skips it
      try {
        const r = JSON.parse(data.toString('utf8', start, end)) as { prompt?: string; usage?: { promptTokens?: number; responseTokens?: number }; latencyMs?: number; attempts?: number; cached?: boolean };
        // Only answers asked for: a --dedupe copy, a --cache hit or a reused answer (attempts 0,
        // no usage, no latency) would teach the plan that answers cost nothing and take no time.
        if (typeof r.prompt !== 'string' || !r.usage || r.attempts === 0 || r.cached === true) return;
        h.records++;
        estimator.observe(r.prompt, r.usage.promptTokens ?? 0);
        out += r.usage.responseTokens ?? 0;
        if (typeof r.latencyMs === 'number') lat.push(r.latencyMs);
      } catch {
        return;
      }
      return h.records < most;
    });
    if (h.records >= most) break;
  }
  if (h.records > 0) h.avgResponseTokens = out / h.records;
  if (estimator.calibrated) h.charsPerToken = estimator.charsPerToken;
  if (lat.length) h.medianLatencyMs = lat.sort((a, b) => a - b)[Math.floor(lat.length / 2)];
  return h;
}

export interface Plan {
  toDo: number;
  /** Of toDo, the requests that would be sent (the rest are answered by --dedupe or --cache). */
  requests: number;
  /** --dedupe: copies of a request asked earlier in this job, and requests answered in the directory already. */
  deduped: number;
  onDisk: number;
  /** --cache: fresh answers in the cache. */
  cached: number;
  alreadyDone: number;
  /** What --mode auto would choose, and why (job/mode.ts autoMode: the run's own rule). */
  auto: { mode: 'online' | 'batch'; why: string };
  invalid: number;
  chars: number;
  inputTokens: number;
  outputTokens: number;
  outputTokensAssumed: boolean;
  durationSec: number;
  bindingLimit: string;
  costUsd?: number;
  priceIn?: number;
  priceOut?: number;
  priceNote?: string;
  /** --context: its tokens in every request, and the job priced with the cache (explicit, or implicit at best). */
  context?: { tokens: number; explicit: boolean; minimum: number; withCacheUsd?: number };
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return 'unknown';
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
}

/** What a dry run reads: records to do, the requests they need, bad lines, characters asked. */
export interface PlanCounts {
  toDo: number;
  requests: number;
  deduped: number;
  onDisk: number;
  cached: number;
  invalid: number;
  /** Characters of the prompts that would be sent. */
  chars: number;
  /** --attach: attachments of the records to do (each ~258 tokens, as an image). */
  media: number;
}

/** What answers records without a request, as the run would use it (read only). */
export interface PlanReuse {
  /** --dedupe: whether a request is answered in the output directory already. */
  dedupe?: { knows(hash: string): boolean };
  /** --cache (opened read only): a fresh answer, or undefined. */
  cache?: { lookup(rec: InputRecord): unknown };
}

/**
 * The sink a dry run's reader is piped into: it counts and measures, and writes nothing. Each
 * record goes the run's way (reuse/reuse.ts): --dedupe first (a request already answered on
 * disk, or asked earlier in this job, is copied), then the --cache, then a request. Requests seen
 * are kept as 64-bit keys in typed arrays (~24 bytes each), never the prompts.
 */
export function createPlanCounter(reuse: PlanReuse = {}): { sink: Writable; counts: PlanCounts } {
  const counts: PlanCounts = { toDo: 0, requests: 0, deduped: 0, onDisk: 0, cached: 0, invalid: 0, chars: 0, media: 0 };
  const seen = reuse.dedupe ? new RequestIndex() : undefined;
  const free = (r: InputRecord): boolean => {
    if (seen && r.hash !== undefined) {
      if (reuse.dedupe!.knows(r.hash)) return (counts.onDisk++, true);
      const k = RequestIndex.key(r.hash);
      if (seen.get(k)) return (counts.deduped++, true);
      seen.set(k, { file: 0, offset: 0, bytes: 0 });
    }
    return reuse.cache !== undefined && reuse.cache.lookup(r) !== undefined && (counts.cached++, true);
  };
  const sink = new Writable({
    objectMode: true,
    write(r: InputRecord, _enc, cb) {
      if (r.invalid) counts.invalid++;
      else {
        counts.toDo++;
        if (!free(r)) {
          counts.requests++;
          counts.chars += r.prompt.length;
          counts.media += r.media?.length ?? 0;
        }
      }
      cb();
    },
  });
  return { sink, counts };
}

/** The plan from what was read, what is done, and the history of the records written. */
export function makePlan(c: PlanCounts, o: Options, alreadyDone: number, history: History, auto: Plan['auto'], context?: { tokens: number; minimum: number }): Plan {
  const { toDo, requests, deduped, onDisk, cached, invalid, chars } = c;
  const cpt = history.charsPerToken ?? 4;
  const systemTokens = fixedTokensOf(o.system);
  // Tokens, time and money are the requests': what --dedupe and --cache answer costs none. An
  // attachment counts 258 tokens (an image's tile); a --context its tokens on every request.
  const inputTokens = Math.ceil(chars / cpt) + requests * (systemTokens + 1 + (context?.tokens ?? 0)) + (c.media ?? 0) * 258;
  // An embedding has no output tokens; its calls carry --texts-per-call texts each.
  const outputAssumed = history.avgResponseTokens === undefined && !o.embed;
  const perRecordOut = o.embed ? 0 : history.avgResponseTokens ?? o.maxOutputTokens ?? 500;
  const perCall = o.embed ? o.textsPerCall ?? 100 : 1;
  const outputTokens = Math.round(requests * perRecordOut);
  // Duration: each limit alone; the largest binds.
  const latencySec = (history.medianLatencyMs ?? 5000) / 1000;
  const limits: Array<[string, number]> = [[`--concurrency ${o.concurrency} at ~${latencySec.toFixed(1)} s a request${history.medianLatencyMs === undefined ? ' (assumed)' : ''}`, (requests * latencySec) / (o.concurrency * perCall)]];
  if (o.rpm) limits.push([`--rpm ${o.rpm}`, (requests / o.rpm) * 60]);
  if (o.tpm) limits.push([`--tpm ${o.tpm}`, (inputTokens / o.tpm) * 60]);
  if (o.rpd) limits.push([`--rpd ${o.rpd}`, requests > o.rpd ? Math.floor(requests / o.rpd) * 86_400 : 0]);
  const [bindingLimit, durationSec] = limits.reduce((a, b) => (b[1] > a[1] ? b : a));
  const table = priceFor(o.model);
  const pin = o.priceIn ?? table?.in;
  const pout = o.priceOut ?? table?.out;
  const plan: Plan = { toDo, requests, deduped, onDisk, cached, alreadyDone, auto, invalid, chars, inputTokens, outputTokens, outputTokensAssumed: outputAssumed, durationSec, bindingLimit };
  if (pin !== undefined && pout !== undefined) {
    plan.priceIn = pin;
    plan.priceOut = pout;
    plan.costUsd = (inputTokens / 1e6) * pin + (outputTokens / 1e6) * pout;
    plan.priceNote = o.priceIn !== undefined || o.priceOut !== undefined ? 'from --price-in/--price-out' : `${table?.note ? table.note + '; ' : ''}built-in price table of ${PRICE_TABLE_DATE}`;
  }
  if (context) {
    // The context's tokens of every request at the cached rate instead; an explicit cache adds
    // its creation (once, at the input price) and storage for the run's estimated duration.
    const explicit = o.contextCache !== 'off' && context.tokens >= context.minimum;
    plan.context = { tokens: context.tokens, minimum: context.minimum, explicit };
    if (plan.costUsd !== undefined && table) {
      const cached = (pin! * table.cached) / table.in;
      const t = context.tokens / 1e6;
      plan.context.withCacheUsd = plan.costUsd - requests * t * (pin! - cached) + (explicit ? t * pin! + t * table.storage * (durationSec / 3600) : 0);
    }
  }
  return plan;
}

/** How many records --dedupe and --cache answer without a request, in words. */
function reuseWords(p: Plan, o: Options): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts: string[] = [];
  if (o.dedupe) parts.push(`--dedupe: ${n(p.deduped)} repeat${p.deduped === 1 ? 's' : ''} a request asked earlier in this job, ${n(p.onDisk)} ${p.onDisk === 1 ? 'is' : 'are'} answered in ${o.out}/ already`);
  if (o.cache !== undefined) parts.push(`--cache: ${n(p.cached)} answered by ${o.cache}`);
  return `${n(p.toDo - p.requests)} of the ${n(p.toDo)} cost no request — ${parts.join('; ')}`;
}

export function formatPlan(p: Plan, o: Options, history: History): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `gempipe dry run — no API calls were made`,
    `  records to do:        ${n(p.toDo)}${p.invalid ? ` (+ ${n(p.invalid)} invalid lines that will become failure records)` : ''}`,
    `  already done:         ${n(p.alreadyDone)} (skipped by resume${o.retryFailed ? '; failed ones are retried' : ''})`,
    ...(o.dedupe || o.cache !== undefined ? [`  requests to send:     ${n(p.requests)} (${reuseWords(p, o)})`] : []),
    `  input tokens (est.):  ${n(p.inputTokens)} (${n(p.chars)} characters at ${(history.charsPerToken ?? 4).toFixed(2)} a token, ${history.charsPerToken ? `calibrated on ${n(history.records)} records already done` : 'uncalibrated'})`,
    o.embed ? `  output tokens:        0 (embeddings bill input tokens only; ${n(p.toDo)} vectors)` : `  output tokens (est.): ${n(p.outputTokens)} (${p.outputTokensAssumed ? `assuming ${o.maxOutputTokens ?? 500} a record${o.maxOutputTokens ? ' (--max-output-tokens)' : ''}` : `the ${n(history.records)} records done average ${Math.round(history.avgResponseTokens!)}`})`,
    `  duration (est.):      ${fmtDuration(p.durationSec)}, bound by ${p.bindingLimit}`,
  ];
  if (!o.rpm && o.adaptiveRate) lines.push('                        (no --rpm: the rate adapts to the quota; give --rpm/--tpm for a firmer estimate)');
  if (p.costUsd !== undefined) {
    lines.push(`  cost (est.):          $${p.costUsd >= 1 ? p.costUsd.toFixed(2) : p.costUsd >= 0.01 || p.costUsd === 0 ? p.costUsd.toFixed(4) : p.costUsd.toPrecision(2)} for ${o.model} at $${p.priceIn}/M in, $${p.priceOut}/M out (${p.priceNote})`);
  } else {
    lines.push(`  cost (est.):          unknown: ${o.model} is not in the built-in price table (of ${PRICE_TABLE_DATE}); give --price-in and --price-out`);
  }
  // --mode batch: the Batch API bills half the online price and targets 24 hours.
  const half = p.costUsd !== undefined ? `$${(p.costUsd / 2).toFixed(p.costUsd / 2 >= 1 ? 2 : 4)}, half the online price` : 'half the online price';
  lines.push(`  with --mode batch:    ${half}; results within 24 h (the Batch API's target; often much sooner), whatever the rate limits`);
  if (p.context) {
    const c = p.context;
    const usd = (x: number) => `$${x >= 1 ? x.toFixed(2) : x.toFixed(4)}`;
    const priced = c.withCacheUsd !== undefined && p.costUsd !== undefined ? `: ${usd(c.withCacheUsd)} with it${c.explicit ? '' : ' at best (implicit hits are not guaranteed)'}, ${usd(p.costUsd)} without caching` : '';
    lines.push(`  with --context:       ~${n(c.tokens)} tokens in every request, ${c.explicit ? `cached explicitly (over ${o.model}'s ${n(c.minimum)}-token minimum; created once, stored while the run lasts)` : `sent as a prefix (${o.contextCache === 'off' ? '--context-cache off' : `under ${o.model}'s ${n(c.minimum)}-token minimum for an explicit cache`}): implicit caching may bill it at the cached rate`}${priced}`);
  }
  lines.push(`  --mode auto would:    go ${p.auto.mode} (${p.auto.why})`);
  return lines.join('\n') + '\n';
}
