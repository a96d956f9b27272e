// createBackend(): what a run talks to — the emulator (with --emulator), the transport, the
// Gemini client and the limiter (started where an earlier run into the directory left off), and
// for records that ask more than a prompt the request bodies (request/builder.ts) with their
// uploads (media/uploads.ts) and --context (context/) — built in one place, with one close().

import { startEmulator, type Emulator } from '../emulator/server.js';
import { createGeminiClient, restBaseOf, type GenerateFn } from '../gemini/client.js';
import { createMediaApis } from '../gemini/media-client.js';
import { dropLeftoverCache, startContext, type ContextSession } from '../context/context-cache.js';
import type { LoadedContext } from '../context/context.js';
import type { RunStats } from '../stats.js';
import { openUploads, type Uploads } from '../media/uploads.js';
import { createRequestBodies, createRequestBuilder, type RequestBodies } from '../request/builder.js';
import { MAX_CONNECTIONS } from '../fd-budget.js';
import { createFastFetch, type FastFetch } from '../gemini/fast-fetch.js';
import { endpointAnswers } from '../gemini/reachable.js';
import { LIMITS_FILE } from '../output/layout.js';
import type { Options } from '../cli/options.js';
import { requestSpecOf, type RequestShape } from '../request/spec.js';
import { loadLearned, saveLearned } from '../quota/learned.js';
import { createLimiter, type Limiter, type LimiterOptions } from '../quota/limiter.js';
import { connectRedis, redisShown, skewWarning, type RedisLink } from '../quota/bottleneck-redis.js';
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { createEmbedClient, type EmbedFn } from '../gemini/embed-client.js';

export interface Backend {
  generate: GenerateFn;
  /** `gempipe embed`: many texts in one batchEmbedContents call (gemini/embed-client.ts). */
  embed?: EmbedFn;
  limiter: Limiter;
  /** Whether the endpoint answers anything at all (undefined: a generate function given, not asked). */
  reachable?: () => Promise<boolean>;
  /** What was learned or reused about the quota, in words (for the summary). */
  limits: string[];
  /** --redis: the link and the quota id (the shared --rpd count uses them). */
  shared?: { link: RedisLink; quotaId: string };
  /** Whole request bodies (request lines, attachments, --context): generateWorkOf() wraps its work in them. */
  bodies: RequestBodies;
  /** Tokens every request carries besides its prompt and system instruction (--context's, estimated). */
  fixedTokens?: number;
  /** Keeps what was learned for the next run, then stops the limiter, transport and emulator. */
  close(): Promise<void>;
}

/** What a backend is made of: where and how to ask, the limits, where learned limits are kept (`out`). */
export type BackendOptions = RequestShape & Pick<Options, 'out' | 'baseUrl' | 'apiKey' | 'emulator' | 'rpm' | 'tpm' | 'adaptiveRate' | 'redis' | 'quotaId' | 'concurrency' | 'timeoutMs'> & Partial<Pick<Options, 'contextTtlMs' | 'contextCache'>>;

