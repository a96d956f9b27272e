// The time series and report.html in an output directory, as runs and the other commands treat
// them: a run keeps one segment per run and --report writes the page (a page it cannot write only
// warns); --overwrite removes both; verify and merge ignore them; `gempipe report`'s exit codes
// (0 written or printed, 2 usage, 1 the page could not be written); `--report -o -` is refused.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { REPORT_FILE, SERIES_FILE } from '../../src/output/layout.js';
import { merge } from '../../src/output/merge.js';
import { verify } from '../../src/output/verify.js';
import { readSeries } from '../../src/observe/series-reader.js';
import { cli, env, MAIN } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();

describe('the series and the report in an output directory', () => {
  it('a run adds a segment, --report writes the page, --overwrite removes both, verify and merge ignore them', async () => {
    box.emu = await startEmulator({});
    const [input] = writeInputs(box.dir, 1, 30);
    const out = join(box.dir, 'out');
    const r1 = await runAgainst(box.emu, [input], { out, report: true });
    expect(r1.exitCode).toBe(0);
    expect(r1.report).toBe(join(out, REPORT_FILE));
    const r2 = await runAgainst(box.emu, [input], { out }); // all done: a second, empty segment
    expect(r2.skipped).toBe(30);
    expect((await readSeries(out)).segments.map((s) => s.end?.summary?.skipped)).toEqual([0, 30]);

    // verify reads records only: the series and the page are not records.
    expect(await verify({ out, inputs: [input] })).toMatchObject({ ok: true, problems: [], succeeded: 30 });
    // merge takes the parts' records, and neither file goes into the merged directory.
    const merged = join(box.dir, 'merged');
    const m = await merge({ out: merged, dirs: [out], say: () => {} });
    expect(m.succeeded).toBe(30);
    expect([existsSync(join(merged, SERIES_FILE)), existsSync(join(merged, REPORT_FILE))]).toEqual([false, false]);
    // And a directory holding only a series and a page takes a merge (it holds no records).
    const only = join(box.dir, 'only');
    mkdirSync(only);
    writeFileSync(join(only, SERIES_FILE), readFileSync(join(out, SERIES_FILE)));
    writeFileSync(join(only, REPORT_FILE), '<html></html>');
    expect((await merge({ out: only, dirs: [out], say: () => {} })).succeeded).toBe(30);

    // --overwrite starts afresh: the old runs' series and page go with their records.
    const r3 = await runAgainst(box.emu, [input], { out, overwrite: true });
    expect(r3.succeeded).toBe(30);
    expect(existsSync(join(out, REPORT_FILE))).toBe(false);
    expect((await readSeries(out)).segments).toHaveLength(1);
    expect(readOutputs(out).all).toHaveLength(30);
  });

  it('a report that cannot be written only warns: the run keeps its exit code', async () => {
    box.emu = await startEmulator({});
    const [input] = writeInputs(box.dir, 1, 5);
    const out = join(box.dir, 'out');
    mkdirSync(join(out, REPORT_FILE, 'in-the-way'), { recursive: true }); // report.html is a directory
    const r = await runAgainst(box.emu, [input], { out, report: true });
    expect(r.exitCode).toBe(0);
    expect(r.report).toBeUndefined();
    expect(r.stderr).toMatch(/gempipe: warning: the report was not written: /);
    expect(r.stderr).not.toMatch(/^ {2}report: /m);
  });

  it('the series is off with GEMPIPE_SERIES=off (the bench\'s A/B), and --report to stdout is a usage error', () => {
    const [input] = writeInputs(box.dir, 1, 3);
    const off = spawnSync(process.execPath, [MAIN, '--emulator', '-o', 'off', '-q', input], { env: { ...env(), GEMPIPE_SERIES: 'off' }, cwd: box.dir, encoding: 'utf8' });
    expect(off.status, off.stderr).toBe(0);
    expect(existsSync(join(box.dir, 'off', SERIES_FILE))).toBe(false);
    const on = cli(box.dir, ['--emulator', '-o', 'on', '-q', input]);
    expect(on.status, on.stderr).toBe(0);
    expect(existsSync(join(box.dir, 'on', SERIES_FILE))).toBe(true);
    const bad = cli(box.dir, ['--emulator', '-o', '-', '--report', input]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('`--report` writes OUT/report.html');
  });
});

describe('gempipe report', () => {
  it('exit 0 with the page written (or the text printed), 2 for a usage error, 1 when the page cannot be written', async () => {
    box.emu = await startEmulator({});
    const [input] = writeInputs(box.dir, 1, 10);
    const out = join(box.dir, 'out');
    expect((await runAgainst(box.emu, [input], { out })).exitCode).toBe(0);

    const html = cli(box.dir, ['report', '-o', 'out', '--max-points', '50']);
    expect(html.status, html.stderr).toBe(0);
    expect(html.stderr).toMatch(/^gempipe report: out\/report\.html \(\d+ KB, 1 run\(s\)\); open it in any browser, offline\n$/);
    expect(readFileSync(join(out, REPORT_FILE), 'utf8')).toMatch(/^<!doctype html>/i);
    const text = cli(box.dir, ['report', '-o', 'out', '--text']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/10 succeeded|succeeded\s+10/);

    for (const [args, says] of [
      [['report', '-o', 'nowhere'], 'No output directory at nowhere'],
      [['report', '-o', 'empty'], 'nothing to report'],
      [['report', '-o', 'out', '--max-points', '5'], 'Expected `--max-points` to be an integer from 10 to 1000000, got `5`'],
    ] as const) {
      if (args[2] === 'empty') mkdirSync(join(box.dir, 'empty'), { recursive: true });
      const r = cli(box.dir, [...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(says);
    }
    mkdirSync(join(box.dir, 'blocked', REPORT_FILE, 'in-the-way'), { recursive: true });
    writeFileSync(join(box.dir, 'blocked', SERIES_FILE), readFileSync(join(out, SERIES_FILE)));
    const failed = cli(box.dir, ['report', '-o', 'blocked']);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^gempipe: error: .*report\.html/m);
  });
});
