// startEmulator(): a local server speaking the Gemini REST API for generateContent and
// countTokens (SPEC §7) — request and response shapes as the real service, errors as
// {"error":{code,message,status,details}} with RetryInfo / QuotaFailure / ErrorInfo details.
// Deterministic answers; optional latency and jitter, rpm/tpm/rpd quotas enforced the ways real
// servers do (quota.ts: bucket, fixed or sliding windows) with the real 429 bodies, shared-capacity
// 429s without details, whole-run faults (limit 0, location, a refused connection), thinking
// answers, a seeded random error rate, and per-prompt scripted faults (faults.ts). It keeps
// counters tests assert on; GET /emulator/stats serves them as JSON.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { faultFor, parseDirectives, type Directives } from './faults.js';
import { breaking, valueFor } from './schema-answer.js';
import { createBatchService, type BatchService } from './batch.js';
import { BARE_429, createQuota, quota429, type GoogleError, type QuotaShape } from './quota.js';

export interface EmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default 0 */
  latencyMs?: number;
  /** Uniform extra latency in [0, jitterMs). @default 0 */
  jitterMs?: number;
  /** Requests per minute; excess: 429 (enforced as `quota` says). */
  rpm?: number;
  /** Input tokens per minute; excess: 429. */
  tpm?: number;
  /** Requests per day; excess: a per-day 429. */
  rpd?: number;
  /** How rpm/tpm are enforced: bucket (default, 1 s of burst), fixed or sliding windows. */
  quota?: QuotaShape;
  /** Quota 429s name their limit (QuotaFailure quotaValue, "limit: N" in the message). @default false */
  quotaValue?: boolean;
  /** Fraction of requests answered a 429 without details (shared capacity), seeded. @default 0 */
  capacity429Rate?: number;
  /** The project has no quota for the model: every request is a 429 with "limit: 0". */
  limitZero?: boolean;
  /** Every request: 400 FAILED_PRECONDITION "User location is not supported for the API use." */
  locationError?: boolean;
  /** Answers carry a thought part and thoughtsTokenCount, like a thinking model. @default false */
  thinking?: boolean;
  /** After this many generateContent requests the server stops listening: connections are refused. */
  refuseAfter?: number;
  /** Fraction of requests answered 503, from a seeded generator. @default 0 */
  errorRate?: number;
  /** @default 1 */
  seed?: number;
  /** Keep per-prompt success counts (tests: "never answered twice"). @default false */
  trackPrompts?: boolean;
  /** Keep a log of every request (arrival ms, status). @default false */
  log?: boolean;
  /** Called for every generateContent request on arrival (tests: "never sent again"). */
  onRequest?: (prompt: string) => void;
  /** Called each time a successful answer is sent. */
  onAnswer?: (prompt: string) => void;
  /** The Batch endpoints' clock: a batch's minutes-to-hours divided by this. @default 1 */
  batchTimeScale?: number;
  /** The first this many batch creates are answered 429 (the Batch API's limits). */
  batchRefuseCreates?: number;
  /** Told of each Files/Batch call (tests). */
  onBatchEvent?: (kind: 'upload' | 'create' | 'get' | 'list' | 'download' | 'cancel') => void;
}

export interface EmulatorStats {
  requests: number;
  ok: number;
  byStatus: Record<string, number>;
  http429: number;
  inFlight: number;
  maxInFlight: number;
  promptTokens: number;
  /** prompt -> successful answers (with trackPrompts). */
  successes: Map<string, number>;
  /** arrival time (ms since start) and status, per request (with log). */
  log: Array<{ t: number; status: number; prompt: string }>;
}

