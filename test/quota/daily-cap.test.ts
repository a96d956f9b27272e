import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DailyCap, describeReset, msUntilPacificMidnight, pacificDay } from '../../src/quota/daily-cap.js';
import { USAGE_FILE } from '../../src/output-layout.js';
import { tempDir } from '../helpers/util.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe('Pacific day arithmetic', () => {
  it('counts days and the time to midnight in America/Los_Angeles, across DST changes', () => {
    // 07:59 UTC on 23 Nov 2026 is 23:59 PST on the 22nd.
    expect(pacificDay(Date.parse('2026-11-23T07:59:00Z'))).toBe('2026-11-22');
    expect(pacificDay(Date.parse('2026-11-23T08:00:00Z'))).toBe('2026-11-23');
    expect(msUntilPacificMidnight(Date.parse('2026-11-23T07:59:00Z'))).toBe(60_000);
    // Summer (PDT, UTC-7): 06:30 UTC is 23:30 the day before.
    expect(pacificDay(Date.parse('2026-07-01T06:30:00Z'))).toBe('2026-06-30');
    expect(msUntilPacificMidnight(Date.parse('2026-07-01T06:30:00Z'))).toBe(30 * 60_000);
    expect(describeReset(Date.parse('2026-11-23T05:30:00Z'))).toBe('the quota resets at midnight Pacific time, in 2 h 30 min');
  });
});

describe('DailyCap', () => {
  it('grants up to the cap, persists the count per model and day, and starts afresh the next day', () => {
    let t = Date.parse('2026-11-23T12:00:00Z');
    const cap = new DailyCap(3, 'gemini-x', dir, () => t);
    expect([cap.take(), cap.take(), cap.take(), cap.take()]).toEqual([true, true, true, false]);
    cap.stop();
    const file = JSON.parse(readFileSync(join(dir, USAGE_FILE), 'utf8'));
    expect(file).toMatchObject({ day: '2026-11-23', requests: { 'gemini-x': 3 } });
    // A second run the same day shares the cap; another model has its own.
    const again = new DailyCap(3, 'gemini-x', dir, () => t);
    expect(again.used).toBe(3);
    expect(again.take()).toBe(false);
    again.stop();
    const other = new DailyCap(3, 'gemini-y', dir, () => t);
    expect(other.take()).toBe(true);
    other.stop();
    expect(JSON.parse(readFileSync(join(dir, USAGE_FILE), 'utf8')).requests).toEqual({ 'gemini-x': 3, 'gemini-y': 1 });
    // After midnight Pacific the count resets, also mid-run.
    const run = new DailyCap(3, 'gemini-x', dir, () => t);
    expect(run.take()).toBe(false);
    t = Date.parse('2026-11-24T08:00:01Z');
    expect(run.take()).toBe(true);
    expect(run.used).toBe(1);
    run.stop();
  });
});
