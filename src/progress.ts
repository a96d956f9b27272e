// createProgress(): what the user sees on stderr while a run goes (SPEC §6). On a terminal, a
// live cli-progress bar (done/total when known, rate, ETA, in flight, retries, failures,
// tokens, and what is binding: the limiter's pause or rate); otherwise one status line every
// `intervalSec`. Reads RunStats on a timer; never touches the hot path.

import cliProgress from 'cli-progress';
import type { Limiter } from './quota/limiter.js';
import type { RunStats } from './stats.js';

export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  stats: RunStats;
  limiter?: Limiter;
  concurrency: number;
  intervalSec: number;
  quiet: boolean;
  now?: () => number;
}

export interface Progress {
  stop(): void;
  /** Prints a line above the bar (or plainly when there is none). */
  log(line: string): void;
}

/** Requests per minute over a sliding window of a few seconds (what the API sees now). */
export class RecentRate {
  #samples: Array<[number, number]> = [];
  constructor(readonly windowMs = 5000) {}
  /** Records the attempt counter at `t`; returns attempts per minute over the window. */
  sample(attempts: number, t: number): number {
    this.#samples.push([t, attempts]);
    while (this.#samples.length > 2 && this.#samples[1][0] <= t - this.windowMs) this.#samples.shift();
    const [t0, a0] = this.#samples[0];
    return t > t0 ? ((attempts - a0) / (t - t0)) * 60_000 : 0;
  }
}

/** What limits throughput right now, in words, with the current rate against the limit. */
export function bindingConstraint(stats: RunStats, limiter: Limiter | undefined, concurrency: number, now: number, rpmNow?: number): string {
  const st = limiter?.state();
  const cur = rpmNow !== undefined ? `${Math.round(rpmNow)}/min` : '';
  if (st?.pausedUntil) return `429 cool-down ${Math.ceil((st.pausedUntil - now) / 1000)}s`;
  if (st && st.waitingForRequests > 0) return `rpm ${cur ? `${cur} of ` : ''}${st.rpm}${st.adaptive ? ' (adaptive)' : ''}`;
  if (st && st.waitingForTokens > 0) return `tpm ${st.tpm}`;
  if (st && st.waitingForWindow > 0) return `probing the quota (window ${st.window} in flight)`;
  const limit = st?.rpm ? ` (rpm limit ${st.rpm}${st.adaptive ? ', adaptive' : ''})` : '';
  if (stats.inFlight >= concurrency) return `concurrency ${concurrency}${cur ? `, ${cur}` : ''}${limit}`;
  return `input/API${cur ? `, ${cur}` : ''}${limit}`;
}

/**
 * One line of at most `width - 1` columns (the last column would wrap on some terminals): the
 * parts, in order, that fit when taken by rank (0 first); the rest left out, and a part too long
 * even alone cut with an ellipsis. Every character counts one column (the bar's blocks do).
 */
export function fitToWidth(parts: ReadonlyArray<readonly [text: string, rank: number]>, width: number): string {
  const room = Math.max(10, width - 1);
  const keep = new Set<number>();
  let used = 0;
  for (const i of parts.map((_, i) => i).sort((a, b) => parts[a][1] - parts[b][1])) {
    const len = parts[i][0].length;
    if (used + len <= room) {
      keep.add(i);
      used += len;
    }
  }
  const line = parts.filter((_, i) => keep.has(i)).map((p) => p[0]).join('');
  if (keep.size > 0 || parts.length === 0) return line;
  const first = parts.reduce((a, b) => (b[1] < a[1] ? b : a));
  return first[0].slice(0, room - 1) + '…';
}

export function createProgress(o: ProgressOptions): Progress {
  const now = o.now ?? Date.now;
  if (o.quiet) return { stop() {}, log() {} };
  const s = o.stats;
  const recent = new RecentRate();
  // The window starts now: the first status line's rate is over the time since the start, not
  // one sample (which read "rpm 0/min").
  recent.sample(s.attempts, now());
  const binding = () => {
    const t = now();
    return bindingConstraint(s, o.limiter, o.concurrency, t, recent.sample(s.attempts, t));
  };
  /** Records to do this run: exact once the reader has ended, else the start-up estimate. */
  const toDo = (): number | undefined => (s.total !== undefined ? s.total - s.skipped : s.expected);
  const rate = () => {
    const secs = Math.max(0.001, (now() - s.startedAt) / 1000);
    return (s.succeeded + s.failed) / secs;
  };
  if (o.stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: o.stream as NodeJS.WritableStream,
        format: (_opts, params, payload: Record<string, string>) => {
          const total = params.total > 0 ? `/${params.total}` : '';
          const pct = params.total > 0 ? ` ${Math.floor(params.progress * 100)}%` : '';
          const barText = params.total > 0 ? `${'█'.repeat(Math.round(params.progress * 20)).padEnd(20, '░')} ` : '';
          // Read at each redraw: a resized terminal gets a line of its new width.
          const width = (o.stream as { columns?: number }).columns || 80;
          return fitToWidth([
            [`${barText}`, 6], [`${params.value}${total}${pct}`, 0], [` | ${payload.rate}/s`, 1], [` | ETA ${payload.eta}`, 2],
            [` | in flight ${payload.inflight}`, 4], [` | retries ${payload.retries}`, 7], [` | failed ${payload.failed}`, 3],
            [` | tokens ${payload.tokens}`, 8], [` | ${payload.binding}`, 5],
          ], width);
        },
        hideCursor: true,
        clearOnComplete: false,
        fps: 5,
        noTTYOutput: false,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = () => {
      const done = s.succeeded + s.failed;
      const r = rate();
      const todo = toDo();
      const left = todo !== undefined ? Math.max(0, todo - done) : undefined;
      const eta = left !== undefined && r > 0 ? `${Math.ceil(left / r)}s` : '?';
      return {
        rate: r.toFixed(1), eta, inflight: String(s.inFlight), retries: String(s.retries), failed: String(s.failed),
        tokens: `${s.tokensIn}/${s.tokensOut}`, binding: binding(),
      };
    };
    bar.start(0, 0, payload());
    const timer = setInterval(() => {
      const todo = toDo();
      if (todo !== undefined) bar.setTotal(Math.max(todo, s.succeeded + s.failed));
      bar.update(s.succeeded + s.failed, payload());
    }, 200);
    timer.unref?.();
    return {
      stop() {
        clearInterval(timer);
        const todo = toDo();
        if (todo !== undefined) bar.setTotal(Math.max(todo, s.succeeded + s.failed));
        bar.update(s.succeeded + s.failed, payload());
        bar.stop();
      },
      log(line) {
        o.stream.write('\r\x1b[K' + line + '\n');
      },
    };
  }
  const line = () => {
    const todo = toDo();
    const total = todo !== undefined ? `/${s.total !== undefined ? '' : '~'}${Math.max(todo, s.succeeded + s.failed)}` : '';
    return `gempipe: ${s.succeeded + s.failed}${total} done (${s.failed} failed, ${s.skipped} skipped), ${rate().toFixed(1)}/s, ${s.inFlight} in flight, ${s.retries} retries, ${s.http429} 429s, tokens ${s.tokensIn}/${s.tokensOut}, bound by ${binding()}\n`;
  };
  const timer = setInterval(() => o.stream.write(line()), o.intervalSec * 1000);
  timer.unref?.();
  return {
    stop() {
      clearInterval(timer);
    },
    log(l) {
      o.stream.write(l + '\n');
    },
  };
}
