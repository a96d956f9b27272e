// The README's library examples (```js library-example blocks) run as written: against the
// built package in this repo, and from a fresh npm project that installs the `npm pack`ed
// tarball. The docs cannot drift from the code.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/util.js';

const ROOT = resolve(__dirname, '../..');
const examples = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```js library-example\n([\s\S]*?)```/g)].map((m) => m[1]);

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('gempipe-readme-')));
afterEach(() => cleanup());

function runExample(code: string, cwd: string) {
  const file = join(cwd, `example-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code);
  return spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, GEMINI_API_KEY: '' } });
}

function expectOutputs(results: Array<ReturnType<typeof runExample>>) {
  for (const r of results) expect(r.stderr, r.stderr).not.toMatch(/Error/);
  expect(results[0].status).toBe(0);
  expect(results[0].stdout.trim()).toBe('2 answers, exit code 0');
  // The verify example: the directory passes, and the record's hash is the hasher's.
  expect(results[1].status).toBe(0);
  expect(results[1].stdout.trim()).toBe('true []\ntrue');
  expect(results[2].status).toBe(0);
  const recs = results[2].stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; words: number; response: string; prompt?: string });
  expect(recs.map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  for (const r of recs) {
    expect(r.words).toBe(r.response.split(' ').length);
    expect(r.prompt).toBeUndefined();
  }
}

describe('the README library examples', () => {
  it('there are examples to run', () => {
    expect(examples.length).toBe(3);
  });

  it('run as written against the built package', () => {
    const index = pathToFileURL(join(ROOT, 'dist/index.js')).href;
    expectOutputs(examples.map((code) => runExample(code.replaceAll("from 'gempipe'", `from '${index}'`), dir)));
  });

  it('run in a fresh npm project that installs the packed package', () => {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = readdirSync(dir).find((n) => n.endsWith('.tgz'))!;
    const app = join(dir, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // From the npm cache that `npm ci` filled: the same versions, no new downloads needed.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', join(dir, tgz)], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000 });
    expectOutputs(examples.map((code) => runExample(code, app)));
  }, 240_000);
});
