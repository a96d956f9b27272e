// CSV and JSONL field mistakes surface before the first request: a --template field, a
// --prompt-field or a --keep name the CSV header lacks, or a column named twice, is a usage error
// naming the column and the header's columns (the built CLI exits 2 having sent nothing);
// --csv-delimiter; --keep NAME:AS keeps a field under another name (`id` included); JSONL warns
// about a --keep field its first records lack; the progress total counts CSV records.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { countRecords } from '../../src/stages/read-inputs.js';
import { env, start } from '../helpers/cli-helpers.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

/** `n` tickets with a quoted, two-line message each (header: id,name,message). */
function tickets(path: string, n: number, sep = ','): void {
  let text = `id${sep}name${sep}message\r\n`;
  for (let i = 1; i <= n; i++) text += `${i}${sep}Ann ${i}${sep}"Line one of ${i}\r\nline two"\r\n`;
  writeFileSync(path, text);
}

describe('CSV header checked before anything is sent', () => {
  it('the built CLI: a --template column the header lacks exits 2 naming it and the columns; nothing sent, no directory made', async () => {
    const emu = await startEmulator({});
    try {
      const f = join(box.dir, 'tickets.csv');
      tickets(f, 2000);
      const p = start(['-o', join(box.dir, 'out'), '--input-format', 'csv', '--template', 'Reply to {{name}} about: {{mesage}}', f], { env: env(emu.url) });
      expect(await p.exited).toBe(2);
      expect(p.stderr()).toContain(`gempipe: error: \`--template\` uses {{mesage}}, which the CSV header of ${f} does not have (its columns: id, name, message)`);
      expect(emu.stats.requests).toBe(0);
      expect(readOutputs(box.dir).all).toEqual([]);
    } finally {
      await emu.close();
    }
  });

  it('--prompt-field and --keep names the header lacks, and a column named twice, are usage errors naming them', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 't.csv');
    tickets(f, 3);
    const out = join(box.dir, 'out');
    await expect(runAgainst(box.emu, [f], { out, inputFormat: 'csv' })).rejects.toThrow(`\`--prompt-field prompt\`: the CSV header of ${f} has no column "prompt" (its columns: id, name, message)`);
    await expect(runAgainst(box.emu, [f], { out, inputFormat: 'csv', promptField: 'message', keep: 'nmae,id:ticket' }))
      .rejects.toThrow(`\`--keep nmae\`: the CSV header of ${f} has no column "nmae" (its columns: id, name, message)`);
    const d = join(box.dir, 'dup.csv');
    writeFileSync(d, 'id,text,lang,text\n1,a,en,b\n');
    await expect(runAgainst(box.emu, [d], { out, inputFormat: 'csv', promptField: 'text' }))
      .rejects.toThrow(`The CSV header of ${d} names the column "text" twice (columns 2 and 4)`);
    // stdin: its header is checked too, and a good one is read on as the job.
    await expect(runAgainst(box.emu, ['-'], { out, inputFormat: 'csv', template: '{{nope}}' }, { stdin: 'id,text\n1,hello\n' }))
      .rejects.toThrow('`--template` uses {{nope}}, which the CSV header of stdin does not have (its columns: id, text)');
    expect(box.emu.stats.requests).toBe(0);
    const ok = await runAgainst(box.emu, ['-'], { out, inputFormat: 'csv', promptField: 'text', keep: 'id:ticket_id' }, { stdin: '\ufeffid,text\r\n7,"hello\r\nthere"\r\n8,bye\r\n' });
    expect(ok.exitCode).toBe(0);
    expect(readOutputs(out).all.map((r) => [r.id, r.prompt, r.ticket_id]).sort()).toEqual([['stdin:2', 'hello\nthere', '7'], ['stdin:4', 'bye', '8']]);
  });

  it('--csv-delimiter ; (and tab); --keep id:ticket_id keeps the id column, plain --keep id is refused with that suggestion', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'semi.csv');
    tickets(f, 3, ';');
    const out = join(box.dir, 'out');
    const r = await runAgainst(box.emu, [f], { out, inputFormat: 'csv', csvDelimiter: ';', template: '{{name}}: {{message}}', keep: 'id:ticket_id,name' });
    expect(r.exitCode).toBe(0);
    const recs = readOutputs(out).all.sort((a, b) => a.line - b.line);
    expect(recs.map((x) => [x.line, x.prompt, x.ticket_id, x.name])).toEqual([
      [2, 'Ann 1: Line one of 1\nline two', '1', 'Ann 1'], [4, 'Ann 2: Line one of 2\nline two', '2', 'Ann 2'], [6, 'Ann 3: Line one of 3\nline two', '3', 'Ann 3'],
    ]);
    const t = join(box.dir, 'tab.tsv');
    writeFileSync(t, 'id\tprompt\n1\tWhat is two times 3?\n');
    expect((await runAgainst(box.emu, [t], { out: join(box.dir, 'o2'), inputFormat: 'csv', csvDelimiter: 'tab' })).exitCode).toBe(0);
    expect(readOutputs(join(box.dir, 'o2')).all.map((x) => x.prompt)).toEqual(['What is two times 3?']);
    // Without the delimiter the header is one column, and the message says so.
    await expect(runAgainst(box.emu, [f], { out: join(box.dir, 'o3'), inputFormat: 'csv', template: '{{name}}' })).rejects.toThrow('(its columns: id;name;message)');
    await expect(runAgainst(box.emu, [f], { out, inputFormat: 'csv', csvDelimiter: ';', promptField: 'message', keep: 'id' }))
      .rejects.toThrow('`--keep id`: that is the name of a field every output record has (id, hash,');
    await expect(runAgainst(box.emu, [f], { out, inputFormat: 'csv', csvDelimiter: ';', promptField: 'message', keep: 'id' })).rejects.toThrow('e.g. `--keep id:input_id`');
    await expect(runAgainst(box.emu, [f], { out, inputFormat: 'csv', csvDelimiter: '""' })).rejects.toThrow('Expected `--csv-delimiter` to be one character');
    await expect(runAgainst(box.emu, [f], { out, csvDelimiter: ';' })).rejects.toThrow('`--csv-delimiter` needs `--input-format csv`');
  });

  it('JSONL: a --keep field none of the first 20 records has is warned about once; the run goes on', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'r.jsonl');
    writeFileSync(f, Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `What is two times ${i}?`, ticket: i, lang: 'en' })).join('\n') + '\n');
    const r = await runAgainst(box.emu, [f], { out: join(box.dir, 'out'), inputFormat: 'jsonl', keep: 'tiket,lang' });
    expect(r.exitCode).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning: `--keep'));
    expect(warnings).toEqual([`gempipe: warning: \`--keep tiket\`: none of the first 20 records has a field "tiket" (from ${f}:1); check its name — JSONL has no header to check it against, so a record without it is kept without it`]);
    expect(readOutputs(join(box.dir, 'out')).all.every((x) => x.lang === 'en' && !('tiket' in x))).toBe(true);
  });

  it('the progress total counts CSV records, not physical lines (quoted newlines, header, blank lines)', async () => {
    const f = join(box.dir, 'n.csv');
    tickets(f, 500);
    writeFileSync(join(box.dir, 'b.csv'), '\ufeffa,b\n\n1,"x\n\ny"\n2,z\n');
    const sources = [{ source: 'n.csv', path: f }, { source: 'b.csv', path: join(box.dir, 'b.csv') }];
    expect(await countRecords(sources, undefined, undefined, true)).toBe(502);
    expect(await countRecords(sources)).toBe(1005); // as text: every non-blank line
  });
});
