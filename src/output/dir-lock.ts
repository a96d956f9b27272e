// One run per output directory (SPEC §10): an exclusive lock file, OUT/.gempipe.lock, made by
// link() of a fully written file (atomic, never seen half written) and holding the owner's pid, host and
// start time. A lock whose owner is a dead process on this host (a SIGKILL, a power loss) is
// taken over without a flag; one held by a live process, or by any process on another host
// (a shared filesystem: we cannot tell whether it lives), is not. Why not proper-lockfile: its
// staleness is an mtime that the owner must keep refreshing, so a live run that stalls (a
// laptop asleep) loses its lock and a crashed one blocks the directory until the timeout; the
// owner's pid on this host answers both exactly.

import { hostname } from 'node:os';
import { join } from 'node:path';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { LOCK_FILE, lockTmpName } from './layout.js';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it exists, owned by someone else
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isSafeInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined; // not a lock of ours (link() never shows a half-written one)
  }
}

/**
 * Takes the directory's lock or throws UsageError naming the owner. Returns the release
 * function and, when a dead owner's lock was taken over, who that was.
 */
export function lockOutputDir(dir: string): { release: () => void; tookOver?: LockOwner } {
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  let tookOver: LockOwner | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole to a private name, then linked to the lock's name: link() fails if the
    // name exists (atomic), and a reader never sees a lock file half written.
    const tmp = join(dir, lockTmpName(me.pid));
    try {
      writeFileSync(tmp, JSON.stringify(me) + '\n');
    } catch (e) {
      try {
        unlinkSync(tmp); // a full disk leaves no stray lock file
      } catch {
        /* never made */
      }
      (e as NodeJS.ErrnoException).path ??= path;
      throw e;
    }
    try {
      linkSync(tmp, path);
      unlinkSync(tmp);
      let released = false;
      return {
        tookOver,
        release: () => {
          if (released) return;
          released = true;
          // Only our own lock: never one a later run took over.
          if (readOwner(path)?.pid === me.pid && readOwner(path)?.host === me.host) {
            try {
              unlinkSync(path);
            } catch {
              /* already gone */
            }
          }
        },
      };
    } catch (e) {
      unlinkSync(tmp);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(path);
    if (owner && (owner.host !== me.host || alive(owner.pid))) {
      const where = owner.host === me.host ? '' : ` on host ${owner.host} (a shared filesystem: gempipe cannot tell whether it still runs; remove ${path} if it does not)`;
      throw new UsageError(`Another gempipe run is using \`--out ${dir}\`: pid ${owner.pid}${where}, started ${owner.startedAt}. Wait for it to finish, or give another --out`);
    }
    // The owner is dead (or the file is unreadable): take it over. Remove, then link() again
    // (the next turn of the loop), so two runs taking over at once still end with one owner.
    tookOver = owner;
    try {
      unlinkSync(path);
    } catch {
      /* another run removed it first */
    }
  }
  throw new UsageError(`Cannot take the lock ${path}: other runs keep taking it`);
}

/** Who holds the directory's lock now (a live process here, or any on another host), if anyone. */
export function lockHolder(dir: string): LockOwner | undefined {
  const owner = readOwner(join(dir, LOCK_FILE));
  return owner && (owner.host !== hostname() || alive(owner.pid)) ? owner : undefined;
}
