// Bottleneck's Redis clustering (SPEC §12), made to survive Redis 7 and a lost connection.
//
// Redis 7 prefixes a Lua script's error reply with "ERR ", so Bottleneck 2.19.5's check
// `e.message === "SETTINGS_KEY_NOT_FOUND"` never matches once the settings key is gone (a
// FLUSHALL, a restart without persistence, an expired key, a deleted key): every call then fails
// with "ERR SETTINGS_KEY_NOT_FOUND" for good (measured here on Redis 7.0.15). patchRedisDatastore()
// gives each of gempipe's own clustered limiters a runScript with the same logic on the message
// without the prefix, which also lets the heartbeat rebuild the settings (2.19.5 skips that for
// heartbeats, so an idle process never restores them). Applied at run time, per instance (a host
// process's other Bottleneck clusters keep theirs), version-guarded with a loud warning when the
// version differs — not patch-package: a postinstall patch never reaches a project that installs
// gempipe as a library.

import Bottleneck from 'bottleneck';
import { requireOptional } from '../util/optional.js';

interface RedisDatastoreInternals {
  ready: Promise<unknown>;
  clientId: string;
  originalId: string;
  connection: { __scriptArgs__(name: string, id: string, args: unknown[], cb: (err: Error | null, replies: unknown) => void): unknown[]; __scriptFn__(name: string): (...a: unknown[]) => unknown };
  instance: { queued(): number; Events: { trigger(name: string, ...args: unknown[]): void } };
  prepareInitSettings(clear: boolean): unknown[];
  runScript(name: string, args: unknown[]): Promise<unknown>;
}

/** The Bottleneck version the runtime patches were written against. */
export const PATCHED_BOTTLENECK = '2.19.5';

/** The patches' guard: the version they were written for, or a loud warning (once). */
export function bottleneckGuard(what: string, warn: (line: string) => void = (l) => process.emitWarning(l), version = (Bottleneck as unknown as { version?: string }).version): boolean {
  if (version === PATCHED_BOTTLENECK) return true;
  if (!warned.has(what)) {
    warned.add(what);
    warn(`gempipe: Bottleneck ${version ?? '(unknown version)'} is not ${PATCHED_BOTTLENECK}: ${what} is not applied, so its bug fix is missing (see src/quota/bottleneck-*.ts); pin bottleneck@${PATCHED_BOTTLENECK}`);
  }
  return false;
}
const warned = new Set<string>();

/**
 * The fixed runScript, given to gempipe's own Redis datastores only (not Bottleneck's prototype:
 * a host process's other Bottleneck clusters keep theirs). Returns whether it was applied.
 */
export function patchRedisDatastore(limiter: Bottleneck): boolean {
  if (!bottleneckGuard('the Redis 7 settings-key patch')) return false;
  const store = (limiter as unknown as { _store?: RedisDatastoreInternals })._store;
  if (!store || typeof store.runScript !== 'function' || typeof store.prepareInitSettings !== 'function') return false;
  store.runScript = runScript;
  return true;
}

async function runScript(this: RedisDatastoreInternals, name: string, args: unknown[]): Promise<unknown> {
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
}

/** A Redis URL as it may be shown: without its user and password. */
export function redisShown(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/**
 * What gempipe's own keys ask of the ioredis client (the shared --rpd count). Structural: ioredis
 * is an optional package, and the library's declarations must compile without it.
 */
export interface RedisCounters {
  incrby(key: string, n: number): Promise<number>;
  decrby(key: string, n: number): Promise<number>;
  expire(key: string, seconds: number): Promise<number>;
}

/** One Redis connection (a client and a subscriber) for every clustered limiter of a run. */
export interface RedisLink {
  connection: Bottleneck.IORedisConnection;
  /** The plain client under it (for gempipe's own keys, e.g. the shared --rpd count). */
  client: RedisCounters;
  /** Called with true when the connection is lost, false when it is back. */
  onLost(fn: (lost: boolean, why?: string) => void): void;
  /** This machine's clock minus Redis's (ms, round trip halved), once connected. */
  skewMs(): Promise<number>;
  /**
   * Resolves once connected; rejects at once on an authentication or configuration error
   * (WRONGPASS, NOAUTH, a password the server has no use for, an unknown user), or when the
   * server cannot be reached for `withinMs` — a usage error at start, not a wait forever.
   */
  ready(withinMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function connectRedis(url: string): RedisLink {
  const IORedis = requireOptional<typeof import('ioredis').default>('ioredis');
  // Commands wait while the connection is down (no retry limit): sending pauses, nothing fails.
  const client = new IORedis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (n: number) => Math.min(100 * n, 2000) });
  const connection = new Bottleneck.IORedisConnection({ client });
  const listeners: Array<(lost: boolean, why?: string) => void> = [];
  let lost = false;
  let closing = false;
  let lastError: string | undefined;
  let refused: ((e: Error) => void) | undefined;
  client.on('error', (e: Error) => {
    lastError = (e as NodeJS.ErrnoException).code ?? e.message;
    if (refused && AUTH_ERROR.test(e.message)) refused(new Error(`Redis at ${redisShown(url)} refused the connection: ${e.message.replace(/\s+/g, ' ').slice(0, 200)}; check the password (and user) in --redis`));
  });
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
    ready(withinMs = 10_000) {
      if (client.status === 'ready') return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`cannot connect to Redis at ${redisShown(url)} within ${Math.round(withinMs / 1000)} s (${lastError ?? 'no answer'}); is it running, and is --redis right?`)), withinMs);
        const onReady = () => done();
        const done = (err?: Error) => {
          clearTimeout(timer);
          client.off('ready', onReady);
          refused = undefined;
          if (err) reject(err);
          else resolve();
        };
        refused = done;
        client.once('ready', onReady);
      });
    },
    async close() {
      closing = true;
      await connection.disconnect(false).catch(() => {});
    },
  };
}

/** What Redis says to a wrong password, a missing one, one it has no use for, an unknown user. */
const AUTH_ERROR = /WRONGPASS|NOAUTH|invalid password|invalid username|called without any password configured|AUTH failed|NOPERM/i;

/** The warning for a clock `ms` ahead of Redis's (negative: behind), or none within a second. */
export function skewWarning(ms: number): string | undefined {
  if (Math.abs(ms) <= 1000) return undefined;
  return `this machine's clock is ${(Math.abs(ms) / 1000).toFixed(1)} s ${ms > 0 ? 'ahead of' : 'behind'} the Redis server's: processes sharing the quota need clocks that agree (NTP), or the shared rate is distorted`;
}