export interface Emulator {
  url: string;
  port: number;
  stats: EmulatorStats;
  /** The Files and Batch endpoints' counters. */
  batch: BatchService['stats'];
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32): the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rough tokens for text: ~4 characters a token, at least 1. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The deterministic answer to a prompt. */
export function answerFor(prompt: string): string {
  const m = /two times (-?\d+)/i.exec(prompt);
  if (m) return `Two times ${m[1]} is ${2 * Number(m[1])}.`;
  const short = prompt.length > 80 ? prompt.slice(0, 77) + '...' : prompt;
  return `Emulated answer #${hash(prompt).toString(16)} to: ${short}`;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const o = { latencyMs: 0, jitterMs: 0, errorRate: 0, seed: 1, ...options };
  const rnd = seededRandom(o.seed);
  const t0 = Date.now();
  const stats: EmulatorStats = {
    requests: 0, ok: 0, byStatus: {}, http429: 0, inFlight: 0, maxInFlight: 0, promptTokens: 0,
    successes: new Map(), log: [],
  };
  const arrivals = new Map<string, number>(); // scripted prompts only
  const rpmQuota = o.rpm ? createQuota(o.rpm, o.quota) : undefined;
  const tpmQuota = o.tpm ? createQuota(o.tpm, o.quota) : undefined;
  let refused = false;
  let dayCount = 0;
  const sockets = new Set<Socket>();

  function send(res: ServerResponse, status: number, body: unknown, prompt: string): void {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (status === 429) stats.http429++;
    if (o.log) stats.log.push({ t: Date.now() - t0, status, prompt });
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sendError(res: ServerResponse, e: GoogleError, prompt = ''): void {
    send(res, e.code, { error: e }, prompt);
  }

  function httpFault(status: number, retryDelayS?: number): GoogleError {
    switch (status) {
      case 400: return { code: 400, status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' };
      case 403: return { code: 403, status: 'PERMISSION_DENIED', message: 'The caller does not have permission' };
      case 404: return { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' };
      case 408: return { code: 408, status: 'DEADLINE_EXCEEDED', message: 'Request timed out.' };
      case 429: return retryDelayS !== undefined ? quota429('minute', retryDelayS * 1000, 'emulated') : BARE_429;
      case 500: return { code: 500, status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' };
      case 502: return { code: 502, status: 'UNAVAILABLE', message: 'Bad gateway.' };
      case 504: return { code: 504, status: 'DEADLINE_EXCEEDED', message: 'The request timed out. Please try again.' };
      default: return { code: status, status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' };
    }
  }

  // The Files and Batch endpoints (batch.ts); a batch's requests are answered as generateContent
  // would answer them (no latency, quota or scripted faults but its own [[emu:batchfail]]).
  const batch = createBatchService({ timeScale: o.batchTimeScale, onEvent: o.onBatchEvent, refuseCreates: o.batchRefuseCreates }, (model, request) => {
    const r = request as { contents?: Array<{ parts?: Array<{ text?: string }> }>; systemInstruction?: { parts?: Array<{ text?: string }> }; generationConfig?: { responseMimeType?: string; responseJsonSchema?: object; responseSchema?: object } } | undefined;
    const prompt = (r?.contents ?? []).flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('');
    if (prompt.includes('[[emu:batchfail]]')) return { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument. (emulated per-request failure)' } };
    const system = (r?.systemInstruction?.parts ?? []).map((p) => p.text ?? '').join('');
    const promptTokens = countTokens(prompt) + (system ? countTokens(system) : 0);
    let text = answerFor(prompt);
    if (r?.generationConfig?.responseMimeType === 'application/json') {
      const schema = r.generationConfig.responseJsonSchema ?? r.generationConfig.responseSchema;
      text = JSON.stringify(schema ? valueFor(schema, text) : { answer: text });
    }
    const out = countTokens(text);
    return {
      response: {
        candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: promptTokens, candidatesTokenCount: out, totalTokenCount: promptTokens + out },
        modelVersion: model,
      },
    };
  });
  let origin = '';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/emulator/stats') {
      const body = { ...stats, successes: Object.fromEntries(stats.successes), log: undefined };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    // The key, as the real service checks it: for the Files and Batch endpoints too.
    const key = (req.headers['x-goog-api-key'] as string | undefined) ?? url.searchParams.get('key') ?? '';
    const keyError: GoogleError | undefined = !key
      ? { code: 403, status: 'PERMISSION_DENIED', message: 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.' }
      : key.startsWith('invalid') ? {
        code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } }],
      } : undefined;
    const upload = url.pathname.startsWith('/upload/') && url.searchParams.has('upload_id'); // the upload URL carries its own authority
    if (keyError && !upload && /^\/(upload\/|download\/)?v1beta\/(files|batches|models\/[^/:]+:batchGenerateContent)/.test(url.pathname)) return sendError(res, keyError);
    if (batch.handle(req, res, url, Buffer.concat(chunks), origin)) return;
    const m = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|countTokens)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) {
      return sendError(res, { code: 404, status: 'NOT_FOUND', message: `Method not found: ${req.method} ${url.pathname}` });
    }
    const model = decodeURIComponent(m[2]);
    if (keyError) return sendError(res, keyError);
    if (!/^gemini-/.test(model)) {
      return sendError(res, { code: 404, status: 'NOT_FOUND', message: `models/${model} is not found for API version ${m[1]}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.` });
    }
    let body: { contents?: Array<{ parts?: Array<{ text?: string }> }>; systemInstruction?: { parts?: Array<{ text?: string }> }; generationConfig?: { responseMimeType?: string; responseJsonSchema?: object; responseSchema?: object }; generateContentRequest?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendError(res, { code: 400, status: 'INVALID_ARGUMENT', message: 'Invalid JSON payload received.' });
    }
    const prompt = (body.contents ?? []).flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('');
    // Like the real service, the input tokens include the system instruction's.
    const system = (body.systemInstruction?.parts ?? []).map((p) => p.text ?? '').join('');
    const promptTokens = countTokens(prompt) + (system ? countTokens(system) : 0);
    if (m[3] === 'countTokens') {
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify({ totalTokens: promptTokens }));
      return;
    }

    stats.requests++;
    o.onRequest?.(prompt);
    const d: Directives | undefined = parseDirectives(prompt);
    let arrival = 0;
    if (d) {
      arrival = (arrivals.get(prompt) ?? 0) + 1;
      arrivals.set(prompt, arrival);
    }
    // Quotas are checked on arrival, like the real service, before any work.
    const now = Date.now();
    if (o.refuseAfter !== undefined && stats.requests >= o.refuseAfter && !refused) {
      refused = true; // this one is answered; from now on nothing listens
      server.close();
      setImmediate(() => {
        for (const s of sockets) s.destroy();
      });
    }
    const fault = d ? faultFor(d, arrival) : undefined;
    if (o.locationError || fault?.kind === 'location') {
      return sendError(res, { code: 400, status: 'FAILED_PRECONDITION', message: 'User location is not supported for the API use.' }, prompt);
    }
    if (o.limitZero || fault?.kind === 'limit0') return sendError(res, quota429('minute', 37_000, model, 0), prompt);
    const quotaValue = (perMinute: number | undefined) => (o.quotaValue ? perMinute : undefined);
    if (o.rpd !== undefined && ++dayCount > o.rpd) return sendError(res, quota429('day', 0, model, quotaValue(o.rpd)), prompt);
    if (rpmQuota) {
      const wait = rpmQuota.take(1, now);
      if (wait > 0) return sendError(res, quota429('minute', wait, model, quotaValue(o.rpm)), prompt);
    }
    if (tpmQuota) {
      const wait = tpmQuota.take(promptTokens, now);
      if (wait > 0) return sendError(res, quota429('tokens', wait, model, quotaValue(o.tpm)), prompt);
    }
    if (o.capacity429Rate && rnd() < o.capacity429Rate) return sendError(res, BARE_429, prompt);
    let delay = o.latencyMs + (o.jitterMs > 0 ? Math.floor(rnd() * o.jitterMs) : 0) + (d?.slowMs ?? 0);
    if (fault?.kind === 'hang') delay = Infinity;
    if (fault?.kind === 'reset') {
      stats.byStatus.reset = (stats.byStatus.reset ?? 0) + 1;
      req.socket.destroy();
      return;
    }
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      if (delay === Infinity) {
        stats.byStatus.hang = (stats.byStatus.hang ?? 0) + 1;
        await new Promise<void>((resolve) => res.on('close', resolve));
        return;
      }
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (res.destroyed) return;
      const randomError = o.errorRate > 0 && rnd() < o.errorRate;
      if (fault?.kind === 'http') return sendError(res, httpFault(fault.status!, fault.retryDelayS), prompt);
      if (fault?.kind === 'quotaDay') return sendError(res, quota429('day', 0, model, 250), prompt);
      if (fault?.kind === 'leaked') return sendError(res, { code: 403, status: 'PERMISSION_DENIED', message: 'Your API key was reported as leaked. Please use another API key.' }, prompt);
      if (fault?.kind === 'disabled') {
        return sendError(res, {
          code: 403, status: 'PERMISSION_DENIED',
          message: 'Generative Language API has not been used in project 123456789 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456789 then retry.',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com', consumer: 'projects/123456789' } }],
        }, prompt);
      }
      if (randomError) return sendError(res, httpFault(503), prompt);
      if (fault?.kind === 'malformed') {
        stats.byStatus.malformed = (stats.byStatus.malformed ?? 0) + 1;
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        res.end('{"candidates": [{"content": {"parts": [{"text": "trunc');
        return;
      }
      const usage = (out: number, thoughts = 0) => ({
        promptTokenCount: promptTokens, candidatesTokenCount: out, totalTokenCount: promptTokens + out + thoughts,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
        ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
      });
      if (fault?.kind === 'block') {
        return send(res, 200, { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] }, usageMetadata: usage(0), modelVersion: model }, prompt);
      }
      if (fault?.kind === 'nocandidates') {
        return send(res, 200, { candidates: [], usageMetadata: usage(0), modelVersion: model }, prompt);
      }
      stats.promptTokens += promptTokens;
      let text = answerFor(prompt);
      if (body.generationConfig?.responseMimeType === 'application/json') {
        const schema = body.generationConfig?.responseJsonSchema ?? body.generationConfig?.responseSchema;
        text = fault?.kind === 'badjson' ? `not json: ${text}`
          : fault?.kind === 'schemabad' ? JSON.stringify(breaking(schema))
            : JSON.stringify(schema ? valueFor(schema, text) : { answer: text });
      }
      // A thinking model: a thought summary part first (never the answer), thoughtsTokenCount.
      const thought = o.thinking || fault?.kind === 'maxtokens' || fault?.kind === 'thinking'
        ? `**Thinking about it**\nThe user asks: ${prompt.slice(0, 60)}. Let me work it out step by step.` : undefined;
      const thoughts = thought ? 4 * countTokens(thought) : 0;
      let finishReason = 'STOP';
      if (fault?.kind === 'maxtokens') {
        // The thoughts used the whole output budget: no answer text at all.
        text = '';
        finishReason = 'MAX_TOKENS';
      } else if (fault?.kind === 'cut') {
        text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
        finishReason = 'MAX_TOKENS';
      }
      stats.ok++;
      if (o.trackPrompts) stats.successes.set(prompt, (stats.successes.get(prompt) ?? 0) + 1);
      o.onAnswer?.(prompt);
      const out = text ? countTokens(text) : 0;
      const parts = [...(thought ? [{ text: thought, thought: true }] : []), ...(text ? [{ text }] : [])];
      send(res, 200, {
        candidates: [{ content: { parts, role: 'model' }, finishReason, index: 0 }],
        usageMetadata: usage(out, thoughts),
        modelVersion: model,
        responseId: hash(prompt + ':' + stats.requests).toString(36),
      }, prompt);
    } finally {
      stats.inFlight--;
    }
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendError(res, { code: 500, status: 'INTERNAL', message: `emulator error: ${err.message}` });
      else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    batch: batch.stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
