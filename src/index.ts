// The library (SPEC §9): run() is what the CLI does; each stage is a factory usable on its own
// with stream.pipeline or stream-chain, and createPipeline()/layer()/workerLayer() compose them
// with a per-stage concurrency (SPEC §9's Layer(work, 8)). This is the whole public surface:
// the README's Library section documents each name.

export { run, type RunIO, type RunResult } from './run.js';
export { parseOptions, DEFAULTS, type Options, type RawOptions } from './cli/options.js';
export { createPipeline, layer, workerLayer, type PipelineStage, type LayerOptions, type WorkerLayerOptions } from './pipeline.js';
export { createInputReader, resolveInputs, type InputSource, type InputReaderOptions } from './stages/read-inputs.js';
export { parseTextLine, createJsonlParser, type LineParser } from './stages/line-parsers.js';
export { createLineSplitter, type LineSplitterOptions, type SplitLine } from './stages/line-splitter.js';
export { createGenerateStage, type GenerateStageOptions } from './stages/generate.js';
export { createGeminiClient, type GeminiClientOptions, type GenerateFn, type GenerateResult } from './gemini/client.js';
export { createLimiter, type Limiter, type LimiterOptions } from './quota/limiter.js';
export { RETRY_DEFAULTS, type RetryPolicy } from './gemini/retry-policy.js';
export { createRotatingWriter, type RotatingWriterOptions } from './stages/rotating-writer.js';
export { createStdoutWriter, type StdoutWriterOptions } from './stages/stdout-writer.js';
export { createPostStage, parsePostSpec, type PostStageOptions, type PostSpec } from './post/stage.js';
export { startEmulator, type Emulator, type EmulatorOptions } from './emulator/server.js';
export { requestSpecOf, type RequestSpec, type RequestShape } from './request/spec.js';
export { verify, jobShape, type VerifyReport } from './output/verify.js';
export { merge, type MergeResult } from './output/merge.js';
export { UsageError, FatalRunError, OutputStateError, ExitCode } from './errors.js';
export { isFailure, type InputRecord, type SuccessRecord, type FailureRecord, type OutputRecord, type RecordError, type Usage } from './records.js';
