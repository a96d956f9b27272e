// The Batch API for embeddings (SPEC §13, §17): the same Files and Batch endpoints as
// batch-client.ts, except that a job is created with @google/genai's batches.createEmbeddings —
// POST models/M:asyncBatchEmbedContent, an input file of {"key", "request": EmbedContentRequest}
// lines — at half the online price. The SDK warns on every call that this method is
// experimental; that warning is said once by the runner, not printed per job.

import { GoogleGenAI } from '@google/genai';
import { createBatchService, type BatchService } from './batch-client.js';

export function createEmbedBatchService(conn: { apiKey?: string; baseUrl?: string }): BatchService {
  const ai = new GoogleGenAI({ apiKey: conn.apiKey, httpOptions: conn.baseUrl ? { baseUrl: conn.baseUrl } : undefined });
  return {
    ...createBatchService(conn),
    async create(model, file, displayName) {
      const warn = console.warn;
      console.warn = () => {}; // the SDK's "createEmbeddings() is experimental" line, per call
      try {
        const b = await ai.batches.createEmbeddings({ model, src: { fileName: file }, config: { displayName } });
        return { name: b.name!, createTime: b.createTime };
      } finally {
        console.warn = warn;
      }
    },
  };
}
