// --input-format csv through the real pipeline against the emulator: a BOM, CRLF, quotes,
// doubled quotes, an embedded newline (the record keeps the line it starts on), a blank line, a
// ragged row and an unclosed quote as INVALID_INPUT failures naming the line; resume by id.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import type { FailureRecord, SuccessRecord } from '../../src/records.js';
import { runAgainst } from '../helpers/run-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

describe('CSV input', () => {
  it('quotes, embedded newlines, a BOM, CRLF, a ragged row and an unclosed quote; resume skips what is done', async () => {
    box.emu = await startEmulator({ trackPrompts: true });
    const f = join(box.dir, 'reviews.csv');
    writeFileSync(f, '\ufeffrid,text,lang\r\n'
      + '1,"Great, really ""great"" product",en\r\n'
      + '2,"Line one\r\nline two",en\r\n'
      + '\r\n'
      + '3,short,fr,EXTRA\r\n'
      + '4,plain,de\r\n'
      + '5,"never closed,en\r\n'
      + '6,x,y\r\n');
    const out = join(box.dir, 'out');
    const opts = { out, inputFormat: 'csv', template: 'Sentiment ({{lang}}): {{text}}', keep: 'rid,lang' };
    const r = await runAgainst(box.emu, [f], opts);
    expect(r.exitCode).toBe(3);
    const { shards, failures } = readOutputs(out);
    const ok = shards.flatMap((s) => s.records) as SuccessRecord[];
    expect(ok.map((x) => [x.id, x.prompt, x.rid, x.lang]).sort()).toEqual([
      [`${f}:2`, 'Sentiment (en): Great, really "great" product', '1', 'en'],
      [`${f}:3`, 'Sentiment (en): Line one\nline two', '2', 'en'],
      [`${f}:7`, 'Sentiment (de): plain', '4', 'de'],
    ]);
    expect((failures as FailureRecord[]).map((x) => [x.line, x.error.status, x.error.message])).toEqual([
      [6, 'INVALID_INPUT', `line 6 of ${f} has 4 field(s), the header 3`],
      [8, 'INVALID_INPUT', `line 8 of ${f} opens a quoted field that is not closed by the end of the file`],
    ]);
    const again = await runAgainst(box.emu, [f], opts);
    // The two failures are still in the directory: exit 3 (issue 20), though nothing was asked.
    expect(again).toMatchObject({ exitCode: 3, skipped: 5, succeeded: 0, failed: 0, failedEarlier: 2 });
    expect(box.emu.stats.requests).toBe(3);
  });

  it('--prompt-field names the column; a missing column is a usage error naming it', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'q.csv');
    writeFileSync(f, 'question,topic\nWhat is DNS?,net\n"Why, though?",misc\n');
    const r = await runAgainst(box.emu, [f], { out: join(box.dir, 'o1'), inputFormat: 'csv', promptField: 'question' });
    expect(r.exitCode).toBe(0);
    expect(readOutputs(join(box.dir, 'o1')).all.map((x) => x.prompt).sort()).toEqual(['What is DNS?', 'Why, though?']);
    // A column the header lacks is a usage error before anything is sent (csv-fields.test.ts).
    await expect(runAgainst(box.emu, [f], { out: join(box.dir, 'o2'), inputFormat: 'csv', template: '{{topic}}: {{body}}' }))
      .rejects.toThrow(`\`--template\` uses {{body}}, which the CSV header of ${f} does not have (its columns: question, topic)`);
  });
});
