// Records that ask more than a prompt in the job's template — a whole request line, attachments,
// a --context — have their REST body built here: the template's fields (restBaseOf) under the
// line's, the context first (or the explicit cache named instead), attachments as parts (inline
// base64, an uploaded file's URI, a URL), then the text. The body is built once per record,
// before the limiter is asked, and kept while the record is in flight (at most --concurrency
// bodies: the memory bound of inline attachments); each attempt sends it. An attempt told that a
// file or the cache is gone has the body built again for the next one. A text record with no
// context never comes here: its request is the template's, as before.

import { countFailure, type RunStats } from '../stats.js';
import { failureOf, type InputRecord } from '../records.js';
import type { GeminiClient, GenerateFn } from '../gemini/client.js';
import type { Work } from '../reuse/reuse.js';
import { MediaInputError, type Uploads } from '../media/uploads.js';
import { assembleBody, markerFor, mergeRequest, newNonce, type InlineFile, type RestRequest } from './body.js';

/** The --context as requests use it (context/context.ts). */
export interface ContextUse {
  /** The context as the first user turn, serialised once (REST Content JSON). */
  turnJson(): string;
  /** The explicit cache to name instead of the turn (cachedContents/…), or undefined. */
  cacheName(): string | undefined;
  /** The service says the cache is gone: requests carry the turn until it is back. */
  cacheGone(name: string): void;
  /** Resolves once the cache is made (on the first record that needs it) or known not to be. */
  ready?(): Promise<void>;
}

export interface RequestBuilder {
  /** Whether a record needs a body of its own (a request line, attachments, a context). */
  needs(rec: InputRecord): boolean;
  /** The whole REST body; uploads made or found first. A MediaInputError: the record cannot be asked. */
  build(rec: InputRecord, signal?: AbortSignal): Promise<string | Buffer>;
  /** The body as text, for a Batch API line: no inline attachments, no upload (call ready() first). */
  buildText(rec: InputRecord): string;
  /** The template's fields, resolved (before buildText). */
  ready(): Promise<void>;
  /** Forgets what an error says is gone (a file, the cache); true when the body is worth building again. */
  forget(err: unknown): Promise<boolean>;
}

