// The Batch client's own wire handling: batchStats counts as the service writes them (int64
// strings, zero counts left out), and a responses file's download — absent or not yet there
// (404, the Files API's 403 "may not exist") is `not-found`, a refused key throws, a body cut
// short rejects (the SDK's files.download lets it kill the process: an unhandled 'error' event).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countsOf, createBatchService } from '../../src/gemini/batch-client.js';
import { classifyError } from '../../src/gemini/retry-policy.js';
import { tempDir } from '../helpers/util.js';

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handle);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((res) => server.close(() => res())) };
}

const error = (res: ServerResponse, code: number, status: string, message: string) =>
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, status, message } }));

describe('the Batch client', () => {
  it('reads batchStats as the service writes them: counts as strings, zero counts left out', () => {
    expect(countsOf({ requestCount: '30', pendingRequestCount: '30' })).toBe('0 ok, 0 failed, 30 pending');
    expect(countsOf({ requestCount: '30', successfulRequestCount: '29', failedRequestCount: '1' })).toBe('29 ok, 1 failed, 0 pending');
    expect(countsOf({ requestCount: '10', successfulRequestCount: '4' })).toBe('4 ok, 0 failed, 6 pending'); // pending left out while running
    expect(countsOf({ requestCount: 7, successfulRequestCount: 7 })).toBe('7 ok, 0 failed, 0 pending'); // numbers read too
    expect(countsOf({})).toBe('0 ok, 0 failed, 0 pending');
    expect(countsOf(undefined)).toBeUndefined();
  });

  it('a download: the bytes; 404 or the Files API\'s 403 "may not exist" is not-found; a refused key throws; a body cut short rejects', async () => {
    const t = tempDir();
    const server = await serve((req, res) => {
      const u = req.url ?? '';
      if (u.includes('files/ok:download')) res.writeHead(200, { 'content-type': 'application/jsonl' }).end('{"key":"a"}\n');
      else if (u.includes('files/missing:download')) error(res, 404, 'NOT_FOUND', 'File not found.');
      else if (u.includes('files/later:download')) error(res, 403, 'PERMISSION_DENIED', 'You do not have permission to access the File later or it may not exist.');
      else if (u.includes('files/key:download')) error(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
      else if (u.includes('files/cut:download')) {
        res.writeHead(200, { 'content-type': 'application/jsonl', 'content-length': '1000' });
        res.write('{"key":"a"}\n{"ke');
        setImmediate(() => res.socket?.destroy());
      } else error(res, 500, 'INTERNAL', 'no');
    });
    try {
      const s = createBatchService({ apiKey: 'k', baseUrl: server.url });
      expect(s.endpoint).toBe(server.url);
      const p = join(t.dir, 'r.jsonl');
      expect(await s.download('files/ok', p)).toBeUndefined();
      expect(readFileSync(p, 'utf8')).toBe('{"key":"a"}\n');
      expect(await s.download('files/missing', p)).toBe('not-found');
      expect(await s.download('files/later', p)).toBe('not-found');
      const refused = await s.download('files/key', p).catch((e: unknown) => e);
      expect(classifyError(refused)).toMatchObject({ kind: 'fatal', fatalCode: 'INVALID_API_KEY' });
      const cut = await s.download('files/cut', p).catch((e: unknown) => e);
      expect(classifyError(cut)).toMatchObject({ kind: 'retryable', status: 'UNAVAILABLE' });
      const other = await s.download('files/x', p).catch((e: unknown) => e);
      expect(classifyError(other)).toMatchObject({ kind: 'retryable', code: 500, status: 'INTERNAL', message: 'no' });
    } finally {
      await server.close();
      t.cleanup();
    }
  });
});
