// The emulator's quota family (issue 19): RetryInfo styles (whole seconds rounded up by default, as
// Google writes it, the exact wait in the message), a bucket down to 50 ms of burst, a limit
// schedule that halves the limit mid-run and restores it, shared-capacity 429s, and the per-second
// admitted/refused counters a benchmark computes utilisation from. Time is the emulator's clock
// with only `Date` faked, so nothing sleeps and every count is exact.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createQuota, limitAt, quota429, retryDelayOf } from '../../src/emulator/quota.js';
import { startEmulator } from '../../src/emulator/server.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();
afterEach(() => {
  vi.useRealTimers();
});

async function ask(url: string, prompt = 'hello'): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v1beta/models/gemini-2.0-flash:generateContent`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' },
    body: JSON.stringify({ contents: [{ parts: [{ text: prompt }] }] }),
  });
  return { status: r.status, body: await r.json() };
}

async function burst(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await ask(url, `q${i}`)).status);
  return out;
}

const retryInfo = (body: any) => body.error.details?.find((d: { '@type': string }) => d['@type'].endsWith('RetryInfo'))?.retryDelay;

describe('emulator quota: RetryInfo', () => {
  it('writes retryDelay in each style; the message keeps the exact wait', () => {
    expect(retryDelayOf(20, 'whole')).toBe('1s');
    expect(retryDelayOf(25_300, 'whole')).toBe('26s');
    expect(retryDelayOf(26_000, 'whole')).toBe('26s');
    expect(retryDelayOf(24_046, 'floor')).toBe('24s');
    expect(retryDelayOf(300, 'floor')).toBe('0s');
    expect(retryDelayOf(20, 'exact')).toBe('0.02s');
    expect(retryDelayOf(1500, { fixed: 10 })).toBe('10s');
    expect(retryDelayOf(1500, 'none')).toBeUndefined();
    const e = quota429('minute', 25_300, 'gemini-x', 60);
    expect(e.message).toContain('Please retry in 25.3s.');
    expect(e.message).toContain('Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_requests, limit: 60, model: gemini-x');
    expect(retryInfo({ error: e })).toBe('26s');
    const none = quota429('minute', 25_300, 'gemini-x', undefined, 'none');
    expect(retryInfo({ error: none })).toBeUndefined();
    expect(none.message).not.toContain('Please retry');
    expect(quota429('day', 0, 'gemini-x').details!.some((d) => String((d as Record<string, unknown>)['@type']).endsWith('RetryInfo'))).toBe(false);
  });

  it('the server\'s quota 429s carry whole seconds by default, the exact wait with `retryInfo: "exact"`', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    box.emu = await startEmulator({ rpm: 600 }); // 10 a second, a bucket of one second
    const statuses = await burst(box.emu.url, 11);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    const r = await ask(box.emu.url);
    expect(r.status).toBe(429);
    expect(retryInfo(r.body)).toBe('1s');
    expect(r.body.error.message).toMatch(/Please retry in 0\.1s\.$/);
    await box.emu.close();
    box.emu = await startEmulator({ rpm: 600, retryInfo: 'exact' });
    await burst(box.emu.url, 10);
    expect(retryInfo((await ask(box.emu.url)).body)).toBe('0.1s');
  });
});

describe('emulator quota: enforcement', () => {
  it('a bucket of 50 ms of the rate holds a burst of exactly that', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = Date.now();
    box.emu = await startEmulator({ rpm: 6000, quota: { burstMs: 50 } }); // 100/s: 5 at once
    expect(await burst(box.emu.url, 7)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    vi.setSystemTime(t + 10); // one request's worth refilled
    expect(await burst(box.emu.url, 2)).toEqual([200, 429]);
    const q = createQuota(6000, { burstMs: 50 });
    expect([0, 0, 0, 0, 0].map(() => q.take(1, 0))).toEqual([0, 0, 0, 0, 0]);
    expect(q.take(1, 0)).toBe(10);
  });

  it('a limit schedule halves the limit mid-run and restores it; per-second stats show admitted, refused and the limit', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = Date.now();
    box.emu = await startEmulator({
      limitSchedule: [{ atMs: 0, perMinute: 6000 }, { atMs: 30_000, perMinute: 3000 }, { atMs: 60_000, perMinute: 6000 }],
      quota: { mode: 'fixed-window', windowMs: 1000 }, quotaValue: true,
    });
    const ok = (s: number[]) => s.filter((x) => x === 200).length;
    expect(ok(await burst(box.emu.url, 120))).toBe(100);
    vi.setSystemTime(t + 30_000);
    expect(ok(await burst(box.emu.url, 60))).toBe(50);
    const refused = await ask(box.emu.url);
    expect(refused.body.error.details[0].violations[0].quotaValue).toBe('3000');
    vi.setSystemTime(t + 60_000);
    expect(ok(await burst(box.emu.url, 120))).toBe(100);
    const s = box.emu.stats.perSecond;
    expect(s[0]).toEqual({ admitted: 100, refused: 20, capacity429: 0, rpm: 6000 });
    expect(s[30]).toEqual({ admitted: 50, refused: 11, capacity429: 0, rpm: 3000 });
    expect(s[60]).toEqual({ admitted: 100, refused: 20, capacity429: 0, rpm: 6000 });
    expect(s[15]).toEqual({ admitted: 0, refused: 0, capacity429: 0 });
    expect(box.emu.stats).toMatchObject({ admitted: 250, quota429: 51 });
    // The schedule runs on the quota's time scale, like its windows.
    expect(limitAt([{ atMs: 0, perMinute: 10 }, { atMs: 60_000, perMinute: 20 }], 999, 60)).toBe(10);
    expect(limitAt([{ atMs: 0, perMinute: 10 }, { atMs: 60_000, perMinute: 20 }], 1000, 60)).toBe(20);
  });

  it('shared-capacity 429s fall on admitted requests, without details, and are counted apart', async () => {
    box.emu = await startEmulator({ capacity429Rate: 0.3, seed: 5 });
    const statuses = await burst(box.emu.url, 100);
    const n = statuses.filter((s) => s === 429).length;
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThan(50);
    expect(box.emu.stats).toMatchObject({ admitted: 100, capacity429: n, quota429: 0, http429: n });
    const sum = box.emu.stats.perSecond.reduce((a, x) => a + x.capacity429, 0);
    expect(sum).toBe(n);
  });

  it('refuses options out of range, naming them', async () => {
    await expect(startEmulator({ retryInfo: 'sometimes' as never })).rejects.toThrow(/Expected `retryInfo` to be/);
    await expect(startEmulator({ limitSchedule: [{ atMs: 5000, perMinute: 10 }, { atMs: 0, perMinute: 5 }], rpm: 10 })).rejects.toThrow(/Expected `limitSchedule`/);
    await expect(startEmulator({ limitSchedule: [{ atMs: 5000, perMinute: 10 }] })).rejects.toThrow(/first step is at 0/);
    await expect(startEmulator({ quota: { burstMs: 0 } })).rejects.toThrow(/Expected `quota.burstMs`/);
    await expect(startEmulator({ capacity429Rate: 2 })).rejects.toThrow(/Expected `capacity429Rate` to be a number from 0 to 1/);
  });
});