export async function createBackend(o: BackendOptions, io: {
  generate?: GenerateFn;
  say: (line: string) => void;
  /** Sockets at most (fd-budget.ts). */
  connections?: number;
  /** --context, loaded (prepareJob): cached or sent as a prefix. */
  context?: LoadedContext;
  /** The run's counters (--context's cache storage is counted there). */
  stats?: RunStats;
}): Promise<Backend> {
  const toStdout = o.out === '-';
  let emulator: Emulator | undefined;
  let baseUrl = o.baseUrl;
  let apiKey = o.apiKey ?? '';
  if (o.emulator && !io.generate) {
    emulator = await startEmulator({});
    baseUrl = emulator.url;
    apiKey = 'emulator-key'; // a real key never goes to the emulator
    io.say(`gempipe: responses are EMULATED (local Gemini emulator at ${emulator.url}); set GEMINI_API_KEY and drop --emulator for real answers`);
  }
  // What an earlier run into this directory learned about the quota: start there, not from a probe.
  const learned = toStdout ? {} : loadLearned(o.out, o.model);
  const limits: string[] = [];
  const useLearnedRpm = !o.rpm && learned.rpm !== undefined && (o.adaptiveRate || learned.rpm.source === 'server');
  if (useLearnedRpm) {
    limits.push(`started at ${learned.rpm!.value.toLocaleString('en-US')} requests/min, ${learned.rpm!.source === 'server' ? 'the limit the server named' : 'the rate found'} in an earlier run (${o.out}/${LIMITS_FILE})`);
    io.say(`gempipe: ${limits[limits.length - 1]}`);
  }
  // --redis: one quota for every process with the same quota id.
  let link: RedisLink | undefined;
  let shared: LimiterOptions['shared'];
  if (o.redis) {
    link = connectRedis(o.redis);
    const where = redisShown(o.redis);
    // A wrong password or an unreachable server is a usage error now, not a wait forever.
    try {
      await link.ready();
    } catch (e) {
      await link.close();
      await emulator?.close();
      throw new UsageError(`${(e as Error).message} (--redis)`);
    }
    const quotaId = o.quotaId ?? `${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}-${o.model}`;
    io.say(`gempipe: sharing the quota of ${o.model} through Redis at ${where} as quota id ${quotaId}`);
    let troubled = false;
    // Bottleneck's scripts take each client's Date.now(): machines whose clocks disagree share the
    // refill wrongly. Redis's clock is the one they all see; a skew over a second is said.
    void link.skewMs().then((ms) => {
      const w = skewWarning(ms);
      if (w) io.say(`gempipe: warning: ${w}`);
    }, () => {});
    link.onLost((lost, why) => io.say(lost ? `gempipe: lost Redis at ${where}${why ? ` (${why})` : ''}: no request is sent until it is back` : `gempipe: Redis at ${where} is back: sending again`));
    shared = {
      link, quotaId,
      onTrouble: (e) => {
        if (troubled) return;
        troubled = true;
        io.say(`gempipe: Redis at ${where} answered with an error (${e.message}); retrying, nothing is sent meanwhile`);
      },
    };
  }
  const limiter = createLimiter({
    shared,
    rpm: o.rpm, tpm: o.tpm, adaptive: o.adaptiveRate,
    learned: { rpm: useLearnedRpm ? learned.rpm : undefined, tpm: o.tpm ? undefined : learned.tpm },
    onNote: (line) => io.say(line),
    onLearn: (what, perMinute) => {
      const line = `the server says: ${perMinute.toLocaleString('en-US')} ${what === 'rpm' ? 'requests' : 'input tokens'} per minute for ${o.model}; holding that limit from now on`;
      limits.push(line);
      io.say(`gempipe: ${line}`);
    },
  });
  const transport: FastFetch | undefined = io.generate ? undefined : createFastFetch({ connections: io.connections ?? Math.min(o.concurrency, MAX_CONNECTIONS), timeoutMs: o.timeoutMs });
  const spec = requestSpecOf(o);
  const client = io.generate ?? createGeminiClient({ ...spec.shape, apiKey, baseUrl, timeoutMs: o.timeoutMs, transport });
  // Records that ask more than a prompt: their bodies, and the Files API they may need (made when first needed).
  const apis = createMediaApis({ apiKey, baseUrl });
  let uploads: Promise<Uploads> | undefined;
  const uploadsOf = () => (uploads ??= openUploads({ dir: toStdout ? undefined : o.out, files: apis.files, say: io.say }));
  let context: ContextSession | undefined;
  try {
    if (io.context) {
      // With an injected generate there is no service to cache on or upload to: the context is a prefix.
      context = await startContext({
        ctx: io.context, model: o.model, system: o.system, dir: toStdout ? undefined : o.out, caches: io.generate ? undefined : apis.caches,
        uploads: io.generate ? undefined : uploadsOf, cache: o.contextCache ?? 'auto', ttlSec: Math.round((o.contextTtlMs ?? 600_000) / 1000), say: io.say, stats: io.stats,
      });
    } else if (!toStdout && !io.generate) {
      await dropLeftoverCache(o.out, apis.caches, io.say);
    }
  } catch (e) {
    await limiter.stop();
    await link?.close();
    await transport?.close();
    await emulator?.close();
    throw e;
  }
  const bodies = createRequestBodies(createRequestBuilder({ base: () => restBaseOf(apiKey, baseUrl, spec), uploads: uploadsOf, context }), client);
  const generate: GenerateFn = bodies.generate;
  const embed = o.embed ? createEmbedClient({ model: o.model, embed: o.embed, apiKey, baseUrl, timeoutMs: o.timeoutMs, transport }) : undefined;
  // Kept every few seconds too: a run killed with SIGKILL still leaves what it learned.
  const saver = toStdout ? undefined : setInterval(() => saveLearned(o.out, o.model, limiter.learned()), 5000);
  saver?.unref();
  return {
    generate,
    embed,
    limiter,
    reachable: io.generate ? undefined : () => endpointAnswers({ apiKey, baseUrl, model: o.model, timeoutMs: o.timeoutMs }),
    limits,
    bodies,
    fixedTokens: io.context?.tokens,
    shared: link && shared ? { link, quotaId: shared.quotaId } : undefined,
    async close() {
      if (saver) clearInterval(saver);
      await context?.close();
      if (!toStdout) saveLearned(o.out, o.model, limiter.learned());
      const found = limiter.learned().rpm;
      if (found?.source === 'adaptive' && !toStdout) limits.push(`rate found: ${found.value.toLocaleString('en-US')} requests/min (kept in ${o.out}/${LIMITS_FILE} for the next run)`);
      await limiter.stop();
      await link?.close();
      await transport?.close();
      await emulator?.close();
    },
  };
}
