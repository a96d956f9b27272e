import { describe, expect, it } from 'vitest';
import { FatalRunError } from '../../src/errors.js';
import { decideOutcome, type RunEnd } from '../../src/job/outcome.js';

const clean: RunEnd = { toStdout: false, interrupted: false, failed: 0, inputErrors: 0 };
const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

describe('decideOutcome: how a run ended -> outcome, exit code, message', () => {
  it.each<[string, Partial<RunEnd>, { outcome: string; exitCode: number; error?: string | RegExp }]>([
    ['all succeeded', {}, { outcome: 'completed', exitCode: 0 }],
    ['some records failed', { failed: 2 }, { outcome: 'completed', exitCode: 3 }],
    ['an input could not be read', { inputErrors: 1 }, { outcome: 'completed', exitCode: 3 }],
    ['nothing failed now, but the directory holds failures of earlier runs', { failuresOnDisk: 4 }, { outcome: 'completed', exitCode: 3 }],
    ['earlier failures, then interrupted', { failuresOnDisk: 4, interrupted: true }, { outcome: 'interrupted', exitCode: 130 }],
    ['earlier failures, then a whole-run fault', { failuresOnDisk: 4, haltMessage: 'no quota' }, { outcome: 'fatal', exitCode: 1, error: 'no quota' }],
    ['interrupted', { interrupted: true, failed: 1 }, { outcome: 'interrupted', exitCode: 130 }],
    ['a whole-run fault halted it', { haltMessage: 'the API key was rejected', interrupted: true }, { outcome: 'fatal', exitCode: 1, error: 'the API key was rejected' }],
    ['a fatal error out of the pipeline', { pipelineError: new FatalRunError('OUTPUT_STATE', 'changed by something else') }, { outcome: 'fatal', exitCode: 1, error: 'changed by something else' }],
    ['an unexpected error', { pipelineError: new TypeError('boom') }, { outcome: 'fatal', exitCode: 1, error: /^unexpected error: TypeError: boom/ }],
    ['stdout closed by `| head`', { toStdout: true, pipelineError: epipe }, { outcome: 'completed', exitCode: 0 }],
    ['a closed pipe, wrapped', { toStdout: true, pipelineError: new Error('x', { cause: epipe }) }, { outcome: 'completed', exitCode: 0 }],
    ['EPIPE writing a file directory run is a fault', { pipelineError: epipe }, { outcome: 'fatal', exitCode: 1, error: /EPIPE/ }],
  ])('%s', (_name, end, want) => {
    const got = decideOutcome({ ...clean, ...end });
    expect(got.outcome).toBe(want.outcome);
    expect(got.exitCode).toBe(want.exitCode);
    if (want.error === undefined) expect(got.error).toBeUndefined();
    else expect(got.error).toMatch(want.error);
  });
});
