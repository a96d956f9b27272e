// fdBudget(): how many connections a run may open so that sockets, input files and output files
// together stay under the process's open-file limit (`ulimit -n`), decided before anything is
// opened — instead of EMFILE part-way through a run. Requests beyond the connections wait in the
// transport's queue for a free one (they still count against --concurrency). Linux reads the
// limit and the descriptors already open from /proc; elsewhere no cap is applied.

import { readdirSync, readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** Most connections a run opens whatever the limit (undici pool size). */
export const MAX_CONNECTIONS = 256;
/** Output files (two shards during rotation, failures.jsonl, the reserve), state files, the lock, and slack. */
const OUTPUT_FDS = 8;
const SLACK = 16;

export interface FdBudget {
  connections: number;
  /** Input files open at once: --open-files, or fewer when the limit is tight. */
  openFiles: number;
  /** Said when the limit, not the flags, set these numbers. */
  note?: string;
}

/** The soft open-file limit and the descriptors open now, or undefined where /proc is absent. */
export function readFdLimit(): { limit: number; open: number } | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    const limit = m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
    return { limit, open: readdirSync('/proc/self/fd').length };
  } catch {
    return undefined;
  }
}

export function fdBudget(o: { concurrency: number; openFiles: number; inProcessEmulator: boolean }, fds = readFdLimit()): FdBudget {
  const wanted = Math.min(o.concurrency, MAX_CONNECTIONS);
  if (!fds) return { connections: wanted, openFiles: o.openFiles };
  // An in-process emulator holds the server side of each connection too, and a listening socket.
  const perConnection = o.inProcessEmulator ? 2 : 1;
  const free = fds.limit - fds.open - OUTPUT_FDS - SLACK - (o.inProcessEmulator ? 1 : 0);
  if (free < 1 + perConnection) {
    throw new UsageError(`The open-file limit (\`ulimit -n\` ${fds.limit}, ${fds.open} open already) leaves no room for an input file and a connection: raise it (\`ulimit -n 4096\`)`);
  }
  // Input files take at most a quarter of what is free; connections the rest.
  const openFiles = Math.min(o.openFiles, Math.max(1, Math.floor(free / 4)));
  const connections = Math.min(wanted, Math.floor((free - openFiles) / perConnection));
  const cut: string[] = [];
  if (connections < wanted) cut.push(`at most ${connections} connections at once (--concurrency ${o.concurrency} asks for ${wanted})`);
  if (openFiles < o.openFiles) cut.push(`${openFiles} input files open at once (not --open-files ${o.openFiles})`);
  if (cut.length === 0) return { connections, openFiles };
  return { connections, openFiles, note: `${cut.join(' and ')}: the open-file limit is ${fds.limit} (\`ulimit -n\`); raise it for more` };
}
