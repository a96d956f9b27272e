import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { formatEpilogue, HELP_EPILOGUES } from '../../src/observe/help-epilogues.js';

/** Flags the examples use that their command does not have yet: none (issue 23 wired them). */
const PENDING: Record<string, readonly string[]> = {};

/** A shell line's words (quotes kept together), split into commands at |, && and ;. */
function commands(line: string): string[][] {
  const words = line.match(/'[^']*'|"[^"]*"|\S+/g) ?? [];
  const out: string[][] = [[]];
  for (const w of words) {
    if (w === '|' || w === '&&' || w === ';') out.push([]);
    else out[out.length - 1].push(w);
  }
  return out.filter((c) => c.length > 0);
}

function optionsOf(cmd: Command): Set<string> {
  const s = new Set<string>();
  for (const o of cmd.options) {
    if (o.long) s.add(o.long);
    if (o.short) s.add(o.short);
  }
  return s;
}

describe('--help epilogues', () => {
  it('give every sub-command 3 to 5 examples and its exit codes', () => {
    for (const [topic, e] of Object.entries(HELP_EPILOGUES)) {
      expect(e.examples.length, topic).toBeGreaterThanOrEqual(3);
      expect(e.examples.length, topic).toBeLessThanOrEqual(5);
      expect(e.exitCodes.map(([c]) => c), topic).toContain(2);
      for (const x of e.examples) expect(x.says.length, x.command).toBeGreaterThan(10);
    }
    const text = formatEpilogue(HELP_EPILOGUES.verify);
    expect(text).toMatch(/^\nExamples:\n {2}\$ gempipe verify -o out\n {6}every file whole/);
    expect(text).toMatch(/\nExit codes:\n {2}0 {3}the directory is whole/);
  });

  it('use only flags their command has', () => {
    const program = buildProgram();
    const sub = (name: string) => program.commands.find((c) => c.name() === name);
    let checked = 0;
    for (const e of Object.values(HELP_EPILOGUES)) {
      for (const x of e.examples) {
        for (const words of commands(x.command)) {
          const i = words.findIndex((w) => w === 'gempipe');
          if (i < 0) continue; // cat, head
          const args = words.slice(i + 1);
          let cmd: Command = program;
          let name = '';
          const first = args[0] && !args[0].startsWith('-') ? sub(args[0]) : undefined;
          if (first) {
            name = args[0];
            cmd = first;
            const second = first.commands.find((c) => c.name() === args[1]);
            if (second) cmd = second;
          }
          const known = optionsOf(cmd);
          for (const a of args) {
            if (!a.startsWith('-') || a === '-') continue;
            const flag = a.split('=')[0];
            expect(known.has(flag) || (PENDING[name] ?? []).includes(flag), `${x.command}: ${flag} is not a flag of \`gempipe${name ? ` ${name}` : ''}\``).toBe(true);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('end every command\'s --help, sub-commands of batches and cache included', () => {
    const program = buildProgram();
    const helpOf = (c: Command) => {
      let text = '';
      c.configureOutput({ writeOut: (t) => (text += t) });
      c.outputHelp();
      return text;
    };
    const sub = (name: string) => program.commands.find((c) => c.name() === name)!;
    expect(helpOf(program)).toContain(formatEpilogue(HELP_EPILOGUES.run));
    for (const topic of ['verify', 'coordinator', 'worker', 'batches', 'merge', 'cache', 'emulator', 'report'] as const) {
      const text = helpOf(sub(topic));
      expect(text, topic).toContain(formatEpilogue(HELP_EPILOGUES[topic]));
      expect(text, `${topic}: the run's own examples are not repeated`).not.toContain(HELP_EPILOGUES.run.examples[0].command);
    }
    expect(helpOf(sub('cache').commands.find((c) => c.name() === 'prune')!)).toContain(formatEpilogue(HELP_EPILOGUES.cache));
    expect(helpOf(sub('batches').commands.find((c) => c.name() === 'list')!)).toContain(formatEpilogue(HELP_EPILOGUES.batches));
  });
});
