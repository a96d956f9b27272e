// Headless Chromium for the report's tests: Debian's `chromium` (CI installs it with apt-get,
// like redis-server), driven by playwright-core against that binary — playwright-core never
// downloads a browser. findChromium() is undefined where there is none: the tests skip, saying so.

import { existsSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** $GEMPIPE_CHROMIUM, /usr/bin/chromium, or `chromium` on the PATH. */
export function findChromium(): string | undefined {
  const given = process.env.GEMPIPE_CHROMIUM;
  if (given) return existsSync(given) ? given : undefined;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

/** The flags that work here: no sandbox (containers), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A headless browser with a fresh profile (--user-data-dir in a new temp dir). */
export async function launchChromium(executablePath: string, profileDir = mkdtempSync(join(tmpdir(), 'gempipe-chromium-'))): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
}
