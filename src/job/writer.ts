// The job's writer: shards (the rotating writer) or stdout. Each batch written is told once, in
// order, to the resume state (seen, succeeded, failed) and then to every onWritten listener — a
// coordinator removing answered jobs, batch mode marking a job written — instead of a closure in
// run() that knew each of them. A write that fails (disk full) stops the sending for good: the
// answers already on the wire are kept and written when there is room, then the run ends.

import type { Writable } from 'node:stream';
import type { Options } from '../cli/options.js';
import type { IdSet } from '../output/id-set.js';
import type { OutputState } from '../output/output-state.js';
import { reserveBytesFor } from '../output/reserve.js';
import { isFailure, type OutputRecord } from '../records.js';
import type { Dedupe } from '../reuse/dedupe.js';
import { createRotatingWriter, writeErrorText } from '../stages/rotating-writer.js';
import { createStdoutWriter } from '../stages/stdout-writer.js';
import type { RunStats } from '../stats.js';

export type WrittenListener = (records: readonly OutputRecord[]) => void;

export function openJobWriter(j: {
  options: Options;
  stdout: NodeJS.WritableStream;
  stats: RunStats;
  state?: OutputState;
  seen?: IdSet;
  dedupe?: Dedupe;
  listeners: readonly WrittenListener[];
  /** A write failed and is retried: stop sending, say why (once). */
  onStall: (message: string) => void;
  say: (line: string) => void;
  /** Runs when the job's runner is done (the stdout error listener comes off). */
  defer: (close: () => unknown) => void;
}): Writable {
  const o = j.options;
  if (o.out === '-') {
    // A closed pipe fails the write (EPIPE), which ends the run quietly (outcome.ts); this
    // listener keeps the stream's own 'error' from being unhandled meanwhile.
    const sink = () => {};
    j.stdout.on('error', sink);
    j.defer(() => j.stdout.off('error', sink));
    return createStdoutWriter({ stream: j.stdout, format: o.format, stats: j.stats });
  }
  const { state, seen } = j;
  return createRotatingWriter({
    dir: o.out, shardSize: o.shardSize, shardBytes: o.shardBytes, firstShard: state?.nextShard ?? 0,
    fsync: o.fsync, stats: j.stats, retryForMs: o.writeRetrySec * 1000,
    onLocated: j.dedupe ? (r, path, offset, bytes) => j.dedupe!.located(r, path, offset, bytes) : undefined,
    reserveBytes: reserveBytesFor(o.concurrency),
    onStall: (w) => {
      const space = w.code === 'ENOSPC' || w.code === 'EDQUOT';
      j.onStall(`${writeErrorText(w.code)} writing ${w.path}; ${space ? 'free space' : 'fix it'} — retrying for ${o.writeRetrySec} s. No new request is sent; the answers received and in flight (${j.stats.inFlight}) are kept and written${space ? ' into the space gempipe kept in reserve' : ''}, then the run ends: rerun the same command to resume`);
    },
    onRecover: (path, waitedMs) => j.say(`gempipe: ${path} written after ${(waitedMs / 1000).toFixed(1)} s`),
    onWritten: (records) => {
      for (const r of records) {
        seen?.add(r.source, r.line);
        if (isFailure(r)) state?.failed.add(r.source, r.line);
        else state?.succeeded.add(r.source, r.line);
      }
      for (const l of j.listeners) l(records);
    },
  });
}
