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
import { createBatchService, type BatchKind } from './batch.js';
import { seededRandom } from '../util/seeded-random.js';
import { createCachesService } from './caches.js';
import { embedOne, embedText, MAX_BATCH_EMBED, type EmbedRequest } from './embed.js';
import { validateEmulatorOptions, type EmulatorOptions } from './emulator-options.js';
import { createFilesService } from './files.js';
import { API_KEY_INVALID, html404, invalidArgument, invalidJson, modelNotFound, UNREGISTERED_CALLER, type GoogleError } from './google-errors.js';
import { createMediaService } from './media.js';
import { modelInfo, type ModelInfo } from './models.js';
import { normalize, promptOf, type GenerateRequest } from './request.js';
import { chunksOf, writeStream } from './stream.js';

import { routeOf } from './routes.js';
import type { Emulator, EmulatorStats } from './emulator-stats.js';
import { createAdmission } from './admission.js';
import { createReadRoutes } from './read-routes.js';

export { answerFor, countTokens } from './answer.js';
export type { Emulator, EmulatorStats, SecondStats } from './emulator-stats.js';
export { seededRandom } from '../util/seeded-random.js';
export type { EmulatorOptions, BatchEventKind } from './emulator-options.js';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateEmulatorOptions(options);
  const o = { latencyMs: 0, jitterMs: 0, errorRate: 0, seed: 1, retryInfo: 'whole' as const, ...options };
  const rnd = seededRandom(o.seed);
  const t0 = Date.now();
  const stats: EmulatorStats = {
    requests: 0, ok: 0, byStatus: {}, http429: 0, inFlight: 0, maxInFlight: 0, promptTokens: 0,
    admitted: 0, quota429: 0, capacity429: 0, streams: 0, perSecond: [], successes: new Map(), log: [],
  };
  const sockets = new Set<Socket>();
  const admit = createAdmission({
    o, stats, t0, rnd, sendError: (res, e, prompt) => sendError(res, e, prompt),
    stopListening: () => {
      server.close();
      setImmediate(() => {
        for (const s of sockets) s.destroy();
      });
    },
  });

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
    timeScale: o.batchTimeScale, pendingMs: o.batchPendingMs, onEvent: o.onBatchEvent, refuseCreates: o.batchRefuseCreates, refuseError: o.batchRefuseError,
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
  const reads = createReadRoutes({ sendError, caches, media });

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
        return reads.countTokens(res, route, raw);
      case 'embed':
      case 'batchEmbed':
        return embed(req, res, route, raw);
      case 'caches':
        if (!caches.handle(req, res, url, raw)) res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' }).end(html404(url.pathname));
        return;
      case 'model':
      case 'models':
        return reads.models(res, url, route);
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
