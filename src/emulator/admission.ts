// The emulator's admission of a model call, in the service's order: counters and scripts,
// whole-run faults, quotas on arrival (a limit schedule applied), shared-capacity 429s, latency,
// then the scripted and random errors. What passes gets the script that shapes its answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorStats, SecondStats } from './emulator-stats.js';
import type { EmulatorOptions } from './emulator-options.js';
import { faultFor, parseDirectives, type Directives, type Fault } from './faults.js';
import type { GoogleError } from './google-errors.js';
import { BARE_429, createQuota, limitAt, quota429, type QuotaEnforcer } from './quota.js';

type Options = EmulatorOptions & { latencyMs: number; jitterMs: number; errorRate: number; retryInfo: NonNullable<EmulatorOptions['retryInfo']> };

export interface AdmissionContext {
  o: Options;
  stats: EmulatorStats;
  /** When the server started (ms since epoch). */
  t0: number;
  rnd: () => number;
  sendError(res: ServerResponse, e: GoogleError, prompt?: string): void;
  /** --refuse-after reached: stop listening, drop every connection. */
  stopListening(): void;
}

export type Admit = (req: IncomingMessage, res: ServerResponse, prompt: string, model: string, units: number, promptTokens: number) => Promise<{ fault?: Fault; release: () => void } | undefined>;

