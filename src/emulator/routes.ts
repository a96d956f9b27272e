// The method a request's URL names (the service's REST paths), or none: then the front end's HTML
// 404 page answers, before any key check (server.ts).

export type Route =
  | { kind: 'generate' | 'stream'; version: string; model: string }
  | { kind: 'countTokens'; version: string; model: string }
  | { kind: 'embed' | 'batchEmbed'; version: string; model: string }
  | { kind: 'model'; version: string; model: string }
  | { kind: 'models' | 'files' | 'batches' | 'caches'; version: string };

/** The method a request names, or undefined (the front end's 404 page). */
export function routeOf(method: string, path: string): Route | undefined {
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
