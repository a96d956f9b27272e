// startEmulator(): a local server speaking the Gemini REST API (SPEC §7) — generateContent,
// streamGenerateContent, countTokens, models.get/list, embedContent/batchEmbedContents (embed.ts),
// and the Files, Batch and cachedContents endpoints (files.ts, batch.ts, caches.ts); inlineData and
// fileData parts (media.ts) — with the service's request and response shapes (answer.ts), its errors
// ({"error":{code,message,status,details}}, google-errors.ts; an unknown URL is its HTML 404) and
// its key rule. Deterministic answers; optional latency and jitter; rpm/tpm/rpd quotas enforced
// the ways real servers do (quota.ts: bucket, fixed or sliding windows, a limit schedule) with the
// real 429 bodies, shared-capacity 429s without details, whole-run faults (limit 0, location, a
// refused connection), a seeded random error rate, and per-prompt scripted faults (faults.ts). It
// keeps counters tests and benchmarks read (admitted and refused per second among them); GET
// /emulator/stats serves them as JSON.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answerRequest, countTokens, hash, promptTokensOf, usageOf } from './answer.js';
import { createBatchService, seededRandom, type BatchKind } from './batch.js';
import { createCachesService } from './caches.js';
import { embedOne, embedText, MAX_BATCH_EMBED, type EmbedRequest } from './embed.js';
import { validateEmulatorOptions, type EmulatorOptions } from './emulator-options.js';
import { faultFor, parseDirectives, type Directives, type Fault } from './faults.js';
import { createFilesService } from './files.js';
import { API_KEY_INVALID, html404, invalidArgument, invalidJson, modelNotFound, UNREGISTERED_CALLER, type GoogleError } from './google-errors.js';
import { createMediaService } from './media.js';
import { CATALOGUE, modelInfo, modelResource, type ModelInfo } from './models.js';
import { pageOf } from './paging.js';
import { BARE_429, createQuota, limitAt, quota429, type QuotaEnforcer } from './quota.js';
import { normalize, promptOf, type GenerateRequest } from './request.js';
import { chunksOf, writeStream } from './stream.js';

export { answerFor, countTokens } from './answer.js';
export { seededRandom } from './batch.js';
export type { EmulatorOptions, BatchEventKind } from './emulator-options.js';

/** What the server admitted and refused in one second since it started (utilisation on its side). */
export interface SecondStats {
  /** Requests the quota admitted (answered, or refused afterwards by shared capacity). */
  admitted: number;
  /** Quota 429s (rpm/tpm/rpd). */
  refused: number;
  /** Shared-capacity 429s without details, on admitted requests. */
  capacity429: number;
  /** The rpm limit in force at the end of that second, when there is one. */
  rpm?: number;
}

export interface EmulatorStats {
  requests: number;
  ok: number;
  byStatus: Record<string, number>;
  http429: number;
  inFlight: number;
  maxInFlight: number;
  promptTokens: number;
  /** Requests the quotas admitted, in all (a batchEmbedContents call counts its texts). */
  admitted: number;
  /** Quota 429s, in all (shared-capacity ones not counted). */
  quota429: number;
  /** Shared-capacity 429s, in all. */
  capacity429: number;
  /** streamGenerateContent requests among `requests`. */
  streams: number;
  /** Per second since the start: admitted and refused (index = second). */
  perSecond: SecondStats[];
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
  batch: { readonly uploads: number; readonly downloads: number; readonly filesDeleted: number; readonly batchesCreated: number; readonly batchesDeleted: number; readonly createsRefused: number };
  /** The cachedContents endpoints' counters, and implicit cache hits. */
  caches: { readonly created: number; readonly deleted: number; readonly implicitHits: number };
  close(): Promise<void>;
}

type Route =
  | { kind: 'generate' | 'stream'; version: string; model: string }
  | { kind: 'countTokens'; version: string; model: string }
  | { kind: 'embed' | 'batchEmbed'; version: string; model: string }
  | { kind: 'model'; version: string; model: string }
  | { kind: 'models' | 'files' | 'batches' | 'caches'; version: string };