export function createAdmission(c: AdmissionContext): Admit {
  const { o, stats, t0, rnd, sendError } = c;
  const arrivals = new Map<string, number>(); // scripted prompts only
  const scale = o.quota?.timeScale ?? 1;
  let rpmNow = o.rpm ?? (o.limitSchedule ? limitAt(o.limitSchedule, 0, scale) : undefined);
  let tpmNow = o.tpm ?? (o.tpmSchedule ? limitAt(o.tpmSchedule, 0, scale) : undefined);
  const rpmQuota: QuotaEnforcer | undefined = rpmNow ? createQuota(rpmNow, o.quota) : undefined;
  const tpmQuota: QuotaEnforcer | undefined = tpmNow ? createQuota(tpmNow, o.quota) : undefined;
  let refused = false;
  let dayCount = 0;

  function second(now: number): SecondStats {
    const i = Math.max(0, Math.floor((now - t0) / 1000));
    while (stats.perSecond.length <= i) stats.perSecond.push({ admitted: 0, refused: 0, capacity429: 0 });
    const s = stats.perSecond[i];
    if (rpmNow !== undefined) s.rpm = rpmNow;
    return s;
  }


  function httpFault(status: number, retryDelayS?: number): GoogleError {
    switch (status) {
      case 400: return { code: 400, status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' };
      case 403: return { code: 403, status: 'PERMISSION_DENIED', message: 'The caller does not have permission' };
      case 404: return { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' };
      case 408: return { code: 408, status: 'DEADLINE_EXCEEDED', message: 'Request timed out.' };
      // A script names its delay: it is written as given, whatever the RetryInfo style.
      case 429: return retryDelayS !== undefined ? quota429('minute', retryDelayS * 1000, 'emulated', undefined, 'exact') : BARE_429;
      case 500: return { code: 500, status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' };
      case 502: return { code: 502, status: 'UNAVAILABLE', message: 'Bad gateway.' };
      case 504: return { code: 504, status: 'DEADLINE_EXCEEDED', message: 'The request timed out. Please try again.' };
      default: return { code: status, status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' };
    }
  }


  /**
   * What every model call goes through before its answer, as the service orders it: counters and
   * scripts, whole-run faults, quotas on arrival (`units` requests, `promptTokens` tokens),
   * shared-capacity 429s, latency, then the scripted and random errors. Returns the script that
   * shapes the answer and a release() for the in-flight count, or undefined when the request has
   * been answered already (an error, a reset, a hang).
   */
  return async function admit(req: IncomingMessage, res: ServerResponse, prompt: string, model: string, units: number, promptTokens: number): Promise<{ fault?: Fault; release: () => void } | undefined> {
    stats.requests++;
    o.onRequest?.(prompt);
    const d: Directives | undefined = parseDirectives(prompt);
    let arrival = 0;
    if (d) {
      arrival = (arrivals.get(prompt) ?? 0) + 1;
      arrivals.set(prompt, arrival);
    }
    const now = Date.now();
    if (o.refuseAfter !== undefined && stats.requests >= o.refuseAfter && !refused) {
      refused = true; // this one is answered; from now on nothing listens
      c.stopListening();
    }
    const fault = d ? faultFor(d, arrival) : undefined;
    if (fault?.kind === 'echokey') {
      const key = (req.headers['x-goog-api-key'] as string | undefined) ?? new URL(req.url ?? '/', 'http://x').searchParams.get('key') ?? '';
      sendError(res, { code: 400, status: 'INVALID_ARGUMENT', message: `Bad request with key ${key}: the request could not be parsed.` }, prompt);
      return undefined;
    }
    if (o.locationError || fault?.kind === 'location') {
      sendError(res, { code: 400, status: 'FAILED_PRECONDITION', message: 'User location is not supported for the API use.' }, prompt);
      return undefined;
    }
    if (o.limitZero || fault?.kind === 'limit0') {
      sendError(res, quota429('minute', 37_000, model, 0, o.retryInfo), prompt);
      return undefined;
    }
    const quotaValue = (perMinute: number | undefined) => (o.quotaValue ? perMinute : undefined);
    const sec = second(now);
    const refuse = (e: GoogleError) => {
      stats.quota429++;
      sec.refused++;
      sendError(res, e, prompt);
      return undefined;
    };
    if (o.rpd !== undefined && (dayCount += units) > o.rpd) return refuse(quota429('day', 0, model, quotaValue(o.rpd), o.retryInfo));
    if (rpmQuota) {
      const scheduled = o.limitSchedule ? limitAt(o.limitSchedule, now - t0, scale) : undefined;
      if (scheduled !== undefined && scheduled !== rpmNow) {
        rpmNow = scheduled;
        rpmQuota.setLimit(scheduled, now);
        sec.rpm = scheduled;
      }
      const wait = rpmQuota.take(units, now);
      if (wait > 0) return refuse(quota429('minute', wait, model, quotaValue(rpmNow), o.retryInfo));
    }
    if (tpmQuota) {
      const scheduled = o.tpmSchedule ? limitAt(o.tpmSchedule, now - t0, scale) : undefined;
      if (scheduled !== undefined && scheduled !== tpmNow) {
        tpmNow = scheduled;
        tpmQuota.setLimit(scheduled, now);
      }
      const wait = tpmQuota.take(promptTokens, now);
      if (wait > 0) return refuse(quota429('tokens', wait, model, quotaValue(tpmNow), o.retryInfo));
    }
    stats.admitted += units;
    sec.admitted += units;
    if (o.capacity429Rate && rnd() < o.capacity429Rate) {
      stats.capacity429++;
      sec.capacity429++;
      sendError(res, BARE_429, prompt);
      return undefined;
    }
    let delay = o.latencyMs + (o.jitterMs > 0 ? Math.floor(rnd() * o.jitterMs) : 0) + (d?.slowMs ?? 0);
    if (fault?.kind === 'hang') delay = Infinity;
    if (fault?.kind === 'reset') {
      stats.byStatus.reset = (stats.byStatus.reset ?? 0) + 1;
      req.socket.destroy();
      return undefined;
    }
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    let released = false;
    const release = () => {
      if (!released) stats.inFlight--;
      released = true;
    };
    if (delay === Infinity) {
      stats.byStatus.hang = (stats.byStatus.hang ?? 0) + 1;
      await new Promise<void>((resolve) => res.on('close', resolve));
      release();
      return undefined;
    }
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const answered = (_sent?: void) => {
      release();
      return undefined;
    };
    if (res.destroyed) return answered();
    const randomError = o.errorRate > 0 && rnd() < o.errorRate;
    if (fault?.kind === 'http') return answered(sendError(res, httpFault(fault.status!, fault.retryDelayS), prompt));
    if (fault?.kind === 'quotaDay') return answered(sendError(res, quota429('day', 0, model, 250), prompt));
    if (fault?.kind === 'leaked') return answered(sendError(res, { code: 403, status: 'PERMISSION_DENIED', message: 'Your API key was reported as leaked. Please use another API key.' }, prompt));
    if (fault?.kind === 'disabled') {
      return answered(sendError(res, {
        code: 403, status: 'PERMISSION_DENIED',
        message: 'Generative Language API has not been used in project 123456789 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456789 then retry.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com', consumer: 'projects/123456789' } }],
      }, prompt));
    }
    if (randomError) return answered(sendError(res, httpFault(503), prompt));
    if (fault?.kind === 'malformed') {
      stats.byStatus.malformed = (stats.byStatus.malformed ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end('{"candidates": [{"content": {"parts": [{"text": "trunc');
      return answered();
    }
    return { fault, release };
  };
}
