// TokenEstimator: input tokens for a prompt before it is sent (the --tpm budget, --dry-run).
// Starts at ~4 characters a token and calibrates itself from the promptTokenCount the API
// reports (observe()), so the estimate converges on the real tokenizer's ratio for this job's
// text (CJK text, code and numbers are far from 4 characters a token). The fixed per-request
// tokens (the system instruction's, estimated once) are added to each estimate and subtracted
// from each reported count before it calibrates the ratio, so the ratio is the prompt's alone.

/** Tokens every request carries besides the prompt: the system instruction, at ~4 characters a token. */
export function fixedTokensOf(system: string | undefined): number {
  return system ? Math.ceil(system.length / 4) : 0;
}

export class TokenEstimator {
  #chars = 0;
  #tokens = 0;
  #fixed: number;

  /** @param fixedTokens tokens every request carries besides the prompt (system instruction). */
  constructor(fixedTokens = 0) {
    this.#fixed = fixedTokens;
  }

  /** Enough real counts were observed (50 tokens) to trust the ratio. */
  get calibrated(): boolean {
    return this.#tokens >= 50 && this.#chars > 0;
  }

  /** Characters per token seen so far (4 until calibrated). */
  get charsPerToken(): number {
    return this.calibrated ? this.#chars / this.#tokens : 4;
  }

  estimate(prompt: string): number {
    return Math.ceil(prompt.length / this.charsPerToken) + this.#fixed + 1;
  }

  /** Feeds one real count (the API's promptTokenCount) for a prompt. */
  observe(prompt: string, promptTokens: number): void {
    if (!(promptTokens > 0)) return;
    this.#chars += prompt.length;
    this.#tokens += Math.max(1, promptTokens - this.#fixed);
  }
}
