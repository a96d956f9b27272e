// The README's options table and the CLI's flags cannot drift apart: every flag commander knows
// is in the table (with the same default where it has one), and every flag in the table exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const table = readme.slice(readme.indexOf('### Options'), readme.indexOf('Emulator (`node dist/main.js emulator`)'));
const rows = table.split('\n').filter((l) => l.startsWith('| `')).map((l) => {
  const cells = l.replace(/\\\|/g, '¦').split(' | ');
  return { flags: [...cells[0].matchAll(/--[a-z][a-z0-9-]*/g)].map((f) => f[0]), defaultText: cells[1].trim().replace(/`/g, '') };
});

describe('the README options table', () => {
  it('lists every flag of the CLI, and no flag the CLI does not have', () => {
    const cli = [...buildProgram().options.map((o) => o.long!).filter(Boolean), '--help']; // commander adds --help itself
    const documented = rows.flatMap((r) => r.flags);
    expect(documented.length).toBeGreaterThan(30);
    expect([...new Set(documented)].sort()).toEqual([...new Set(cli)].sort());
  });

  it('gives each flag the default the CLI applies', () => {
    for (const o of buildProgram().options) {
      if (o.defaultValue === undefined || o.long === '--version') continue;
      const row = rows.find((r) => r.flags.includes(o.long!));
      expect(row, o.long).toBeDefined();
      expect(row!.defaultText, o.long).toBe(String(o.defaultValue));
    }
  });
});
