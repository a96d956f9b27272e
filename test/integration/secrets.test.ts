// The API key reaches no file and no line (issue 21, item 6): a server or proxy that echoes the
// key in an error message must not put it into failures.jsonl, the shards, the summary or stderr.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { CLI_KEY, env, start } from '../helpers/cli-helpers.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();

describe('the API key', () => {
  it('echoed by the server in an error, is cut out of the failure record, the summary JSON and stderr', async () => {
    box.emu = await startEmulator({});
    const f = join(box.dir, 'in.txt');
    writeFileSync(f, 'fine one\nthis one is echoed [[emu:echokey]]\nfine two\n');
    const out = join(box.dir, 'out');
    const summary = join(box.dir, 'summary.json');
    const run = start(['-o', out, '--summary-json', summary, f], { env: env(box.emu.url) });
    expect(await run.exited).toBe(3);
    const { failures } = readOutputs(out);
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures[0])).toMatch(/Bad request with key \*\*\*: the request could not be parsed/);
    const files = [...readdirSync(out).map((n) => join(out, n)), summary];
    for (const file of files) {
      try {
        expect(readFileSync(file, 'utf8'), file).not.toContain(CLI_KEY);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
      }
    }
    expect(run.stderr()).not.toContain(CLI_KEY);
  });
});