/** The method a request names, or undefined (the front end's 404 page). */
function routeOf(method: string, path: string): Route | undefined {
  let m = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (m && method === 'POST') {
    const model = decodeURIComponent(m[2]);
    if (m[3] === 'generateContent') return { kind: 'generate', version: m[1], model };
    if (m[3] === 'streamGenerateContent') return { kind: 'stream', version: m[1], model };
    if (m[3] === 'countTokens') return { kind: 'countTokens', version: m[1], model };
    if (m[3] === 'embedContent') return { kind: 'embed', version: m[1], model };
    if (m[3] === 'batchEmbedContents') return { kind: 'batchEmbed', version: m[1], model };
    if ((m[3] === 'batchGenerateContent' || m[3] === 'asyncBatchEmbedContent') && m[1] !== 'v1') return { kind: 'batches', version: m[1] };
    return undefined;
  }
  if (method === 'GET' && (m = /^\/(v1beta|v1|v1alpha)\/models$/.exec(path))) return { kind: 'models', version: m[1] };
  if (method === 'GET' && (m = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+)$/.exec(path))) return { kind: 'model', version: m[1], model: decodeURIComponent(m[2]) };
  if ((m = /^\/(?:upload\/|download\/)?(v1beta|v1alpha)\/files(?:\/[^/:]+(?::download)?)?$/.exec(path))) {
    const ok = path.startsWith('/upload/') ? method === 'POST' && /\/files$/.test(path)
      : path.endsWith(':download') ? method === 'GET'
        : /\/files$/.test(path) ? method === 'GET' : method === 'GET' || method === 'DELETE';
    return ok ? { kind: 'files', version: m[1] } : undefined;
  }
  if ((m = /^\/(v1beta|v1alpha)\/cachedContents(\/[^/:]+)?$/.exec(path))) {
    const ok = m[2] ? ['GET', 'PATCH', 'DELETE'].includes(method) : method === 'GET' || method === 'POST';
    return ok ? { kind: 'caches', version: m[1] } : undefined;
  }
  if ((m = /^\/(v1beta|v1alpha)\/batches(?:\/[^/:]+(:cancel)?)?$/.exec(path))) {
    const ok = m[2] ? method === 'POST' : /\/batches$/.test(path) ? method === 'GET' : method === 'GET' || method === 'DELETE';
    return ok ? { kind: 'batches', version: m[1] } : undefined;
  }
  return undefined;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateEmulatorOptions(options);
  const o = { latencyMs: 0, jitterMs: 0, errorRate: 0, seed: 1, retryInfo: 'whole' as const, ...options };
  const rnd = seededRandom(o.seed);
  const t0 = Date.now();
  const stats: EmulatorStats = {
    requests: 0, ok: 0, byStatus: {}, http429: 0, inFlight: 0, maxInFlight: 0, promptTokens: 0,
    admitted: 0, quota429: 0, capacity429: 0, streams: 0, perSecond: [], successes: new Map(), log: [],
  };
  const arrivals = new Map<string, number>(); // scripted prompts only
  const scale = o.quota?.timeScale ?? 1;
  let rpmNow = o.rpm ?? (o.limitSchedule ? limitAt(o.limitSchedule, 0, scale) : undefined);
  let tpmNow = o.tpm ?? (o.tpmSchedule ? limitAt(o.tpmSchedule, 0, scale) : undefined);
  const rpmQuota: QuotaEnforcer | undefined = rpmNow ? createQuota(rpmNow, o.quota) : undefined;
  const tpmQuota: QuotaEnforcer | undefined = tpmNow ? createQuota(tpmNow, o.quota) : undefined;
  let refused = false;
  let dayCount = 0;
  const sockets = new Set<Socket>();

  function second(now: number): SecondStats {
    const i = Math.max(0, Math.floor((now - t0) / 1000));
    while (stats.perSecond.length <= i) stats.perSecond.push({ admitted: 0, refused: 0, capacity429: 0 });
    const s = stats.perSecond[i];
    if (rpmNow !== undefined) s.rpm = rpmNow;
    return s;
  }

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
      // A script names its delay: it is written as given, whatever the RetryInfo style.
      case 429: return retryDelayS !== undefined ? quota429('minute', retryDelayS * 1000, 'emulated', undefined, 'exact') : BARE_429;
      case 500: return { code: 500, status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' };
      case 502: return { code: 502, status: 'UNAVAILABLE', message: 'Bad gateway.' };
      case 504: return { code: 504, status: 'DEADLINE_EXCEEDED', message: 'The request timed out. Please try again.' };
      default: return { code: status, status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' };
    }
  }

  /** The key rule: none at all is the 403; with `apiKey` only that key; else any but `invalid…`. */
  function keyError(key: string): GoogleError | undefined {
    if (!key) return UNREGISTERED_CALLER;
    if (o.apiKey !== undefined ? key !== o.apiKey : key.startsWith('invalid')) return API_KEY_INVALID;
    return undefined;
  }

  /** A generate model by id, or the 404 the service gives it. */
  function generateModel(model: string, version: string, method: string) {
    const info = modelInfo(model);
    return info && !info.embeddingDims ? info : modelNotFound(model, version, method);
  }

  const files = createFilesService({ timeScale: o.filesTimeScale ?? o.batchTimeScale, onEvent: o.onBatchEvent });
  const media = createMediaService(files, { fetchUrls: o.fetchFileUris });
  const caches = createCachesService({ timeScale: o.cacheTimeScale ?? o.batchTimeScale, implicit: o.implicitCache }, (id, version) => {
    const m = modelInfo(id);
    return m && !m.embeddingDims && m.methods.includes('createCachedContent') ? m : modelNotFound(id, version, 'createCachedContent');
  }, media.reader);
  /** An embedding model by id, or the 404 the service gives it. */
  function embedModel(model: string, version: string, method: string): ModelInfo | GoogleError {
    const info = modelInfo(model);
    return info?.embeddingDims ? info : modelNotFound(model, version, method);
  }
  // A batch's requests are answered as the online methods would answer them (no latency, quota or
  // online scripts: the batch has its own, batch.ts).
  const batch = createBatchService({
    timeScale: o.batchTimeScale, onEvent: o.onBatchEvent, refuseCreates: o.batchRefuseCreates, refuseError: o.batchRefuseError,
    resultLagMs: o.batchResultLagMs, resultLagMode: o.batchResultLagMode, shuffle: o.batchShuffle, seed: o.seed, errorShape: o.batchErrorShape,
    prefetch: (request) => media.prefetch(request as GenerateRequest).then(() => undefined),
  }, files, (kind: BatchKind, model, request) => {
    const info = modelInfo(model)!;
    if (kind === 'embed') {
      const e = embedOne(info, request as EmbedRequest);
      return 'error' in e ? e : { response: e };
    }
    const cached = caches.apply(request as GenerateRequest, model);
    if ('code' in cached) return { error: cached };
    const cachedTokens = cached.cachedTokens || caches.implicitHit(cached.request, info);
    const a = answerRequest(model, info, cached.request, { thinking: o.thinking, media: media.reader, cachedTokens });
    return 'error' in a ? a : { response: a.response };
  }, (kind, model, version) => {
    const m = kind === 'embed' ? embedModel(model, version, 'asyncBatchEmbedContent') : generateModel(model, version, 'batchGenerateContent');
    return 'code' in m ? m : undefined;
  });
  let origin = '';

  /**
   * What every model call goes through before its answer, as the service orders it: counters and
   * scripts, whole-run faults, quotas on arrival (`units` requests, `promptTokens` tokens),
   * shared-capacity 429s, latency, then the scripted and random errors. Returns the script that
   * shapes the answer and a release() for the in-flight count, or undefined when the request has
   * been answered already (an error, a reset, a hang).
   */
  async function admit(req: IncomingMessage, res: ServerResponse, prompt: string, model: string, units: number, promptTokens: number): Promise<{ fault?: Fault; release: () => void } | undefined> {
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
      server.close();
      setImmediate(() => {
        for (const s of sockets) s.destroy();
      });
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
  }

  function succeeded(prompt: string, promptTokens: number): void {
    stats.promptTokens += promptTokens;
    stats.ok++;
    if (o.trackPrompts) stats.successes.set(prompt, (stats.successes.get(prompt) ?? 0) + 1);
    o.onAnswer?.(prompt);
  }

  async function generate(req: IncomingMessage, res: ServerResponse, url: URL, route: { kind: 'generate' | 'stream'; version: string; model: string }, raw: Buffer): Promise<void> {
    const info = generateModel(route.model, route.version, route.kind === 'stream' ? 'streamGenerateContent' : 'generateContent');
    if ('code' in info) return sendError(res, info);
    let body: GenerateRequest;
    try {
      body = normalize(JSON.parse(raw.toString('utf8')));
    } catch (err) {
      return sendError(res, invalidJson((err as Error).message));
    }
    const model = route.model;
    const prompt = promptOf(body);
    // A named cache goes in front of the request; its URLs are fetched before anything is counted.
    const cached = caches.apply(body, model);
    if ('code' in cached) return sendError(res, cached);
    const fetchFailed = await media.prefetch(cached.request);
    if (fetchFailed) return sendError(res, fetchFailed);
    const tokens = promptTokensOf(cached.request, media.reader);
    const promptTokens = typeof tokens === 'number' ? tokens : countTokens(prompt);
    if (route.kind === 'stream') stats.streams++;
    const gate = await admit(req, res, prompt, model, 1, promptTokens);
    if (!gate) return;
    const { fault, release } = gate;
    try {
      if (fault?.kind === 'block') {
        return send(res, 200, { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] }, usageMetadata: usageOf(promptTokens, 0), modelVersion: model }, prompt);
      }
      if (fault?.kind === 'nocandidates') {
        return send(res, 200, { candidates: [], usageMetadata: usageOf(promptTokens, 0), modelVersion: model }, prompt);
      }
      const shaping = fault && ['badjson', 'schemabad', 'maxtokens', 'cut', 'thinking'].includes(fault.kind) ? fault.kind as 'badjson' : undefined;
      const cachedTokens = cached.cachedTokens || caches.implicitHit(cached.request, info);
      const a = answerRequest(model, info, cached.request, { thinking: o.thinking, fault: shaping, media: media.reader, cachedTokens, responseId: hash(prompt + ':' + stats.requests).toString(36) });
      if ('error' in a) return sendError(res, a.error, prompt);
      succeeded(prompt, a.promptTokens);
      if (route.kind === 'stream') {
        stats.byStatus[200] = (stats.byStatus[200] ?? 0) + 1;
        if (o.log) stats.log.push({ t: Date.now() - t0, status: 200, prompt });
        return writeStream(res, chunksOf(a.response), url.searchParams.get('alt') === 'sse');
      }
      send(res, 200, a.response, prompt);
    } finally {
      release();
    }
  }

  /** embedContent and batchEmbedContents: one call, one admission for as many requests as it holds. */
  async function embed(req: IncomingMessage, res: ServerResponse, route: { kind: 'embed' | 'batchEmbed'; version: string; model: string }, raw: Buffer): Promise<void> {
    const batchCall = route.kind === 'batchEmbed';
    const info = embedModel(route.model, route.version, batchCall ? 'batchEmbedContents' : 'embedContent');
    if ('code' in info) return sendError(res, info);
    let body: EmbedRequest & { requests?: EmbedRequest[] };
    try {
      body = normalize(JSON.parse(raw.toString('utf8') || '{}'));
    } catch (err) {
      return sendError(res, invalidJson((err as Error).message));
    }
    const requests = batchCall ? body.requests : [body];
    if (!Array.isArray(requests) || requests.length === 0) return sendError(res, invalidArgument('* BatchEmbedContentsRequest.requests: requests is not specified\n'));
    if (requests.length > MAX_BATCH_EMBED) return sendError(res, invalidArgument(`* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH_EMBED} requests can be in one batch\n`));
    const wrong = requests.findIndex((r) => r.model !== undefined && r.model.replace(/^models\//, '') !== route.model);
    if (wrong >= 0) return sendError(res, invalidArgument(`* BatchEmbedContentsRequest.requests[${wrong}].model: the model of every request must be the batch's model, models/${route.model}\n`));
    const prompt = requests.map(embedText).join('\n');
    const promptTokens = requests.reduce((n, r) => n + countTokens(embedText(r)), 0);
    // Each text is a request against the quota (a call of 100 texts counts 100).
    const gate = await admit(req, res, prompt, route.model, requests.length, promptTokens);
    if (!gate) return;
    try {
      const out: unknown[] = [];
      for (let i = 0; i < requests.length; i++) {
        const e = embedOne(info, requests[i], batchCall ? `BatchEmbedContentsRequest.requests[${i}].` : '');
        if ('error' in e) return sendError(res, e.error, prompt);
        out.push(e.embedding);
      }
      succeeded(prompt, promptTokens);
      send(res, 200, batchCall ? { embeddings: out } : { embedding: out[0] }, prompt);
    } finally {
      gate.release();
    }
  }

  function countTokensOf(res: ServerResponse, route: { version: string; model: string }, raw: Buffer): void {
    // Embedding models count tokens too.
    if (!modelInfo(route.model)) return sendError(res, modelNotFound(route.model, route.version, 'countTokens'));
    let body: GenerateRequest & { generateContentRequest?: GenerateRequest };
    try {
      body = normalize(JSON.parse(raw.toString('utf8') || '{}'));
    } catch (err) {
      return sendError(res, invalidJson((err as Error).message));
    }
    const cached = caches.apply(body.generateContentRequest ?? body, route.model);
    if ('code' in cached) return sendError(res, cached);
    const tokens = promptTokensOf(cached.request, media.reader);
    if (typeof tokens !== 'number') return sendError(res, tokens);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({
      totalTokens: tokens, ...(cached.cachedTokens ? { cachedContentTokenCount: cached.cachedTokens } : {}),
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: tokens }],
    }));
  }

  function models(res: ServerResponse, url: URL, route: Route): void {
    if (route.kind === 'model') {
      const info = modelInfo(route.model);
      if (!info) return sendError(res, { code: 404, status: 'NOT_FOUND', message: `models/${route.model} is not found for API version ${route.version}, or is not supported for get. Call ListModels to see the list of available models and their supported methods.` });
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(modelResource(info)));
      return;
    }
    const page = pageOf(CATALOGUE, url.searchParams, { size: 50, max: 1000 }, (m) => CATALOGUE.indexOf(m));
    if ('error' in page) return sendError(res, page.error);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ models: page.items.map(modelResource), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) }));
  }

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
    const raw = Buffer.concat(chunks);
    const route = routeOf(req.method ?? 'GET', url.pathname);
    if (!route) {
      // No such method: the front end's HTML page, before any key check.
      res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
      res.end(html404(url.pathname));
      return;
    }
    // The key, as the real service checks it, on every method (the upload URL carries its own authority).
    const upload = url.pathname.startsWith('/upload/') && url.searchParams.has('upload_id');
    const key = (req.headers['x-goog-api-key'] as string | undefined) ?? url.searchParams.get('key') ?? '';
    const bad = upload ? undefined : keyError(key);
    if (bad) return sendError(res, bad);
    switch (route.kind) {
      case 'generate':
      case 'stream':
        return generate(req, res, url, route, raw);
      case 'countTokens':
        return countTokensOf(res, route, raw);
      case 'embed':
      case 'batchEmbed':
        return embed(req, res, route, raw);
      case 'caches':
        if (!caches.handle(req, res, url, raw)) res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' }).end(html404(url.pathname));
        return;
      case 'model':
      case 'models':
        return models(res, url, route);
      case 'files':
        if (!files.handle(req, res, url, raw, origin)) res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' }).end(html404(url.pathname));
        return;
      case 'batches':
        if (!(await batch.handle(req, res, url, raw))) res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' }).end(html404(url.pathname));
        return;
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
  const bs = batch.stats;
  const fs = files.stats;
  return {
    url: origin,
    port,
    stats,
    batch: {
      get uploads() { return fs.uploads; },
      get downloads() { return fs.downloads; },
      get filesDeleted() { return fs.deleted; },
      get batchesCreated() { return bs.batchesCreated; },
      get batchesDeleted() { return bs.deleted; },
      get createsRefused() { return bs.refused; },
    },
    caches: {
      get created() { return caches.stats.created; },
      get deleted() { return caches.stats.deleted; },
      get implicitHits() { return caches.stats.implicitHits; },
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
