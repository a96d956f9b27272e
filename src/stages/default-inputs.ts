// With no INPUT, where the prompts come from: stdin when it is a pipe, a socket or a file with
// data in it (fstat of its descriptor), else ./inputs. "Not a terminal" is not enough: cron,
// systemd, nohup and CI give /dev/null, which read as an empty job and a silent exit 0.

import { fstatSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** What stdin is: `data` a pipe, socket or non-empty file; `empty` /dev/null or an empty file; `unknown` a stream without a descriptor (library use). */
export type StdinKind = 'tty' | 'data' | 'empty' | 'unknown';

export function stdinKind(stdin: { isTTY?: boolean; fd?: unknown }): StdinKind {
  if (stdin.isTTY) return 'tty';
  if (typeof stdin.fd !== 'number') return 'unknown';
  try {
    const st = fstatSync(stdin.fd);
    if (st.isFIFO() || st.isSocket()) return 'data';
    if (st.isFile()) return st.size > 0 ? 'data' : 'empty';
    return 'empty'; // a character device that is not a terminal: /dev/null
  } catch {
    return 'empty'; // closed
  }
}

export interface DefaultInputs {
  inputs: string[];
  /** Said on stderr: why ./inputs was read although stdin is not a terminal. */
  note?: string;
  /** Stdin was taken (a pipe) while ./inputs exists: if it holds no prompt, say so at the end. */
  inputsDirToo?: boolean;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The INPUT arguments, or the default when there are none (SPEC §2, README: Usage). Throws a
 * UsageError when stdin holds nothing and there is no ./inputs either: never a silent no-op.
 */
export function defaultInputs(inputs: readonly string[], stdin: { isTTY?: boolean; fd?: unknown }, inputsDir = 'inputs'): DefaultInputs {
  if (inputs.length > 0) return { inputs: [...inputs] };
  const kind = stdinKind(stdin);
  if (kind === 'tty') return { inputs: [inputsDir] };
  if (kind === 'data' || kind === 'unknown') return { inputs: ['-'], inputsDirToo: kind === 'data' && isDir(inputsDir) };
  if (isDir(inputsDir)) {
    return { inputs: [inputsDir], note: `gempipe: no INPUT given and stdin holds nothing (/dev/null or an empty file, as under cron, systemd or nohup): reading ./${inputsDir}` };
  }
  throw new UsageError(`No INPUT given, stdin holds nothing (/dev/null or an empty file, as under cron, systemd or nohup) and there is no ./${inputsDir} directory: give files or directories as INPUT, pipe prompts into stdin, or make ./${inputsDir}`);
}
