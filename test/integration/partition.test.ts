// --partition i/N + gempipe merge: three parts merged equal one run of the whole job; verify
// passes on the merged directory; conflicting answers and a non-empty target are refused.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { merge } from '../../src/output/merge.js';
import { idHash, parsePartition } from '../../src/partition.js';
import { isFailure } from '../../src/records.js';
import { verify, jobShape } from '../../src/output/verify.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox, writeInputs } from '../helpers/util.js';

const box = sandbox();
const view = (dir: string) => readOutputs(dir).all.map((r) => `${r.id} ${r.hash} ${isFailure(r) ? r.error.status : r.response}`).sort();

describe('--partition and merge', () => {
  it('three parts, merged, equal a single run; verify passes; the parts split the ids evenly enough', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 3, 200, (f, l) => (f === 1 && l === 7 ? `blocked [[emu:block]]` : `part test ${f}-${l}`));
    const single = join(box.dir, 'single');
    expect((await runAgainst(box.emu, inputs, { out: single })).exitCode).toBe(3);
    const parts = [1, 2, 3].map((i) => join(box.dir, `p${i}`));
    let total = 0;
    for (const [i, out] of parts.entries()) {
      const r = await runAgainst(box.emu, inputs, { out, partition: `${i + 1}/3` });
      total += r.succeeded + r.failed;
      expect(r.succeeded + r.failed).toBeGreaterThan(150); // 600 / 3, give or take
    }
    expect(total).toBe(600);
    const merged = join(box.dir, 'merged');
    const m = await merge({ out: merged, dirs: parts, say: () => {} });
    expect(m).toMatchObject({ succeeded: 599, failed: 1, duplicates: 0, notes: [] });
    expect(view(merged)).toEqual(view(single));
    const v = await verify({ out: merged, inputs, shape: jobShape(merged, {}).shape });
    expect(v.problems).toEqual([]);
    // A part checks against its own share of the inputs.
    expect((await verify({ out: parts[0], inputs, shape: jobShape(parts[0], {}).shape })).problems).toEqual([]);
  });

  it('refuses different answers for one id, and a target that already holds records', async () => {
    box.emu = await startEmulator({});
    const inputs = writeInputs(box.dir, 1, 20);
    const a = join(box.dir, 'a');
    const b = join(box.dir, 'b');
    await runAgainst(box.emu, inputs, { out: a });
    await runAgainst(box.emu, inputs, { out: b, system: 'Answer in French.' });
    // Two whole runs are not parts of one job (merge-parts.test.ts); with --allow-partial the answers still must agree.
    await expect(merge({ out: join(box.dir, 'm1'), dirs: [a, b], say: () => {} })).rejects.toThrow(/merge refused: .*part 1\/1 is given twice/);
    await expect(merge({ out: join(box.dir, 'm1'), dirs: [a, b], allowPartial: true, say: () => {} })).rejects.toThrow(/20 id\(s\) have different answers in the directories given/);
    await expect(merge({ out: a, dirs: [b], say: () => {} })).rejects.toThrow(/already holds records/);
    // The same directory twice is refused; with --allow-partial it is found twice and written once.
    await expect(merge({ out: join(box.dir, 'm2'), dirs: [a, a], say: () => {} })).rejects.toThrow(`${a} is given twice`);
    const m = await merge({ out: join(box.dir, 'm2'), dirs: [a, a], allowPartial: true, say: () => {} });
    expect(m).toMatchObject({ succeeded: 20, duplicates: 20 });
  });

  it('parses i/N and hashes ids the same everywhere', () => {
    expect(parsePartition('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/3', '4/3', '1/0', 'a/b', '1-3']) expect(() => parsePartition(bad)).toThrow(/Expected `--partition` to be i\/N/);
    expect(idHash('inputs/a.txt:1')).toBe(idHash('inputs/a.txt:1'));
    expect(idHash('')).toBe(0x811c9dc5);
  });
});
