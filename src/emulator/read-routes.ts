// The read-only model routes: models.get / models.list (the catalogue, paged as the service pages
// it) and countTokens (a named cache counted in front, media parts as the service counts them).

import type { ServerResponse } from 'node:http';
import type { CachesService } from './caches.js';
import type { GoogleError } from './google-errors.js';
import { invalidJson, modelNotFound } from './google-errors.js';
import type { MediaService } from './media.js';
import { CATALOGUE, modelInfo, modelResource } from './models.js';
import { pageOf } from './paging.js';
import { normalize, type GenerateRequest } from './request.js';
import { promptTokensOf } from './answer.js';
import type { Route } from './routes.js';

export interface ReadRoutesContext {
  sendError(res: ServerResponse, e: GoogleError): void;
  caches: CachesService;
  media: MediaService;
}

export function createReadRoutes({ sendError, caches, media }: ReadRoutesContext) {
  function countTokens(res: ServerResponse, route: { version: string; model: string }, raw: Buffer): void {
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

  return { countTokens, models };
}
