// `gempipe embed --mode batch`: the batch stage (SPEC §13) with embedding's parts — a job's input
// file holds one EmbedContentRequest a line (the SDK's element, title included), it is created on
// the embedding batch endpoint (asyncBatchEmbedContent), and a response line's vector becomes the
// record an online run writes, plus "mode": "batch". --dedupe, --cache, the journal, --deadline
// and the online fallback (the embed work) are the generate batch mode's.

import { createBatchStage } from '../batch/batch-stage.js';
import { strip } from '../batch/jobs.js';
import type { ResponseVerdict } from '../batch/responses.js';
import { embeddingSuccessOf, normalized } from '../embed/embed-record.js';
import { createEmbedBatchService } from '../gemini/embed-batch-client.js';
import { embedRequestOf } from '../gemini/embed-client.js';
import type { Job, RunnerEnd } from '../job/job.js';
import { TokenEstimator } from '../quota/token-estimate.js';
import { batchGround } from './batch.js';
import { embedJobWorkOf, vectorStages } from './embed-online.js';

/** A response line's vector -> the record (or EMPTY_RESPONSE). */
export function embedVerdictOf(model: string, normalize: boolean | undefined): ResponseVerdict {
  const tokens = new TokenEstimator();
  return (rec, response, o) => {
    const values = (response as { embedding?: { values?: number[] } } | undefined)?.embedding?.values;
    if (!values || values.length === 0) return { fail: { status: 'EMPTY_RESPONSE', code: 0, message: 'the batch job returned no vector for this text' } };
    const n = tokens.estimate(rec.prompt);
    o.stats.tokensIn += n;
    o.stats.succeeded++;
    const usage = { promptTokens: n, responseTokens: 0, totalTokens: n };
    return { ok: embeddingSuccessOf(strip(rec), { embedding: normalize ? normalized(values) : values, model, usage }, o.attempts, o.latencyMs, { mode: 'batch' }) };
  };
}

export async function runEmbedBatch(job: Job): Promise<RunnerEnd> {
  const { options: o, stats, stop } = job;
  const { journal, live, conn, online, limits } = await batchGround(job, embedJobWorkOf);
  const element = await embedRequestOf(conn.apiKey ?? '', conn.baseUrl, o.model, o.embed!);
  const batch = createBatchStage({
    service: createEmbedBatchService(conn), dir: o.out, journal, live, spec: job.spec,
    requestOf: (prompt, rec) => element(rec.title !== undefined ? { text: prompt, title: rec.title } : { text: prompt }),
    verdictOf: embedVerdictOf(o.model, o.embed!.normalize),
    settings: o, emulated: o.emulator, onDisk: job.onDisk, dedupe: job.dedupe, cache: job.cache, online, stats, meter: job.meter, say: job.say, signal: stop.reading,
  });
  job.onWritten((records) => batch.written(records));
  job.showProgress();
  const pipelineError = await job.run([batch.stage], { mine: (s, l) => !live.ids.has(s, l), beforeWriter: await vectorStages(job) });
  return { pipelineError, limits: limits() };
}
