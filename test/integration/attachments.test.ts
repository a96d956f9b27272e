// --attach end to end against the emulator, which names each image's SHA-256 in its answer: 1,000
// records naming 200 distinct images (20 over the inline limit: sparse files) send each large
// image once and every record its own image; a later run reuses the uploads; a SIGKILL during the
// uploads and a rerun upload no image twice and write every record once; an edited image is
// caught by the content check before anything is sent; a missing file fails its record only.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { verify, jobShape } from '../../src/output/verify.js';
import type { SuccessRecord } from '../../src/records.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { expectExactlyOnce, readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** 200 images (every tenth 1 MiB, sparse: over --inline-max 64k) and a JSONL of 1,000 records, record i naming image i % 200. */
function job(dir: string, records = 1000, images = 200): { input: string; shaOf: string[]; large: Set<number> } {
  mkdirSync(join(dir, 'img'), { recursive: true });
  const shaOf: string[] = [];
  const large = new Set<number>();
  for (let i = 0; i < images; i++) {
    const path = join(dir, 'img', `${i}.png`);
    const head = Buffer.concat([PNG, randomBytes(64)]);
    if (i % 10 === 0) {
      const fd = openSync(path, 'w');
      writeSync(fd, head);
      ftruncateSync(fd, 1024 * 1024);
      closeSync(fd);
      large.add(i);
      shaOf.push(sha(Buffer.concat([head, Buffer.alloc(1024 * 1024 - head.length)])));
    } else {
      writeFileSync(path, head);
      shaOf.push(sha(head));
    }
  }
  const input = join(dir, 'photos.jsonl');
  let text = '';
  for (let r = 0; r < records; r++) text += JSON.stringify({ prompt: `Describe photo ${r}`, image: `img/${r % images}.png`, n: r }) + '\n';
  writeFileSync(input, text);
  return { input, shaOf, large };
}

function expectOwnImages(out: string, shaOf: string[], n: number): void {
  const recs = readOutputs(out).all as SuccessRecord[];
  expect(recs).toHaveLength(n);
  for (const r of recs) {
    const i = (r.n as number) % shaOf.length;
    expect(r.response, r.id).toContain(`image/png sha256:${shaOf[i].slice(0, 16)}`);
    expect(r.attachments).toEqual([expect.objectContaining({ field: 'image', sha256: shaOf[i] })]);
  }
}

describe('--attach', () => {
  it('1,000 records naming 200 images: each large image uploaded once, every record answered about its own image; a later run reuses the uploads', async () => {
    box.emu = await startEmulator({});
    const { input, shaOf, large } = job(box.dir);
    const out = join(box.dir, 'out');
    const raw = { out, inputFormat: 'jsonl', attach: 'image', keep: 'n', inlineMax: '64k', concurrency: '32' };
    const first = await runAgainst(box.emu, [input], raw);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(box.emu.batch.uploads).toBe(large.size);
    expectOwnImages(out, shaOf, 1000);
    const recs = readOutputs(out).all as SuccessRecord[];
    expect(recs.filter((r) => (r.attachments as Array<{ via: string }>)[0].via === 'file')).toHaveLength(large.size * 5);
    expect((await verify({ out, inputs: [input], shape: jobShape(out, {}).shape })).problems).toEqual([]);

    const again = await runAgainst(box.emu, [input], { ...raw, overwrite: true });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(box.emu.batch.uploads).toBe(large.size); // the journal's uploads, still on the service
    expectOwnImages(out, shaOf, 1000);
  });

  it('SIGKILL during the uploads, then a rerun: no image uploaded twice, every record exactly once', async () => {
    const { input, shaOf, large } = job(box.dir);
    const out = join(box.dir, 'out');
    let child: ReturnType<typeof start> | undefined;
    let finalized = 0;
    box.emu = await startEmulator({
      onBatchEvent: (k) => {
        if (k === 'upload' && ++finalized === 7 && child) child.child.kill('SIGKILL');
      },
    });
    const args = ['-o', out, '--input-format', 'jsonl', '--attach', 'image', '--keep', 'n', '--inline-max', '64k', '--rpm', 'off', '--concurrency', '32', input];
    child = start(args, { env: env(box.emu.url) });
    expect(await child.exited).toBe('SIGKILL');
    const before = box.emu.batch.uploads;
    expect(before).toBeGreaterThanOrEqual(7);
    expect(before).toBeLessThan(large.size);
    child = undefined;
    const rerun = start(args, { env: env(box.emu.url) });
    expect(await rerun.exited, rerun.stderr()).toBe(0);
    expect(box.emu.batch.uploads).toBe(large.size);
    expect(rerun.stderr()).toContain('uploaded before a stop; taking it rather than uploading again');
    expectExactlyOnce(out, 1000);
    expectOwnImages(out, shaOf, 1000);
  });

  it('an edited image is caught by the content check before anything is sent; --redo-changed asks its records again; a missing file fails only its record', async () => {
    box.emu = await startEmulator({});
    const { input, shaOf } = job(box.dir, 50, 10);
    const out = join(box.dir, 'out');
    const raw = { out, inputFormat: 'jsonl', attach: 'image', keep: 'n' };
    expect((await runAgainst(box.emu, [input], raw)).exitCode).toBe(0);
    const sent = box.emu.stats.requests;
    // Same size, other bytes: only the content tells.
    const edited = Buffer.concat([PNG, randomBytes(64)]);
    writeFileSync(join(box.dir, 'img', '3.png'), edited);
    await expect(runAgainst(box.emu, [input], raw)).rejects.toThrow(/5 input line\(s\) changed since their records were written .*first: .*photos\.jsonl:4 — the prompt is the same, .*an attachment's bytes \(--attach\)/);
    expect(box.emu.stats.requests).toBe(sent);
    const redo = await runAgainst(box.emu, [input], { ...raw, redoChanged: true });
    expect(redo).toMatchObject({ exitCode: 0, succeeded: 5 });
    expect(box.emu.stats.requests).toBe(sent + 5);
    expectOwnImages(out, shaOf.map((s, i) => (i === 3 ? sha(edited) : s)), 50);

    // A record naming a file that is not there: INVALID_INPUT naming field, line and file; the others go on.
    const more = join(box.dir, 'more.jsonl');
    writeFileSync(more, JSON.stringify({ prompt: 'a', image: 'img/1.png' }) + '\n' + JSON.stringify({ prompt: 'b', image: 'img/none.png' }) + '\n');
    const r = await runAgainst(box.emu, [more], { out: join(box.dir, 'out2'), inputFormat: 'jsonl', attach: 'image' });
    expect(r).toMatchObject({ exitCode: 3, succeeded: 1, failedByStatus: { INVALID_INPUT: 1 } });
    const [f] = readOutputs(join(box.dir, 'out2')).failures;
    expect(f).toMatchObject({ line: 2, attempts: 0, error: { status: 'INVALID_INPUT', message: `line 2 of ${more}: field "image" (--attach) names img/none.png, which does not exist (${join(box.dir, 'img', 'none.png')})` } });
    expect(readFileSync(more, 'utf8')).toContain('none.png');
  });
});
