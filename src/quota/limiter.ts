// createLimiter(): the one gate every attempt (retries included) passes before it is sent, and
// the place every answer's quota news comes back to. acquire() waits out a pause, a window slot
// (while the rate is still being probed), a request permit and token budget; release() says how
// the attempt ended. A quota 429 is handled here, not by the caller: RetryInfo pauses everyone
// (and a permit taken before the pause is no licence to send when it ends: the attempt waits
// for a fresh one, so requests resume at the limiter's pace, never all at once); a quotaValue
// sets the limit from then on; otherwise the RateController cuts. This interface is the seam
// where a limiter shared through Redis plugs in (SPEC §12).

import { abortError, sleep } from '../util/sleep.js';
import { RateController, type RateControllerOptions, type RateSource } from './adaptive-rate.js';
import { createQuotaBus } from './quota-bus.js';
import type { RedisLink } from './bottleneck-redis.js';
import { Budget, REFILL_MS } from './budget.js';

/** Known limits aim this far under the limit: a server's window shape turns the exact limit into 429s. */
export const AIM = 0.98;

export interface LearnedLimit {
  /** Per minute. */
  value: number;
  /** server: a 429's quotaValue; adaptive: the rate found without one. */
  source: 'server' | 'adaptive';
}

export interface LimiterOptions {
  /** Requests per minute (--rpm): a known limit. */
  rpm?: number;
  /** Input tokens per minute (--tpm). */
  tpm?: number;
  /** No --rpm: find the rate (probe, then AIMD). False: only --concurrency bounds it. @default false */
  adaptive?: boolean | RateControllerOptions;
  /** What a previous run into the same output learned (used where no flag says otherwise). */
  learned?: { rpm?: LearnedLimit; tpm?: LearnedLimit };
  /** Told once per limit the server names (quotaValue). */
  onLearn?: (what: 'rpm' | 'tpm', perMinute: number) => void;
  /**
   * One quota for many processes (--redis): the budgets are Bottleneck clusters named after
   * `quotaId`, and every quota 429 (its pause, its limit, the cut it asks for) is published to
   * the other processes, which act on it as if they had seen it.
   */
  shared?: { link: RedisLink; quotaId: string; onTrouble?: (err: Error) => void };
}

export interface Grant {
  /** When the attempt was let through (ms since epoch). */
  sentAt: number;
  /** Input tokens reserved for it. */
  tokens: number;
}

/** What the caller knows about a 429 (from classifyError). */
export interface QuotaNews {
  retryDelayMs?: number;
  /** requests or tokens per minute; undefined: a 429 without details. */
  quota?: 'requests' | 'tokens';
  /** The limit the server named (quotaValue), per minute. */
  perMinute?: number;
}

export type AttemptOutcome =
  | { kind: 'ok'; promptTokens?: number }
  | ({ kind: 'quota' } & QuotaNews)
  | { kind: 'failed' };

export interface LimiterState {
  /** A global pause is in force until this time (ms since epoch), else 0. */
  pausedUntil: number;
  /** Callers waiting for request permits / token budget / a window slot right now. */
  waitingForRequests: number;
  waitingForTokens: number;
  waitingForWindow: number;
  /** The request rate in force (per minute), if any. */
  rpm?: number;
  tpm?: number;
  /** probe: no rate yet (a growing window); adaptive: found; limit: a known limit. */
  rateSource?: RateSource;
  window?: number;
  /** The rate is being found (probe or adaptive), not a known limit. */
  adaptive: boolean;
}

export interface Limiter {
  acquire(tokens: number, signal?: AbortSignal): Promise<Grant>;
  release(grant: Grant, outcome: AttemptOutcome): void;
  state(): LimiterState;
  /** Limits worth keeping for the next run into the same output. */
  learned(): { rpm?: LearnedLimit; tpm?: LearnedLimit };
  stop(): Promise<void>;
}

