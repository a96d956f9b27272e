// Bottleneck's Redis clustering (SPEC §12), made to survive Redis 7 and a lost connection.
//
// Redis 7 prefixes a Lua script's error reply with "ERR ", so Bottleneck 2.19.5's check
// `e.message === "SETTINGS_KEY_NOT_FOUND"` never matches once the settings key is gone (a
// FLUSHALL, a restart without persistence, an expired key, a deleted key): every call then fails
// with "ERR SETTINGS_KEY_NOT_FOUND" for good (measured here on Redis 7.0.15). patchRedisDatastore()
// replaces RedisDatastore.prototype.runScript with the same logic on the message without the
// prefix, and lets the heartbeat rebuild the settings too (2.19.5 skips that for heartbeats, so an
// idle process never restores them). Applied at run time, version-guarded, rather than with
// patch-package: a postinstall patch does not reach a project that installs gempipe as a library
// (its own install runs no patches of ours), and this one is 20 lines next to its reason.

import { createRequire } from 'node:module';
import Bottleneck from 'bottleneck';

const require = createRequire(import.meta.url);

interface RedisDatastoreInternals {
  ready: Promise<unknown>;
  clientId: string;
  originalId: string;
  connection: { __scriptArgs__(name: string, id: string, args: unknown[], cb: (err: Error | null, replies: unknown) => void): unknown[]; __scriptFn__(name: string): (...a: unknown[]) => unknown };
  instance: { queued(): number; Events: { trigger(name: string, ...args: unknown[]): void } };
  prepareInitSettings(clear: boolean): unknown[];
  runScript(name: string, args: unknown[]): Promise<unknown>;
}

let patched = false;

export function patchRedisDatastore(): void {
  if (patched) return;
  patched = true;
  if ((Bottleneck as unknown as { version?: string }).version !== '2.19.5') return;
  const RedisDatastore = require('bottleneck/lib/RedisDatastore.js') as { prototype: RedisDatastoreInternals };
  RedisDatastore.prototype.runScript = async function runScript(this: RedisDatastoreInternals, name: string, args: unknown[]): Promise<unknown> {
    if (!(name === 'init' || name === 'register_client')) await this.ready;
    try {
      return await new Promise((resolve, reject) => {
        const all = [Date.now(), this.clientId, ...args];
        this.instance.Events.trigger('debug', `Calling Redis script: ${name}.lua`, all);
        const arr = this.connection.__scriptArgs__(name, this.originalId, all, (err, replies) => (err != null ? reject(err) : resolve(replies)));
        this.connection.__scriptFn__(name)(...arr);
      });
    } catch (e) {
      const message = String((e as Error)?.message ?? '').replace(/^ERR /, '');
      if (message === 'SETTINGS_KEY_NOT_FOUND') {
        await this.runScript('init', this.prepareInitSettings(false));
        return this.runScript(name, args);
      }
      if (message === 'UNKNOWN_CLIENT') {
        await this.runScript('register_client', [this.instance.queued()]);
        return this.runScript(name, args);
      }
      throw e;
    }
  };
}

/** A Redis URL as it may be shown: without its user and password. */
export function redisShown(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/** One Redis connection (a client and a subscriber) for every clustered limiter of a run. */
export interface RedisLink {
  connection: Bottleneck.IORedisConnection;
  /** The plain client under it (for gempipe's own keys, e.g. the shared --rpd count). */
  client: import('ioredis').default;
  /** Called with true when the connection is lost, false when it is back. */
  onLost(fn: (lost: boolean, why?: string) => void): void;
  /** This machine's clock minus Redis's (ms, round trip halved), once connected. */
  skewMs(): Promise<number>;
  close(): Promise<void>;
}

export function connectRedis(url: string): RedisLink {
  patchRedisDatastore();
  const IORedis = require('ioredis') as typeof import('ioredis').default;
  // Commands wait while the connection is down (no retry limit): sending pauses, nothing fails.
  const client = new IORedis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (n: number) => Math.min(100 * n, 2000) });
  const connection = new Bottleneck.IORedisConnection({ client });
  const listeners: Array<(lost: boolean, why?: string) => void> = [];
  let lost = false;
  let closing = false;
  let lastError: string | undefined;
  client.on('error', (e: Error) => (lastError = (e as NodeJS.ErrnoException).code ?? e.message));
  client.on('close', () => {
    if (lost || closing) return;
    lost = true;
    for (const l of listeners) l(true, lastError);
  });
  client.on('ready', () => {
    if (!lost) return;
    lost = false;
    for (const l of listeners) l(false);
  });
  connection.on('error', () => {}); // reported through onLost
  return {
    connection,
    client,
    onLost: (fn) => void listeners.push(fn),
    async skewMs() {
      const before = Date.now();
      const [sec, usec] = (await client.time()) as unknown as [string, string];
      const after = Date.now();
      return (before + after) / 2 - (Number(sec) * 1000 + Number(usec) / 1000);
    },
    async close() {
      closing = true;
      await connection.disconnect(false).catch(() => {});
    },
  };
}

/** The warning for a clock `ms` ahead of Redis's (negative: behind), or none within a second. */
export function skewWarning(ms: number): string | undefined {
  if (Math.abs(ms) <= 1000) return undefined;
  return `this machine's clock is ${(Math.abs(ms) / 1000).toFixed(1)} s ${ms > 0 ? 'ahead of' : 'behind'} the Redis server's: processes sharing the quota need clocks that agree (NTP), or the shared rate is distorted`;
}
