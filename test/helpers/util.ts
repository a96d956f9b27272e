// Test helpers: deferred promises (p-defer style), temp dirs, input files, output readers,
// and in-memory stdio for run().

import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import type { OutputRecord } from '../../src/records.js';
import { SHARD_RE } from '../../src/output/layout.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function defer<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Resolves once `cond()` holds, checked every `everyMs`; rejects naming `what` if it does not hold
 * within `timeoutMs` (a hang then says what it waited for, instead of vitest's bare timeout).
 */
export function until(cond: () => boolean, o: { what?: string; timeoutMs?: number; everyMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  return new Promise((res, rej) => {
    const check = () => {
      if (cond()) return res();
      if (Date.now() > deadline) return rej(new Error(`gave up waiting, after ${o.timeoutMs ?? 30_000} ms, for ${o.what ?? 'a condition'}`));
      setTimeout(check, o.everyMs ?? 5);
    };
    check();
  });
}

/** Lets pending promise callbacks and stream ticks run (no timers involved). */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export function tempDir(prefix = 'gempipe-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `files` input files of `lines` prompts each; returns their paths. */
export function writeInputs(dir: string, files: number, lines: number, prompt = (f: number, l: number) => `Prompt ${f}-${l}: what is two times ${f * 1000 + l}?`): string[] {
  const paths: string[] = [];
  for (let f = 0; f < files; f++) {
    const p = join(dir, `in-${String(f).padStart(3, '0')}.txt`);
    let text = '';
    for (let l = 1; l <= lines; l++) text += prompt(f, l) + '\n';
    writeFileSync(p, text);
    paths.push(p);
  }
  return paths;
}

export function readJsonl(path: string): OutputRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${path} does not end with a newline`);
  return text.slice(0, -1).split('\n').map((l, i) => {
    try {
      return JSON.parse(l) as OutputRecord;
    } catch {
      throw new Error(`${path} line ${i + 1} is not valid JSON: ${l.slice(0, 100)}`);
    }
  });
}

/** Every record in an output directory: shards (in order) and failures. */
export function readOutputs(dir: string): { shards: Array<{ name: string; records: OutputRecord[] }>; failures: OutputRecord[]; all: OutputRecord[] } {
  const names = readdirSync(dir).filter((n) => SHARD_RE.test(n)).sort();
  const shards = names.map((name) => ({ name, records: readJsonl(join(dir, name)) }));
  const failures = readJsonl(join(dir, 'failures.jsonl'));
  return { shards, failures, all: [...shards.flatMap((s) => s.records), ...failures] };
}

export class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** stdio for run(): a stdin that is a TTY by default (so no input means ./inputs). */
export function stdio(stdinText?: string) {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (stdinText === undefined) stdin.isTTY = true;
  else stdin.end(stdinText);
  return { stdin, stdout: new Capture(), stderr: new Capture() };
}

/** Every input record exactly once across an output directory's shards and failures. */
export function expectExactlyOnce(out: string, n: number): void {
  const all = readOutputs(out).all;
  if (all.length !== n) throw new Error(`${out} holds ${all.length} records, expected ${n}`);
  const unique = new Set(all.map((r) => r.id)).size;
  if (unique !== n) throw new Error(`${out} holds ${n - unique} duplicate id(s)`);
}

/** Open file descriptors of this process that point under `root` (/proc/self/fd). */
export function openUnder(root: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/**
 * A test file's sandbox: a fresh temp dir per test (`box.dir`) and the emulator the test
 * starts (`box.emu = await startEmulator(...)`), closed and removed after each test.
 */
export function sandbox() {
  let dir: string | undefined;
  let cleanup: (() => void) | undefined;
  let emu: Emulator | undefined;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
    cleanup?.();
  });
  return {
    get dir(): string {
      if (dir === undefined) throw new Error('sandbox: no test is running');
      return dir;
    },
    get emu(): Emulator {
      if (!emu) throw new Error('sandbox: this test started no emulator');
      return emu;
    },
    set emu(e: Emulator) {
      emu = e;
    },
  };
}
