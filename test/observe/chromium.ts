// Headless Chromium for the report's tests: Debian's `chromium` (CI installs it with apt-get,
// like redis-server), driven by playwright-core against that binary — playwright-core never
// downloads a browser. findChromium() is undefined where there is none: the tests skip, saying so.

import { existsSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

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

/**
 * `file` opened in a new page of `browser`, until the report says it is ready; console errors and
 * warnings, page errors and every URL the page asked for are collected from the first moment.
 */
export async function openReportPage(browser: BrowserContext, file: string): Promise<{ page: Page; problems: string[]; requests: string[] }> {
  const problems: string[] = [];
  const requests: string[] = [];
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30_000 });
  return { page, problems, requests };
}

/** Each chart on the page: its id, whether it says it is drawn, its points, and pixels in a series' colour. */
export function readCharts(page: Page): Promise<Array<{ id: string; drawn: string | undefined; points: number; inked: number }>> {
  return page.$$eval('[data-chart]', (els) => els.map((el) => {
    const canvas = el.querySelector('canvas');
    // Pixels in a series' colour (the page's palette), anti-aliasing allowed for. (Any series:
    // one may lie under another, as the average in flight under the peak.)
    const palette = [[31, 111, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189]];
    let inked = 0;
    if (canvas) {
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 200 && palette.some(([r, g, b]) => Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40 && Math.abs(px[i + 2] - b) < 40)) inked++;
      }
    }
    return { id: (el as HTMLElement).dataset.chart!, drawn: (el as HTMLElement).dataset.drawn, points: Number((el as HTMLElement).dataset.points), inked };
  }));
}
