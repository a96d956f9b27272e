// Bare 429s (no details) may be the quota or the server's shared capacity, which refuses a share
// of requests whatever the rate. The background share is a long average over the answers to
// requests sent outside episodes of congestion (from a prior of 3%); bare 429s are congestion
// when their share runs above it (a CUSUM test: quick for a clear excess, slow to fire on noise).
// Pure: told the send times.

export class BareBackground {
  #cusum = 0;
  /** Answers not yet counted in the background: send time, bare (pairs). */
  readonly #pending: number[] = [];
  /** The last episodes of congestion: [send time of the first refusal, time of the last]. */
  readonly #episodes: Array<[number, number]> = [];
  #calmAll = 0;
  #calmBare = 0;

  /** An answer (bare: a bare 429) to the request sent at `sentAt` (undefined: not in the log). */
  count(bare: 0 | 1, sentAt: number | undefined): void {
    if (sentAt !== undefined) {
      // Counted once it is clear that no episode of congestion began around it.
      this.#pending.push(sentAt, bare);
      while (this.#pending.length > 0 && this.#pending[0] < sentAt - 2000) {
        const at = this.#pending.shift()!;
        const x = this.#pending.shift()!;
        if (this.#episodes.some(([from, last]) => at >= from - 1000 && at <= last + 1000)) continue;
        this.#calmAll = this.#calmAll * (1 - 1 / 1000) + 1;
        this.#calmBare = this.#calmBare * (1 - 1 / 1000) + x;
      }
    }
    const b = this.background();
    this.#cusum = Math.max(0, this.#cusum + bare - (b + Math.max(0.015, 0.5 * b)));
  }

  /** An episode of congestion begins (its first refused request sent at `sentAt`). */
  begin(sentAt: number, now: number): void {
    this.#episodes.push([sentAt, now]);
    if (this.#episodes.length > 8) this.#episodes.shift();
  }

  /** The current episode goes on: a refusal at `now`. */
  extend(now: number): void {
    if (this.#episodes.length > 0) this.#episodes[this.#episodes.length - 1][1] = now;
  }

  /** A rate decision was made: the test starts afresh. */
  reset(): void {
    this.#cusum = 0;
  }

  background(): number {
    return (this.#calmBare + 3) / (this.#calmAll + 100);
  }

  /** Bare 429s run above the background: congestion. */
  congestion(): boolean {
    return this.#cusum >= 3;
  }
}
