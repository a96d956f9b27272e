// Issue 21 item 4: one prompt that never gets an answer, the last one left, must not make the job
// unfinishable. A timeout on a connection that answers others is a DEADLINE_EXCEEDED failure
// record (exit 3, resumable with --retry-failed), not "the API cannot be reached" (exit 1).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, recordsOnDisk } from '../helpers/cli-helpers.js';
import { sandbox } from '../helpers/util.js';

const box = sandbox();

describe('a hanging last prompt', () => {
  it('ends as a DEADLINE_EXCEEDED failure record, exit 3, on the first run and on a --retry-failed rerun', () => {
    const input = join(box.dir, 'q.txt');
    const asked = Array.from({ length: 5 }, (_, i) => `Question ${i}?`);
    writeFileSync(input, [...asked, '[[emu:hang]] the one that never answers'].join('\n') + '\n');
    const out = join(box.dir, 'out');
    const args = ['--emulator', '-q', '--concurrency', '1', '--timeout', '1s', '--max-attempts', '2', '-o', out, input];
    for (const extra of [[], ['--retry-failed']]) {
      const r = cli(box.dir, [...args, ...extra]);
      expect(r.stderr).not.toMatch(/cannot be reached|check the network/);
      expect(r.status).toBe(3);
      const records = recordsOnDisk(out);
      expect(records).toHaveLength(6);
      expect(new Set(records.map((x) => x.id)).size).toBe(6);
      const failures = readFileSync(join(out, 'failures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ prompt: '[[emu:hang]] the one that never answers', attempts: 2, error: { status: 'DEADLINE_EXCEEDED' } });
    }
  });
});
