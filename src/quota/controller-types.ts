// The QuotaController's vocabulary: its options, what a 429 says, how a refused request waits,
// and the news processes sharing a quota (--redis) tell each other (controller.ts explains them).

/** A known limit (--rpm, quotaValue) is paced this far under it: `start.perSec` = limit × this. */
export const KNOWN_AIM = 0.99;

export interface QuotaControllerOptions {
  /** Requests in flight before the first answer, while probing. @default 4 */
  initialWindow?: number;
  /** @default 0.2 */
  minPerSec?: number;
  /** A first guess at the rate doubles this often until the next refusal measures it. @default 500 */
  guessDoublingMs?: number;
  /** While probing, the window doubles no faster than this (or three round trips, if shorter). @default 100 */
  minDoublingMs?: number;
  /** While probing, the window grows by this much per answer (1: doubles per round trip). @default 1 */
  windowGrowth?: number;
  /** A cut paces at this share of what the server took lately. @default 0.9 */
  cut?: number;
  /** Refused requests in a row, sent after a cut, that mean a window has run out. @default 3 */
  blockedRun?: number;
  /** While blocked, the first probe after this long, then twice as long each time. @default 25 */
  firstProbeMs?: number;
  /** While blocked, probes at least this often. @default 1000 */
  maxProbeMs?: number;
  /** @deprecated No effect: growth past the level is CUBIC-shaped (see above). */
  probeGrowth?: number;
  /** Growth is at most this share of the rate per 250 ms. @default 0.25 */
  maxProbeGrowth?: number;
  /** A known limit is aimed this far under. @default 0.99 */
  aim?: number;
  /**
   * The quota and the pacer are shared with other processes (--redis): what this process sent and
   * had refused, and every decision it makes, are `news` for the others to `adopt` (so each
   * measures the whole stream); the probe's first window is split between them. @default false
   */
  shared?: boolean;
}

/** Where a rate decision left the controller, for the processes sharing the quota. */
export interface RateState {
  guess: boolean;
  /** A window's length (ms; 0: none known). */
  memory: number;
  /** The window's echo lasts this much longer (ms). */
  echoMs: number;
}

/**
 * A decision another process sharing the quota acts on as if it had made it — or what it saw
 * (`seen`: requests sent and refused per 25 ms of send time, from slot `from`), so that every
 * process measures the whole stream, not its share of it.
 */
export type QuotaNews =
  | { kind: 'cut'; perSec: number; level: number; state?: RateState }
  | { kind: 'block'; reopenInMs?: number }
  | { kind: 'reopen'; perSec: number; level: number; state?: RateState }
  | { kind: 'limit'; perSec: number }
  | { kind: 'seen'; from: number; sent: number[]; refused: number[] };

/** What a 429 says, as classifyError reads it. */
export interface Refusal {
  /** QuotaFailure (a quota id) or "limit: N" in the message: this project's quota. */
  details: boolean;
  /** RetryInfo, ms. */
  retryDelayMs?: number;
  /** The limit named (quotaValue), per minute. */
  perMinute?: number;
}

/** What the caller does with the refused request: wait this long (its own RetryInfo), or back off. */
export type Hold = { ms: number } | { backoff: true };

export type RateSource = 'probe' | 'adaptive' | 'limit';

/** Something the run should say once (stderr, summary). */
export type Note = 'pacing-not-pausing' | 'retryinfo-overstated' | 'retryinfo-trusted' | 'bare-background';
