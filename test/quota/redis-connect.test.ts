// Connecting to --redis fails fast and says why (issue 21): a wrong password, a missing one or an
// unreachable server is a usage error at start (exit 2, nothing sent) — not "lost Redis … no
// request is sent until it is back" forever. Against a real redis-server with requirepass.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { connectRedis } from '../../src/quota/bottleneck-redis.js';
import { env, start } from '../helpers/cli-helpers.js';
import { useRedis } from '../helpers/redis.js';
import { readOutputs, sandbox } from '../helpers/util.js';

const box = sandbox();
const redis = useRedis('--redis connect tests', ['--requirepass', 's3cret']);

describe.runIf(redis.available)('connecting to --redis', () => {
  const input = () => {
    const f = join(box.dir, 'in.txt');
    writeFileSync(f, Array.from({ length: 20 }, (_, i) => `question ${i + 1}`).join('\n') + '\n');
    return f;
  };

  it('a wrong password is exit 2 at once, naming the fix, with no request sent and the password not shown', async () => {
    box.emu = await startEmulator({});
    const url = redis.server.url.replace('redis://', 'redis://:WRONG-pw@');
    const run = start(['-o', join(box.dir, 'out'), '--rpm', '600', '--redis', url, input()], { env: env(box.emu.url) });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(/refused the connection: WRONGPASS.*check the password \(and user\) in --redis/);
    expect(run.stderr()).not.toMatch(/WRONG-pw/);
    expect(box.emu.stats.requests).toBe(0);
  });

  it('no password where one is required (NOAUTH) is exit 2 too; the right one runs the job', async () => {
    box.emu = await startEmulator({});
    const bare = start(['-o', join(box.dir, 'out'), '--redis', redis.server.url, input()], { env: env(box.emu.url) });
    expect(await bare.exited).toBe(2);
    expect(bare.stderr()).toMatch(/NOAUTH/);
    const good = start(['-o', join(box.dir, 'out'), '--rpm', '6000', '--redis', redis.server.url.replace('redis://', 'redis://:s3cret@'), input()], { env: env(box.emu.url) });
    expect(await good.exited, good.stderr()).toBe(0);
    expect(readOutputs(join(box.dir, 'out')).all).toHaveLength(20);
  });

  it('a server that is not there: ready() gives up after its wait, naming the address', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const link = connectRedis(`redis://:pw@127.0.0.1:${port}`);
    try {
      await expect(link.ready(300)).rejects.toThrow(new RegExp(`cannot connect to Redis at redis://127\\.0\\.0\\.1:${port} within 0 s \\(ECONNREFUSED\\)`));
    } finally {
      await link.close();
    }
  });
});
