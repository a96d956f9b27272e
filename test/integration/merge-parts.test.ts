// gempipe merge takes every finished part of one job, each once: the same directory twice, one
// part of two, a SIGKILLed part, or parts asked differently are refused (exit 2) naming what is
// missing; --allow-partial merges anyway and says the same. The built CLI as a user runs it.

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { verify } from '../../src/output/verify.js';
import { cli, env, start, until } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();

describe('merge checks its parts', () => {
  it('tp1 twice, one part of two, a SIGKILLed part: refused naming what is missing; --allow-partial merges and says it; both parts whole: merged, verify passes', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 2, 100);
    const [tp1, tp2] = [join(box.dir, 'tp1'), join(box.dir, 'tp2')];
    expect((await runAgainst(box.emu, inputs, { out: tp1, partition: '1/2' })).exitCode).toBe(0);

    const twice = cli(box.dir, ['merge', '-o', 'm1', tp1, tp1]);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toContain(`${tp1} is given twice: each part once`);
    expect(twice.stderr).toContain('part 2/2 of 2 is not given');
    const one = cli(box.dir, ['merge', '-o', 'm2', tp1]);
    expect(one.status).toBe(2);
    expect(one.stderr).toContain('gempipe: error: merge refused: the directories are not every part of one finished job — part 2/2 of 2 is not given. Merge anyway with --allow-partial');

    // Part 2 killed mid-run: its job file says it did not finish.
    const slow = await startEmulator({ latencyMs: 20 });
    try {
      const p = start(['-o', tp2, '--partition', '2/2', '--rpm', 'off', '--concurrency', '2', ...inputs], { env: env(slow.url) });
      await until(() => slow.stats.ok >= 10);
      p.child.kill('SIGKILL');
      expect(await p.exited).toBe('SIGKILL');
    } finally {
      await slow.close();
    }
    const killed = cli(box.dir, ['merge', '-o', 'm3', tp1, tp2]);
    expect(killed.status).toBe(2);
    expect(killed.stderr).toContain(`part 2/2 (${tp2}) did not finish: its last run stopped before every input line of its share had a record`);
    const partial = cli(box.dir, ['merge', '-o', 'm4', '--allow-partial', tp1, tp2]);
    expect(partial.status, partial.stderr).toBe(0);
    expect(partial.stderr).toContain(`gempipe merge: --allow-partial: part 2/2 (${tp2}) did not finish`);
    expect(readOutputs(join(box.dir, 'm4')).all.length).toBeLessThan(200);

    // Part 2 resumed to its end: the merge is whole, and so is the job.
    expect((await runAgainst(box.emu, inputs, { out: tp2, partition: '2/2' })).exitCode).toBe(0);
    const whole = cli(box.dir, ['merge', '-o', 'm5', tp2, tp1]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(readOutputs(join(box.dir, 'm5')).all).toHaveLength(200);
    expect((await verify({ out: join(box.dir, 'm5'), inputs })).problems).toEqual([]);
  });

  it('a run that stops with a usage error, nothing sent (a --metrics port taken), leaves a finished part finished', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 2, 50);
    const [tp1, tp2] = [join(box.dir, 'tp1'), join(box.dir, 'tp2')];
    expect((await runAgainst(box.emu, inputs, { out: tp1, partition: '1/2' })).exitCode).toBe(0);
    expect((await runAgainst(box.emu, inputs, { out: tp2, partition: '2/2' })).exitCode).toBe(0);
    const taken = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', () => res()));
    try {
      const port = (taken.address() as AddressInfo).port;
      await expect(runAgainst(box.emu, inputs, { out: tp1, partition: '1/2', metrics: `127.0.0.1:${port}` })).rejects.toThrow(/the port is in use/);
    } finally {
      taken.close();
    }
    const merged = cli(box.dir, ['merge', '-o', 'm', tp1, tp2]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(readOutputs(join(box.dir, 'm')).all).toHaveLength(100);
  });

  it('parts asked differently, and a part with records removed since it finished, are refused', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 60);
    const [a, b] = [join(box.dir, 'a'), join(box.dir, 'b')];
    await runAgainst(box.emu, inputs, { out: a, partition: '1/2' });
    await runAgainst(box.emu, inputs, { out: b, partition: '2/2', system: 'Answer in French.' });
    const r = cli(box.dir, ['merge', '-o', 'm', a, b]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('the parts asked differently');
    const c = join(box.dir, 'c');
    await runAgainst(box.emu, inputs, { out: c, partition: '2/2' });
    expect(cli(box.dir, ['merge', '-o', 'm', a, c]).status).toBe(0);
    const shard = join(a, 'shard-00000.jsonl');
    const lines = readFileSync(shard, 'utf8').split('\n');
    writeFileSync(shard, lines.slice(1).join('\n'));
    const cut = cli(box.dir, ['merge', '-o', 'm6', a, c]);
    expect(cut.status).toBe(2);
    expect(cut.stderr).toContain(`part 1/2 (${a}) holds ${lines.length - 2} record(s), fewer than the ${lines.length - 1} its finished run left: records were removed since`);
  });
});
