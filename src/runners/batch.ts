// The batch runner (SPEC §13): reader -> the batch stage (records packed into Batch API jobs,
// their results mapped back; --dedupe and --cache answer first, so a duplicate or a cached record
// is never put in a job) -> --post -> writer, one pipeline(). Records in a live job of an earlier
// run are not read again. The online fallback (--fallback online, --deadline) is the online
// runner's generate work, made when first needed; --rpd counts its requests, the only ones sent
// one by one (batch jobs are not requests per day).

import { createBatchStage } from '../batch/batch-stage.js';
import { loadJournal, readLiveJobs, removeEndedJobFiles, type Journal } from '../batch/journal.js';
import { startEmulator } from '../emulator/server.js';
import { createBatchService } from '../gemini/batch-client.js';
import { restBaseOf, restRequestOf } from '../gemini/client.js';
import { createMediaApis } from '../gemini/media-client.js';
import { startContext } from '../context/context-cache.js';
import { openUploads } from '../media/uploads.js';
import { createRequestBuilder } from '../request/builder.js';
import type { InputRecord } from '../records.js';
import { createBackend, type Backend } from '../job/backend.js';
import { jobWorkOf } from '../job/generate-work.js';
import type { Job, RunnerEnd } from '../job/job.js';
import type { RunMeter } from '../observe/run-meter.js';
import type { Work } from '../reuse/reuse.js';

/**
 * What a batch runner stands on (generate or embed): the journal and its live jobs, where the
 * Files and Batch endpoints are (the emulator's with --emulator), and the online work for the
 * fallback, made by `workOf` when first needed (its backend's limits read at the end).
 */
export async function batchGround(job: Job, workOf: (job: Job, backend: Backend) => Work) {
  const o = job.options;
  const journal = loadJournal(o.out);
  removeEndedJobFiles(o.out, journal); // a run stopped between the journal and the removal
  const live = await readLiveJobs(o.out, journal);
  // The Files and Batch endpoints through the SDK; no limiter.
  let conn = { apiKey: o.apiKey, baseUrl: o.baseUrl };
  if (o.emulator) {
    const emulator = await startEmulator({ batchTimeScale: 600 });
    job.defer(() => emulator.close());
    conn = { apiKey: 'emulator-key', baseUrl: emulator.url };
    job.say(`gempipe: responses are EMULATED (local Gemini emulator at ${emulator.url}, batches 600 times faster); set GEMINI_API_KEY and drop --emulator for real answers`);
  }
  let limits: string[] | undefined; // the online backend's: filled when it closes too
  let onlineWork: Promise<Work> | undefined;
  const online = () => (onlineWork ??= (async () => {
    const backend = await createBackend({ ...o, emulator: false, ...conn, contextCache: 'off' }, { say: job.say, connections: job.budget?.connections, context: job.context, stats: job.stats });
    job.defer(() => backend.close());
    limits = backend.limits;
    return workOf(job, backend);
  })());
  return { journal, live, conn, online, limits: () => limits };
}

export async function runBatch(job: Job): Promise<RunnerEnd> {
  const { options: o, stats, stop } = job;
  const { journal, live, conn, online, limits } = await batchGround(job, jobWorkOf);
  // Request lines and --context build their own bodies (the context as a prefix: a batch job may
  // outlive an explicit cache's renewals); a text record is its prompt in the SDK's template.
  const textRequest = await restRequestOf(conn.apiKey ?? '', conn.baseUrl, job.spec);
  let requestOf = (prompt: string, _rec?: InputRecord) => textRequest(prompt);
  if (o.inputFormat === 'request' || job.context) {
    const apis = createMediaApis(conn);
    const uploads = () => openUploads({ dir: o.out, files: apis.files, say: job.say });
    const context = job.context ? await startContext({ ctx: job.context, model: o.model, system: o.system, dir: o.out, uploads, cache: 'off', ttlSec: 0, say: job.say }) : undefined;
    if (context) job.defer(() => context.close());
    const builder = createRequestBuilder({ base: () => restBaseOf(conn.apiKey ?? '', conn.baseUrl, job.spec), context });
    await builder.ready();
    requestOf = (prompt, rec) => (rec && builder.needs(rec) ? builder.buildText(rec) : textRequest(prompt));
  }
  const batch = createBatchStage({
    service: createBatchService(conn), dir: o.out, journal, live, spec: job.spec, requestOf,
    settings: o, emulated: o.emulator, onDisk: job.onDisk, dedupe: job.dedupe, cache: job.cache, online, stats, meter: job.meter, say: job.say, signal: stop.reading,
  });
  job.onWritten((records) => batch.written(records));
  if (job.meter) meterJobStates(job.meter, journal, job.defer);
  job.showProgress();
  const pipelineError = await job.run([batch.stage], { mine: (s, l) => !live.ids.has(s, l) });
  return { pipelineError, limits: limits(), batch: batch.report() };
}

/** The journal's jobs by state, told to the meter every second (the series' resolution) and at the end. */
function meterJobStates(meter: RunMeter, journal: Journal, defer: (close: () => unknown) => void): void {
  const tell = () => {
    const counts: Record<string, number> = {};
    for (const j of journal.jobs) counts[j.state] = (counts[j.state] ?? 0) + 1;
    meter.setBatchJobs(counts);
  };
  tell();
  const timer = setInterval(tell, 1000);
  timer.unref();
  defer(() => {
    clearInterval(timer);
    tell();
  });
}