export function createLimiter(options: LimiterOptions = {}): Limiter {
  const { rpm, tpm, learned = {} } = options;
  const now = Date.now;
  // Requests: a known limit (--rpm, else a limit learned from the server), else adaptive.
  const knownRpm = rpm ?? (learned.rpm?.source === 'server' ? learned.rpm.value : undefined);
  const adaptiveOpts = typeof options.adaptive === 'object' ? options.adaptive : {};
  let rate: RateController | undefined;
  if (knownRpm !== undefined) rate = new RateController(now(), adaptiveOpts, { perSec: (knownRpm / 60) * AIM, limit: true });
  else if (options.adaptive) rate = new RateController(now(), adaptiveOpts, learned.rpm ? { perSec: learned.rpm.value / 60, limit: false } : undefined);
  const shared = options.shared;
  const newBudget = (what: 'rpm' | 'tpm', perMinute: number) => new Budget(perMinute, shared
    ? { connection: shared.link.connection, id: `gempipe:${shared.quotaId}:${what}`, onTrouble: shared.onTrouble }
    : undefined);
  let requests: Budget | undefined;
  const syncRate = () => {
    if (!rate || rate.perSec === undefined) return;
    if (requests) requests.setPerMinute(rate.perSec * 60);
    else requests = newBudget('rpm', rate.perSec * 60);
  };
  syncRate();
  let tpmLimit = tpm ?? learned.tpm?.value;
  let tokens = tpmLimit ? newBudget('tpm', tpmLimit * AIM) : undefined;
  let tokensCutAt = -Infinity;
  let serverRpm = learned.rpm?.source === 'server' ? learned.rpm.value : undefined;
  let serverTpm = learned.tpm?.source === 'server' ? learned.tpm.value : undefined;

  // Growth is decided every refill step from whether callers waited on the rate meanwhile.
  const ticker = setInterval(() => {
    // A trimmed token rate recovers toward its limit as a known request rate does: 0.5% a second.
    if (tokens && tpmLimit && tokens.perMinute < tpmLimit * AIM && tokens.consumeWaited()) {
      tokens.setPerMinute(Math.min(tpmLimit * AIM, tokens.perMinute + tpmLimit * 0.005 * (REFILL_MS / 1000)));
    }
    if (!rate) return;
    rate.tick(now(), requests?.consumeWaited() ?? false);
    syncRate();
  }, REFILL_MS);
  ticker.unref?.();

  // The probe window: attempts in flight, and who waits for a slot.
  let inFlight = 0;
  const windowWaiters: Array<() => void> = [];
  const windowOpen = () => !rate || rate.perSec !== undefined || inFlight < rate.window;
  const wakeWindow = () => {
    while (windowWaiters.length > 0 && windowOpen()) {
      inFlight++; // the slot passes straight to the waiter
      windowWaiters.shift()!();
    }
  };
  function takeSlot(signal?: AbortSignal): Promise<void> {
    if (windowOpen() && windowWaiters.length === 0) {
      inFlight++;
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = windowWaiters.indexOf(go);
        if (i >= 0) windowWaiters.splice(i, 1);
        reject(abortError(signal));
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      windowWaiters.push(go);
    });
  }

  let started = false;
  let pausedUntil = 0;
  async function waitOutPause(signal?: AbortSignal): Promise<void> {
    for (let t = now(); t < pausedUntil; t = now()) await sleep(pausedUntil - t, signal);
  }
  function pauseFor(ms: number): void {
    const until = now() + ms;
    if (until <= pausedUntil) return;
    pausedUntil = until;
    rate?.pauseEnds(until);
  }

  /** A quota 429 — here, or in another process sharing the quota (then `grant.tokens` is 0). */
  function onQuota(outcome: Extract<AttemptOutcome, { kind: 'quota' }>, grant: Grant, t: number): void {
    if (outcome.perMinute !== undefined && outcome.perMinute > 0 && outcome.quota === 'tokens' && tpm === undefined && serverTpm !== outcome.perMinute) {
      // The server named its token limit: hold it from now on.
      serverTpm = tpmLimit = outcome.perMinute;
      if (tokens) tokens.setPerMinute(tpmLimit * AIM);
      else tokens = newBudget('tpm', tpmLimit * AIM);
      options.onLearn?.('tpm', outcome.perMinute);
    } else if (rate && outcome.perMinute !== undefined && outcome.perMinute > 0 && outcome.quota === 'requests' && rpm === undefined && serverRpm !== outcome.perMinute) {
      // The server named its request limit: hold it from now on (not with --rpm off).
      serverRpm = outcome.perMinute;
      rate.setLimit((outcome.perMinute / 60) * AIM, t);
      options.onLearn?.('rpm', outcome.perMinute);
    } else if (outcome.quota === 'tokens' && tokens && tpmLimit) {
      // Trim the token rate (never below 70% of the limit), once per burst of 429s.
      if (grant.sentAt >= tokensCutAt + 300) {
        tokensCutAt = t;
        tokens.setPerMinute(Math.max(tpmLimit * 0.7 * AIM, tokens.perMinute * 0.97));
      }
    } else if (outcome.quota !== undefined) {
      rate?.tooMany(t, grant.sentAt, outcome.retryDelayMs);
    } else {
      rate?.trim(t, grant.sentAt);
    }
    // After the rate decision, which counts the cycle up to this 429 and the pause it asks for.
    if (outcome.retryDelayMs !== undefined && outcome.retryDelayMs > 0) pauseFor(outcome.retryDelayMs);
    syncRate();
  }

  // --redis: quota news from the other processes, acted on here as if this process saw it.
  const bus = shared ? createQuotaBus(shared.link, shared.quotaId, (news, sentAt) => {
    onQuota({ kind: 'quota', ...news }, { sentAt, tokens: 0 }, now());
    wakeWindow();
  }) : undefined;

  return {
    async acquire(n, signal) {
      // The window slot first (it only binds while probing): a caller released from it when
      // probing ends must still take a permit, or the whole window would go at once.
      await takeSlot(signal);
      try {
        for (;;) {
          await waitOutPause(signal);
          if (requests) await requests.take(1, signal);
          if (tokens && n > 0) await tokens.take(Math.ceil(n), signal);
          // A permit that comes while a pause is in force is spent (the server has no room for
          // it); waiting the pause out and sending it then is what made every such request fire
          // at once when the pause ended. Take a fresh one after the pause: the limiter's pace.
          // (A permit that comes after the pause ended is good, whenever its caller queued.)
          if (now() >= pausedUntil) {
            const sentAt = now();
            if (!started) {
              started = true;
              rate?.pauseEnds(sentAt); // the first cycle counts from the first request, not from start-up
            }
            return { sentAt, tokens: n };
          }
        }
      } catch (err) {
        inFlight--;
        wakeWindow();
        throw err;
      }
    },
    release(grant, outcome) {
      inFlight--;
      const t = now();
      if (outcome.kind === 'ok') {
        rate?.ok(t);
        if (tokens && outcome.promptTokens !== undefined && outcome.promptTokens >= 0) tokens.adjust(Math.ceil(grant.tokens) - Math.ceil(outcome.promptTokens));
      } else if (outcome.kind === 'quota') {
        onQuota(outcome, grant, t);
        bus?.tell(outcome, grant.sentAt);
      }
      wakeWindow();
    },
    state() {
      const t = now();
      return {
        pausedUntil: pausedUntil > t ? pausedUntil : 0,
        waitingForRequests: requests?.waiting ?? 0,
        waitingForTokens: tokens?.waiting ?? 0,
        waitingForWindow: windowWaiters.length,
        rpm: rate?.perSec !== undefined ? Math.round(rate.perSec * 60) : undefined,
        tpm: tokens ? Math.round(tokens.perMinute) : undefined,
        rateSource: rate?.source,
        window: rate?.perSec === undefined ? rate?.window : undefined,
        adaptive: rate !== undefined && rate.source !== 'limit',
      };
    },
    learned() {
      const out: { rpm?: LearnedLimit; tpm?: LearnedLimit } = {};
      if (serverRpm !== undefined) out.rpm = { value: serverRpm, source: 'server' };
      else if (rpm === undefined && rate?.source === 'adaptive' && rate.perSec !== undefined) out.rpm = { value: Math.round(rate.perSec * 60), source: 'adaptive' };
      if (serverTpm !== undefined) out.tpm = { value: serverTpm, source: 'server' };
      return out;
    },
    async stop() {
      clearInterval(ticker);
      await Promise.all([requests?.stop(), tokens?.stop(), bus?.stop()]);
    },
  };
}
