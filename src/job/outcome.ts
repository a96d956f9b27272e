// decideOutcome(): how a run ended, as a pure function of what happened — the pipeline's
// error (if any), whether a whole-run fault halted it, whether it was interrupted, and what
// failed, this run or earlier, in the directory — into the outcome, the exit code (SPEC §6) and
// the one error message.

import { ExitCode, FatalRunError } from '../errors.js';
import { isClosedPipe } from '../stages/stdout-writer.js';
import type { Summary } from '../stats.js';

export interface RunEnd {
  /** What pipeline() rejected with, if it did. */
  pipelineError?: unknown;
  /** Output went to stdout (a closed pipe is then a quiet end). */
  toStdout: boolean;
  /** A whole-run fault (or the --rpd cap) halted the run with this message. */
  haltMessage?: string;
  /** SIGINT/SIGTERM stopped it. */
  interrupted: boolean;
  failed: number;
  inputErrors: number;
  /** Failure records in the output directory at the end, this run's and earlier runs'. */
  failuresOnDisk?: number;
}

export interface Outcome {
  outcome: Summary['outcome'];
  exitCode: ExitCode;
  error?: string;
}


export function decideOutcome(end: RunEnd): Outcome {
  const err = end.pipelineError;
  if (err !== undefined && !(end.toStdout && isClosedPipe(err))) {
    const error = err instanceof FatalRunError ? err.message : `unexpected error: ${(err as Error)?.stack ?? String(err)}`;
    return { outcome: 'fatal', exitCode: ExitCode.FAULT, error };
  }
  // `| head` closed the pipe: a quiet, successful end, like the rest below.
  if (end.haltMessage) return { outcome: 'fatal', exitCode: ExitCode.FAULT, error: end.haltMessage };
  if (end.interrupted) return { outcome: 'interrupted', exitCode: ExitCode.INTERRUPTED };
  if (end.failed > 0 || end.inputErrors > 0 || (end.failuresOnDisk ?? 0) > 0) return { outcome: 'completed', exitCode: ExitCode.SOME_FAILED };
  return { outcome: 'completed', exitCode: ExitCode.OK };
}