export function createRequestBuilder(o: { base: () => Promise<RestRequest>; uploads?: () => Promise<Uploads>; context?: ContextUse }): RequestBuilder {
  let baseP: Promise<RestRequest> | undefined;
  let base: RestRequest | undefined;
  const baseOf = async () => (base ??= await (baseP ??= o.base()));

  /** The JSON body around `parts`-built contents, the context first unless the cache stands for it. */
  function json(b: RestRequest, rec: InputRecord, contents: unknown[]): string {
    const line = rec.request;
    const fields = { ...line };
    delete fields.contents;
    const merged = mergeRequest(b, line ? fields : undefined);
    let prefix = '';
    if (o.context) {
      const cache = o.context.cacheName();
      const own = line !== undefined && ('systemInstruction' in line || 'tools' in line || 'toolConfig' in line || 'cachedContent' in line);
      if (cache && !own) {
        // The cache holds the context and the system instruction; a request naming it may set neither.
        merged.cachedContent = cache;
        delete merged.systemInstruction;
      } else prefix = o.context.turnJson();
    }
    const turns = JSON.stringify(contents);
    const rest = JSON.stringify(merged);
    return `{"contents":[${prefix}${prefix && turns !== '[]' ? ',' : ''}${turns.slice(1, -1)}]${rest === '{}' ? '}' : ',' + rest.slice(1)}`;
  }

  return {
    needs: (rec) => rec.request !== undefined || (rec.media?.length ?? 0) > 0 || o.context !== undefined,
    async ready() {
      await baseOf();
    },
    async build(rec, signal) {
      const b = await baseOf();
      await o.context?.ready?.();
      const nonce = newNonce();
      const inline: InlineFile[] = [];
      const parts: unknown[] = [];
      for (const m of rec.media ?? []) {
        if (m.via === 'inline') {
          const marker = markerFor(inline.length, nonce);
          inline.push({ marker, path: m.path!, size: m.size!, sha256: m.sha256! });
          parts.push({ inlineData: { mimeType: m.mimeType, data: marker } });
        } else if (m.via === 'file') {
          if (!o.uploads) throw new MediaInputError({ status: 'INVALID_INPUT', code: 0, message: `${m.path} is over the inline limit and this run has no Files API to upload it to` });
          const up = await (await o.uploads()).ensure({ path: m.path!, sha256: m.sha256!, size: m.size!, mimeType: m.mimeType! }, signal);
          parts.push({ fileData: { mimeType: up.mimeType, fileUri: up.uri } });
        } else {
          parts.push({ fileData: { ...(m.mimeType ? { mimeType: m.mimeType } : {}), fileUri: m.url } });
        }
      }
      // Media first, then the text: the order Google's prompting guide recommends for one image.
      const contents = rec.request ? (rec.request.contents as unknown[]) : [{ role: 'user', parts: [...parts, { text: rec.prompt }] }];
      return assembleBody(json(b, rec, contents), inline);
    },
    buildText(rec) {
      if (!base) throw new Error('buildText() before ready()');
      if (rec.media?.some((m) => m.via !== 'url')) throw new Error(`${rec.id}: local attachments are not sent in batch lines`);
      const parts = (rec.media ?? []).map((m) => ({ fileData: { ...(m.mimeType ? { mimeType: m.mimeType } : {}), fileUri: m.url } }));
      const contents = rec.request ? (rec.request.contents as unknown[]) : [{ role: 'user', parts: [...parts, { text: rec.prompt }] }];
      return json(base, rec, contents);
    },
    async forget(err) {
      const msg = String((err as Error)?.message ?? '');
      const file = /access the File (\S+) or it may not exist/i.exec(msg);
      if (file && o.uploads) {
        (await o.uploads()).forget(`files/${file[1]}`);
        return true;
      }
      if (/CachedContent not found/i.test(msg) && o.context) {
        const name = o.context.cacheName();
        if (name) o.context.cacheGone(name);
        return true;
      }
      return false;
    },
  };
}

/** Each record's body held while it is in flight: the work builds it, the generate function sends it. */
export interface RequestBodies {
  /** `work` behind the body's build: a record whose attachment cannot be sent is a failure record. */
  wrap(work: Work, stats: RunStats): Work;
  /** Sends a record's body when it has one (else the prompt through the template, as ever). */
  generate: GenerateFn;
}

export function createRequestBodies(builder: RequestBuilder, client: GenerateFn & Partial<Pick<GeminiClient, 'sendBody'>>): RequestBodies {
  const bodies = new WeakMap<InputRecord, string | Buffer>();
  return {
    wrap(work, stats) {
      return async (rec, signal) => {
        if (rec.invalid || !builder.needs(rec)) return work(rec, signal);
        try {
          bodies.set(rec, await builder.build(rec, signal));
        } catch (e) {
          if (e instanceof MediaInputError) {
            countFailure(stats, e.error.status);
            return failureOf(rec, 0, e.error);
          }
          if (signal.aborted) return null;
          throw e;
        }
        try {
          return await work(rec, signal);
        } finally {
          bodies.delete(rec);
        }
      };
    },
    async generate(prompt, signal, rec) {
      const body = rec ? bodies.get(rec) : undefined;
      if (body === undefined || !client.sendBody) return client(prompt, signal, rec);
      try {
        return await client.sendBody(body, signal);
      } catch (e) {
        if (await builder.forget(e)) {
          // A file or the cache is gone: the next attempt sends a body built again (uploaded again).
          await builder.build(rec!, signal).then((b) => bodies.set(rec!, b), () => {});
        }
        throw e;
      }
    },
  };
}
