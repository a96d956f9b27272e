// Scriptable faults (SPEC §7): a prompt carries directives like `[[emu:503x2]]`, so a test can
// make one exact prompt fail a known number of times — exact, not probabilistic — across a
// process boundary (the CLI spawns its own client). Parsing is pure; counting is the server's.
// They apply to generateContent, streamGenerateContent and embedding calls (a call's texts joined).
//
//   [[emu:503x2]]      answer HTTP 503 the first 2 times this prompt arrives, then succeed
//                      (any of 400 403 404 408 429 500 502 503 504; no `xN`: always)
//   [[emu:429x1@2s]]   a 429 carrying RetryInfo retryDelay "2s" (the first time)
//   [[emu:429day]]     a per-day quota 429 (QuotaFailure ...PerDay...), always
//   [[emu:block]]      promptFeedback.blockReason SAFETY, no candidates
//   [[emu:nocandidates]]  200 with an empty candidate list
//   [[emu:hangx1]]     never answer (the first time): the client's timeout must fire
//   [[emu:malformedx1]]   200 with a body that is not JSON
//   [[emu:resetx1]]    destroy the connection without answering
//   [[emu:badjsonx1]]  with JSON output requested, answer text that is not JSON
//   [[emu:schemabadx1]] with a response schema, answer JSON that breaks it
//   [[emu:slow=300]]   add 300 ms latency to this prompt
//   [[emu:maxtokens]]  a thinking answer whose thoughts used the budget: MAX_TOKENS, no text
//   [[emu:cut]]        a non-empty answer cut at the limit (MAX_TOKENS)
//   [[emu:thinking]]   a thought part before the answer, thoughtsTokenCount in usage
//   [[emu:location]]   400 FAILED_PRECONDITION "User location is not supported ..."
//   [[emu:limit0]]     429 with "limit: 0" / quotaValue "0": no quota for the model
//   [[emu:leaked]]     403 "Your API key was reported as leaked ..."
//   [[emu:disabled]]   403 SERVICE_DISABLED: the API is not enabled for the project
//   [[emu:echokey]]    400 whose message repeats the API key it was sent (a proxy that echoes the request)
//
// In a batch job (batch.ts), a request's text may carry its own scripts:
//   [[emu:batchfail]]    that request fails with google.rpc.Status code 3 (INVALID_ARGUMENT), always
//   [[emu:batch13x2]]    canonical code 13 (INTERNAL) on the first 2 jobs that hold this request, then
//                        answered (any code 1-16; 14 UNAVAILABLE, 8 RESOURCE_EXHAUSTED, 4 ...)
//   [[emu:batch503x1]]   an HTTP status, written as its canonical code (503 -> 14, 500 -> 13, 429 -> 8)
//   [[emu:batchexpire]]  the first job holding it ends EXPIRED;  [[emu:batchjobfail]] every one FAILED

export type FaultKind = 'http' | 'quotaDay' | 'block' | 'nocandidates' | 'hang' | 'malformed' | 'reset' | 'badjson' | 'schemabad'
  | 'maxtokens' | 'cut' | 'thinking' | 'location' | 'limit0' | 'leaked' | 'disabled' | 'echokey';

export interface Fault {
  kind: FaultKind;
  /** HTTP status for kind 'http'. */
  status?: number;
  /** How many times (first N arrivals of this prompt); Infinity = always. */
  times: number;
  retryDelayS?: number;
}

export interface Directives {
  faults: Fault[];
  slowMs: number;
}

const RE = /\[\[emu:([^\]]+)\]\]/g;

export function parseDirectives(prompt: string): Directives | undefined {
  if (!prompt.includes('[[emu:')) return undefined;
  const d: Directives = { faults: [], slowMs: 0 };
  for (const m of prompt.matchAll(RE)) {
    for (const part of m[1].split(',')) {
      const p = part.trim();
      let x: RegExpExecArray | null;
      if ((x = /^slow=(\d+)$/.exec(p))) {
        d.slowMs += Number(x[1]);
      } else if ((x = /^(\d{3})(?:x(\d+))?(?:@(\d+(?:\.\d+)?)s)?$/.exec(p))) {
        d.faults.push({ kind: 'http', status: Number(x[1]), times: x[2] ? Number(x[2]) : Infinity, retryDelayS: x[3] ? Number(x[3]) : undefined });
      } else if (p === '429day') {
        d.faults.push({ kind: 'quotaDay', times: Infinity });
      } else if ((x = /^(block|nocandidates|hang|malformed|reset|badjson|schemabad|maxtokens|cut|thinking|location|limit0|leaked|disabled|echokey)(?:x(\d+))?$/.exec(p))) {
        d.faults.push({ kind: x[1] as FaultKind, times: x[2] ? Number(x[2]) : Infinity });
      }
    }
  }
  return d;
}

/** The fault to play on the `arrival`-th (1-based) arrival of a prompt, if any. */
export function faultFor(d: Directives, arrival: number): Fault | undefined {
  let used = 0;
  for (const f of d.faults) {
    if (f.times === Infinity) return f;
    if (arrival <= used + f.times) return f;
    used += f.times;
  }
  return undefined;
}

/** A batch request's scripted per-request error: a canonical code on its first `times` jobs. */
export interface BatchFault {
  /** google.rpc.Code (1-16). */
  code: number;
  /** The HTTP status the script named instead, when it named one ([[emu:batch503x1]]). */
  http?: number;
  times: number;
}

/** The per-request fault a batch request's text scripts, if any. */
export function batchFaultOf(text: string): BatchFault | undefined {
  if (!text.includes('[[emu:batch')) return undefined;
  if (text.includes('[[emu:batchfail]]')) return { code: 3, times: Infinity };
  const m = /\[\[emu:batch(\d{1,3})(?:x(\d+))?\]\]/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const times = m[2] ? Number(m[2]) : Infinity;
  if (m[1].length === 3) return { code: 0, http: n, times };
  return n >= 1 && n <= 16 ? { code: n, times } : undefined;
}
