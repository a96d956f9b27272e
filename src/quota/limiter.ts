// createLimiter(): the one gate every attempt (retries included) passes before it is sent, and
// where every answer's quota news comes back. The QuotaController (controller.ts) decides; this
// enforces, in order: the gate (everyone waits while a window that ran out is blocked, but for
// one probe), the probe window (while the rate is still unknown), the Pacer (a permit from
// Bottleneck, then a place on the 1/rate grid: paced, never a burst), the gate again (a permit
// taken while a block began is spent), the token budget. release() says how the attempt ended
// and, for a 429, how long that request waits (its own RetryInfo): a 429 is flow control, it
// never fails a record. Under --redis the pacer's reservoir is one Bottleneck cluster and the
// controller's decisions go to every process sharing the quota over the quota bus.

import { abortError, sleep } from '../util/sleep.js';
import { KNOWN_AIM, QuotaController, type Hold, type QuotaControllerOptions, type QuotaNews } from './controller.js';
import type { LearnedLimit, Limiter, LimiterOptions } from './limiter-types.js';
import { createQuotaBus } from './quota-bus.js';
import { Budget, REFILL_MS } from './budget.js';
import { Pacer } from './pacer.js';

/** Known limits aim this far under the limit: at the exact limit, jitter becomes 429s (the pacer's grid keeps it at 1%). */
export const AIM = KNOWN_AIM;

export type { AttemptOutcome, Grant, LearnedLimit, Limiter, LimiterOptions, LimiterState, QuotaNewsOf429 } from './limiter-types.js';

