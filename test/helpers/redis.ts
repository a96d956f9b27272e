// A real redis-server for the tests (Debian's package; .ci/run installs it when missing): on
// 127.0.0.1, a free port, no persistence; stopped after. Undefined where there is no redis-server.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops it and starts a new, empty one on the same port (a restart without persistence). */
  restart(): Promise<void>;
  /** redis-cli against it. */
  cli(...args: string[]): string;
}

export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

function launch(port: number, extra: string[] = []): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) res(p);
    });
    p.on('exit', (c) => rej(new Error(`redis-server exited ${c}: ${out.slice(-500)}`)));
  });
}

/** `extra`: more redis-server arguments, e.g. ['--requirepass', 'secret']. */
export async function startRedis(extra: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  let proc = await launch(port, extra);
  const stop = async () => {
    if (proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      proc = await launch(port, extra);
    },
    cli: (...args) => spawnSync('redis-cli', ['-p', String(port), ...(extra.includes('--requirepass') ? ['-a', extra[extra.indexOf('--requirepass') + 1], '--no-auth-warning'] : []), ...args], { encoding: 'utf8' }).stdout.trim(),
  };
}

/**
 * A test file's redis-server: started before its tests, stopped after; `available` false (and
 * said once) where there is no redis-server, for `describe.runIf`.
 */
export function useRedis(what: string, extra: string[] = []): { available: boolean; readonly server: TestRedis } {
  const available = hasRedis();
  if (!available) console.warn(`${what} skipped: no redis-server here (.ci/run installs it)`);
  let server: TestRedis | undefined;
  beforeAll(async () => {
    if (available) server = await startRedis(extra);
  });
  afterAll(async () => server?.stop());
  return {
    available,
    get server(): TestRedis {
      if (!server) throw new Error('useRedis: no redis-server started');
      return server;
    },
  };
}
