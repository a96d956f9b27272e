// The library (SPEC §9): each stage is a factory usable on its own with stream.pipeline or
// stream-chain, plus run() (what the CLI does) and createPipeline() (stages + per-stage
// concurrency, like seed 001's Layer(work, 8)).

export { run, defaultInputs, type RunIO, type RunResult } from './run.js';
export { createPipeline, layer, workerLayer, type PipelineStage, type LayerOptions, type WorkerLayerOptions } from './pipeline.js';
export { createPostStage, parsePostSpec, checkPostSpec, type PostStageOptions, type PostSpec } from './post/stage.js';
export { parseOptions, DEFAULTS, type Options, type RawOptions } from './cli/options.js';
export { UsageError, FatalRunError, OutputStateError, ExitCode, exitCodeFor } from './errors.js';
export * from './records.js';
export { createStats, summarize, formatSummary, type RunStats, type Summary } from './stats.js';
export { createInputReader, createSourceChain, resolveInputs, parseTextLine, createJsonlParser, type InputSource, type InputReaderOptions, type LineParser } from './stages/read-inputs.js';
export { createLineSplitter, createLineGuard, lineSplitterStages, type SplitLine, type LineSplitterOptions } from './stages/line-splitter.js';
export { createParallelStage, type ParallelStageOptions } from './stages/parallel.js';
export { createGenerateStage, createGenerateWork, type GenerateStageOptions } from './stages/generate.js';
export { createRotatingWriter, type RotatingWriterOptions } from './stages/rotating-writer.js';
export { shardName, SHARD_RE, FAILURES_FILE, USAGE_FILE, LIMITS_FILE } from './output/layout.js';
export { createStdoutWriter, type StdoutWriterOptions } from './stages/stdout-writer.js';
export { createGeminiClient, toResult, type GeminiClientOptions, type GenerateFn, type GenerateResult } from './gemini/client.js';
export { createFastFetch, type FastFetch, type FastFetchOptions } from './gemini/fast-fetch.js';
export { createLimiter, AIM, type Limiter, type LimiterOptions, type Grant, type AttemptOutcome, type LimiterState, type LearnedLimit } from './quota/limiter.js';
export { RateController, type RateControllerOptions } from './quota/adaptive-rate.js';
export { Budget } from './quota/budget.js';
export { loadLearned, saveLearned } from './quota/learned.js';
export { classifyError, decideRetry, fatalMessage, FATAL_MESSAGES, RETRY_DEFAULTS, type RetryPolicy, type ClassifiedError, type RetryDecision } from './gemini/retry-policy.js';
export { loadOutputState, compactFailures, type OutputState } from './output/output-state.js';
export { IdSet } from './output/id-set.js';
export { TokenEstimator } from './quota/token-estimate.js';
export { DailyCap, pacificDay, msUntilPacificMidnight, describeReset } from './quota/daily-cap.js';
export { makePlan, formatPlan, readHistory, priceFor, PRICES, PRICE_TABLE_DATE, type Plan, type History, type Price } from './plan.js';
export { BinaryInputError } from './stages/line-splitter.js';
export { startEmulator, type Emulator, type EmulatorOptions, type EmulatorStats } from './emulator/server.js';
export { requestSpecOf, type RequestSpec, type RequestShape } from './request/spec.js';
export { verify, formatVerify, jobShape, type VerifyReport } from './output/verify.js';
export { merge, type MergeResult } from './output/merge.js';
export { parsePartition, inPartition, idHash, type Partition } from './partition.js';
export { compileTemplate, type Template } from './template.js';
export { compileSchema, type SchemaCheck } from './schema.js';
export { createDedupe, type Dedupe } from './reuse/dedupe.js';
export { createResponseCache, cacheStats, pruneCache, parseDuration, type ResponseCache } from './reuse/response-cache.js';
export { fdBudget, readFdLimit, type FdBudget } from './fd-budget.js';
export { connectRedis, type RedisLink } from './quota/bottleneck-redis.js';
export { runWorker, type WorkerOptions } from './runners/worker.js';
export { loadJournal, liveJobs, type Journal, type JournalJob } from './batch/journal.js';
