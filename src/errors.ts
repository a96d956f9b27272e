// Error classes, each with a fixed `code`, and the one mapping from outcome to process exit code
// (SPEC §6). A per-record problem is never one of these: it becomes a failure record (§4).
// These are for things that stop the whole run (or stop it before it starts).

/** Exit codes, SPEC §6. */
export const ExitCode = {
  OK: 0,
  FAULT: 1,
  USAGE: 2,
  SOME_FAILED: 3,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A bad flag, value, input path or environment: nothing was started. Exit 2. */
export class UsageError extends Error {
  readonly code = 'USAGE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A fault that makes every further request pointless (bad key, unknown model, daily quota
 * exhausted, unreadable output directory). The run stops fast with one message. Exit 1.
 */
export class FatalRunError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FatalRunError';
    this.code = code;
  }
}

/** The output directory holds something resume cannot make sense of. Exit 1. */
export class OutputStateError extends FatalRunError {
  constructor(message: string) {
    super('OUTPUT_STATE', message);
    this.name = 'OutputStateError';
  }
}

/** Maps an error thrown out of run() to an exit code. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return ExitCode.USAGE;
  return ExitCode.FAULT;
}

/** Removes an API key from any text that may reach a log, a file or the terminal. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  // The SDK and fetch sometimes echo the key as a query parameter.
  return out.replace(/([?&]key=)[^&\s"']+/g, '$1***');
}
