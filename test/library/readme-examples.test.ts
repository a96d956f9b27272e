// The README's library examples (```js library-example blocks) run as written: against the
// built package in this repo, and from a fresh npm project that installs the `npm pack`ed
// tarball. The docs cannot drift from the code.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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

/**
 * Every example as a TypeScript module under `tsc --strict` (skipLibCheck off: gempipe's own
 * declarations are checked too), `gempipe` resolved from `cwd`'s node_modules as a user's would be.
 */
function compileStrict(cwd: string) {
  const names = examples.map((code, i) => {
    writeFileSync(join(cwd, `example-${i + 1}.mts`), code);
    return `example-${i + 1}.mts`;
  });
  writeFileSync(join(cwd, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'] },
    files: names,
  }));
  return spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', cwd], { cwd, encoding: 'utf8', timeout: 120_000 });
}

/** Example 3 (to stdout) with its stdout a pipe closed after the first line, as `| head -n 1` does. */
async function intoClosedPipe(code: string, cwd: string): Promise<{ status: number | null; stderr: string; first: string }> {
  const file = join(cwd, 'example-pipe.mjs');
  writeFileSync(file, code);
  const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, GEMINI_API_KEY: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const first = await new Promise<string>((res) => child.stdout!.once('data', (d: Buffer) => {
    child.stdout!.destroy();
    res(d.toString().split('\n')[0]);
  }));
  const status = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { status, stderr, first };
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

  it('compile under `tsc --strict` against the built package', () => {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules/gempipe'));
    const r = compileStrict(dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('end quietly when their stdout is a closed pipe (`| head -n 1`): exit 0, no stack trace', async () => {
    const index = pathToFileURL(join(ROOT, 'dist/index.js')).href;
    const r = await intoClosedPipe(examples[2].replaceAll("from 'gempipe'", `from '${index}'`), dir);
    expect(JSON.parse(r.first)).toHaveProperty('words');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
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
    const strict = compileStrict(app);
    expect(strict.stdout + strict.stderr).toBe('');
    expect(strict.status).toBe(0);
    // Optional features' packages are not installed with gempipe; using one says what to install.
    for (const pkg of ['ioredis', 'bullmq', 'lmdb']) expect(existsSync(join(app, 'node_modules', pkg)), pkg).toBe(false);
    const bin = join(app, 'node_modules/.bin/gempipe');
    writeFileSync(join(app, 'q.txt'), 'What is two times 3?\n');
    writeFileSync(join(app, 'c.lmdb'), ''); // a cache file as another machine left it
    const use = (args: string[]) => spawnSync(bin, args, { cwd: app, encoding: 'utf8', timeout: 60_000, env: { ...process.env, GEMINI_API_KEY: '' } });
    const cases: Array<[string[], RegExp]> = [
      [['--emulator', '--temperature', '0', '--cache', 'c.lmdb', '-o', 'o1', 'q.txt'], /`--cache` and `gempipe cache` need the package lmdb, which is not installed with gempipe .*`npm install lmdb@\^3\.\d+\.\d+`/],
      [['cache', 'stats', 'c.lmdb'], /need the package lmdb/],
      [['--emulator', '--redis', 'redis://127.0.0.1:1', '-o', 'o2', 'q.txt'], /`--redis`, `gempipe coordinator` and `gempipe worker` need the package ioredis.*`npm install ioredis@\^5/],
      [['worker', '--emulator', '--redis', 'redis://127.0.0.1:1'], /need the package (bullmq|ioredis)/],
    ];
    for (const [args, message] of cases) {
      const r = use(args);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.status, args.join(' ')).toBe(2);
      expect(existsSync(join(app, 'o1')) || existsSync(join(app, 'o2'))).toBe(false); // nothing made
    }
    expect(use(['--emulator', '-q', '-o', 'o3', 'q.txt']).status).toBe(0); // the rest runs without them
  }, 240_000);
});