export function createLimiter(options: LimiterOptions = {}): Limiter {
  const { rpm, tpm, learned = {}, shared } = options;
  const now = Date.now;
  const knownRpm = rpm ?? (learned.rpm?.source === 'server' ? learned.rpm.value : undefined);
  const ctrlOptions: QuotaControllerOptions = { aim: AIM, ...(typeof options.adaptive === 'object' ? options.adaptive : {}), shared: shared !== undefined };
  // Requests: a known limit (--rpm, else one the server named in an earlier run), else found.
  let ctrl: QuotaController | undefined;
  if (knownRpm !== undefined) ctrl = new QuotaController(now(), ctrlOptions, { perSec: (knownRpm / 60) * AIM, limit: true });
  else if (options.adaptive) ctrl = new QuotaController(now(), ctrlOptions, learned.rpm ? { perSec: learned.rpm.value / 60, limit: false } : undefined);
  let serverRpm = learned.rpm?.source === 'server' ? learned.rpm.value : undefined;
  let serverTpm = learned.tpm?.source === 'server' ? learned.tpm.value : undefined;

  const cluster = (what: string) => (shared ? { connection: shared.link.connection, id: `gempipe:${shared.quotaId}:${what}`, onTrouble: shared.onTrouble } : undefined);
  let pacer: Pacer | undefined;
  const syncRate = () => {
    const r = ctrl?.perSec;
    if (r === undefined) return;
    if (pacer) pacer.setRate(r);
    else pacer = new Pacer(r, cluster('rpm'));
  };
  syncRate();
  let tpmLimit = tpm ?? learned.tpm?.value;
  let tokens = tpmLimit ? new Budget(tpmLimit * AIM, cluster('tpm')) : undefined;
  let tokensCutAt = -Infinity;

  // Whoever waits for the gate or a probe-window slot is woken when anything changes.
  let wake: () => void = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };

  // What the quota turned out to be, said once each.
  const said = new Set<string>();
  const note = (key: string, line: string) => {
    if (said.has(key)) return;
    said.add(key);
    options.onNote?.(line);
  };
  const perMin = () => (ctrl?.perSec !== undefined ? `${Math.round(ctrl.perSec * 60).toLocaleString('en-US')}/min` : 'the rate found');
  let wasBlocked = false;
  const afterDecision = (refusal?: { retryDelayMs?: number }) => {
    if (!ctrl) return;
    if (ctrl.blocked && !wasBlocked) {
      note('window', `gempipe: 429s go on after cutting the rate: the quota is a window that has run out; everyone waits until it reopens${refusal?.retryDelayMs !== undefined ? ` (RetryInfo ${Math.round(refusal.retryDelayMs / 1000)} s)` : ''}, one probe now and then`);
    } else if (refusal?.retryDelayMs !== undefined && !ctrl.blocked && ctrl.perSec !== undefined) {
      note('pacing', `gempipe: 429s (RetryInfo ${refusal.retryDelayMs < 1000 ? `${refusal.retryDelayMs} ms` : `${Math.round(refusal.retryDelayMs / 1000)} s`}) stop when the rate is cut, so pausing everyone would only waste the quota: pacing at ${perMin()} instead of pausing`);
    }
    wasBlocked = ctrl.blocked;
    for (const n of ctrl.notes) {
      if (n === 'retryinfo-overstated') note(n, 'gempipe: the server\'s RetryInfo overstates the wait (its countdown does not hold, or a probe got through early): probing instead of waiting it out');
      if (n === 'bare-background') note(n, 'gempipe: 429s without details come whatever the rate (the server\'s shared capacity, not this quota): those requests back off, the rate stays');
    }
    syncRate();
    if (bus && ctrl.news.length > 0) for (const n of ctrl.news.splice(0)) bus.tell(n);
    notify();
  };

  // Growth (and a trimmed token rate's recovery) is decided every few ms from whether callers
  // waited on the rate meanwhile.
  const ticker = setInterval(() => {
    if (tokens && tpmLimit && tokens.perMinute < tpmLimit * AIM && tokens.consumeWaited()) {
      tokens.setPerMinute(Math.min(tpmLimit * AIM, tokens.perMinute + tpmLimit * 0.005 * (REFILL_MS / 1000)));
    }
    if (!ctrl) return;
    ctrl.tick(now(), (pacer?.consumeWaited() ?? false) || windowWaiting > 0);
    afterDecision();
  }, REFILL_MS);
  ticker.unref?.();

  // --redis: the other processes' decisions, acted on here; a heartbeat counts them.
  const peers = new Map<string, number>();
  const bus = shared ? createQuotaBus(shared.link, shared.quotaId, (news, from) => {
    peers.set(from, now());
    if (news && ctrl) {
      ctrl.adopt(now(), news as QuotaNews);
      ctrl.news.splice(0);
      afterDecision();
    }
  }) : undefined;
  const heartbeat = bus ? setInterval(() => {
    bus.tell(undefined);
    const t = now();
    for (const [id, at] of peers) if (t - at > 5000) peers.delete(id);
    if (ctrl) ctrl.peers = peers.size;
  }, 1000) : undefined;
  heartbeat?.unref?.();
  bus?.tell(undefined);

  let inFlight = 0; // attempts holding a probe-window slot
  let windowWaiting = 0;
  let starvedFrom: number | undefined;

  async function waitUntil(t: number, signal?: AbortSignal): Promise<void> {
    const ms = Math.max(1, Math.min(1000, t - now()));
    await Promise.race([sleep(ms, signal), changed]);
    if (signal?.aborted) throw abortError(signal);
  }

  return {
    async acquire(n, signal) {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        const t = now();
        const g = ctrl ? ctrl.gate(t) : 0;
        if (g > 0) {
          await waitUntil(g, signal);
          continue;
        }
        const probe = ctrl?.blocked === true; // the gate let this one through as the probe
        let slot = false;
        if (ctrl && ctrl.perSec === undefined) {
          // Probing: a window of requests in flight, no rate yet.
          if (inFlight >= Math.floor(ctrl.window)) {
            windowWaiting++;
            try {
              await waitUntil(now() + 1000, signal);
            } finally {
              windowWaiting--;
            }
            continue;
          }
          inFlight++;
          slot = true;
        } else if (pacer && !probe) {
          await pacer.take(signal);
          // A permit that came while a block began is spent: back to the gate.
          if (ctrl?.blocked) continue;
        }
        try {
          if (tokens && n > 0) await tokens.take(Math.ceil(n), signal);
        } catch (err) {
          if (slot) inFlight--;
          throw err;
        }
        const sentAt = now();
        ctrl?.sent(sentAt);
        return { sentAt, tokens: n, slot };
      }
    },
    release(grant, outcome) {
      if (grant.slot) inFlight--;
      const t = now();
      let hold: Hold | undefined;
      let refusal: { retryDelayMs?: number } | undefined;
      if (outcome.kind === 'ok') {
        starvedFrom = undefined;
        ctrl?.ok(t, grant.sentAt);
        if (tokens && outcome.promptTokens !== undefined && outcome.promptTokens >= 0) tokens.adjust(Math.ceil(grant.tokens) - Math.ceil(outcome.promptTokens));
      } else if (outcome.kind === 'quota') {
        starvedFrom ??= t;
        const named = outcome.quota === 'tokens' && outcome.perMinute !== undefined && outcome.perMinute > 0 && tpm === undefined && serverTpm !== outcome.perMinute;
        if (named) {
          // The server named its token limit: hold it from now on.
          serverTpm = tpmLimit = outcome.perMinute!;
          if (tokens) tokens.setPerMinute(tpmLimit * AIM);
          else tokens = new Budget(tpmLimit * AIM, cluster('tpm'));
          options.onLearn?.('tpm', outcome.perMinute!);
        }
        if (outcome.quota === 'tokens' && tokens && tpmLimit) {
          // Trim the token rate (never below 70% of the limit), once per burst of 429s.
          if (!named && grant.sentAt >= tokensCutAt + 300) {
            tokensCutAt = t;
            tokens.setPerMinute(Math.max(tpmLimit * 0.7 * AIM, tokens.perMinute * 0.97));
          }
          hold = outcome.retryDelayMs !== undefined ? { ms: outcome.retryDelayMs } : { ms: 0 };
          ctrl?.failed(grant.sentAt, t);
        } else if (ctrl) {
          // A limit the server names is held from then on (not over --rpm).
          const perMinute = outcome.quota === 'requests' && rpm === undefined ? outcome.perMinute : undefined;
          hold = ctrl.refused(t, grant.sentAt, { details: outcome.quota !== undefined, retryDelayMs: outcome.retryDelayMs, perMinute });
          refusal = outcome;
          if (perMinute !== undefined && perMinute > 0 && perMinute !== serverRpm) {
            serverRpm = perMinute;
            options.onLearn?.('rpm', perMinute);
          }
        } else {
          // --rpm off: no control; the request waits its RetryInfo, or backs off.
          hold = outcome.retryDelayMs !== undefined ? { ms: outcome.retryDelayMs } : { backoff: true };
        }
      } else {
        ctrl?.failed(grant.sentAt, t);
      }
      afterDecision(refusal);
      return hold;
    },
    state() {
      const t = now();
      const g = ctrl?.blocked ? ctrl.gate(t) : 0;
      return {
        pausedUntil: g > t ? g : 0,
        waitingForRequests: pacer?.waiting ?? 0,
        waitingForTokens: tokens?.waiting ?? 0,
        waitingForWindow: windowWaiting,
        rpm: ctrl?.perSec !== undefined ? Math.round(ctrl.perSec * 60) : undefined,
        tpm: tokens ? Math.round(tokens.perMinute) : undefined,
        rateSource: ctrl?.source,
        window: ctrl?.perSec === undefined ? ctrl?.window : undefined,
        adaptive: ctrl !== undefined && ctrl.source !== 'limit',
      };
    },
    learned() {
      const out: { rpm?: LearnedLimit; tpm?: LearnedLimit } = {};
      if (serverRpm !== undefined) out.rpm = { value: serverRpm, source: 'server' };
      // (A rate found from bare 429s alone is not kept: they may be the server's shared capacity,
      // whose refusals say nothing of a limit — the next run probes afresh.)
      else if (rpm === undefined && ctrl?.source === 'adaptive' && ctrl.confirmed && ctrl.perSec !== undefined) out.rpm = { value: Math.round(ctrl.perSec * 60), source: 'adaptive' };
      if (serverTpm !== undefined) out.tpm = { value: serverTpm, source: 'server' };
      return out;
    },
    starvedSince() {
      return starvedFrom;
    },
    async stop() {
      clearInterval(ticker);
      if (heartbeat) clearInterval(heartbeat);
      notify();
      await Promise.all([pacer?.stop(), tokens?.stop(), bus?.stop()]);
    },
  };
}
