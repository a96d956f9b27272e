// The writer's space in reserve (OUT/.gempipe-reserve), made before the first request: a run that
// cannot keep it — a disk still nearly full after a run that filled it — sends nothing and says
// so (exit 1), instead of paying for answers it then cannot write. Start-up writes that fail for
// lack of space say the same, naming the file. The rotating writer adopts the reserve made here.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FatalRunError } from '../errors.js';
import { RESERVE_FILE } from './layout.js';

const SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** 16 KB per request in flight, 256 KB to 8 MB: room for the answers on the wire when the disk fills. */
export function reserveBytesFor(concurrency: number): number {
  return Math.min(8 << 20, Math.max(256 << 10, concurrency * (16 << 10)));
}

/** The fault of a write that found no space, naming the file; undefined for any other error. */
export function noSpaceError(e: unknown, path: string, what = 'nothing was sent'): FatalRunError | undefined {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !SPACE.has(code)) return undefined;
  const where = (e as NodeJS.ErrnoException).path ?? path;
  return new FatalRunError('DISK_FULL', `cannot write ${where}: ${code === 'EDQUOT' ? 'disk quota exceeded' : 'disk full'}; ${what}. Free space, then rerun the same command to resume`, { cause: e });
}

/** Writes the reserve, or throws (exit 1) having removed what it wrote. */
export function makeReserve(dir: string, bytes: number, concurrency: number): void {
  const path = join(dir, RESERVE_FILE);
  try {
    writeFileSync(path, Buffer.alloc(bytes));
  } catch (e) {
    try {
      rmSync(path, { force: true });
    } catch {
      /* nothing to remove */
    }
    const smaller = concurrency * (16 << 10) > 256 << 10 ? ' (or give a smaller --concurrency: the reserve is 16 KB per request in flight, at least 256 KB)' : '';
    const full = noSpaceError(e, path);
    if (full) {
      throw new FatalRunError('DISK_FULL', `cannot keep ${Math.round(bytes / 1024)} KB free in ${path}, the space a run keeps to write the answers in flight when the disk fills: disk full; nothing was sent. Free space${smaller}, then rerun the same command to resume`, { cause: e });
    }
    throw new FatalRunError('WRITE_FAILED', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; nothing was sent`, { cause: e });
  }
}

/** Removes the reserve (the end of a run that never opened its writer). */
export function dropReserve(dir: string): void {
  try {
    rmSync(join(dir, RESERVE_FILE), { force: true });
  } catch {
    /* best effort */
  }
}
