// syncDir(): fsync a directory, so that a rename or a new file in it survives a power loss.

import { open } from 'node:fs/promises';

export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* some filesystems cannot fsync a directory; the rename is still atomic */
  }
}
