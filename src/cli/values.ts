// Raw flag values -> typed values, for every command's table (flags.ts): one validator per kind,
// each message naming the flag and the value (p-queue's ``Expected `x` to be …, got `…` ``), and
// applyFlags() that sets every given flag at its field, falling back to its environment variable.

import { UsageError } from '../errors.js';
import { parseMetricsAddress } from '../observe/metrics.js';
import { redisShown } from '../quota/bottleneck-redis.js';
import { parseDuration } from '../util/duration.js';
import { flagName, type Flag } from './flags.js';

/** Raw option values as the CLI parser hands them over: strings, booleans, or absent. */
export type RawOptions = Record<string, string | boolean | string[] | undefined>;

export function int(name: string, v: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const s = String(v).trim();
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`Expected \`--${name}\` to be an integer ${range}, got \`${String(v)}\``);
  }
  return n;
}

function num(name: string, v: unknown, min: number, max: number): number {
  const s = String(v).trim();
  const n = s === '' ? NaN : Number(s);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`Expected \`--${name}\` to be a number from ${min} to ${max}, got \`${String(v)}\``);
  }
  return n;
}

function oneOf(name: string, v: unknown, allowed: readonly string[]): string {
  if (!allowed.includes(String(v))) throw new UsageError(`Expected \`--${name}\` to be one of ${allowed.join(', ')}, got \`${String(v)}\``);
  return String(v);
}

function duration(name: string, v: unknown, min: number): number {
  const ms = parseDuration(String(v));
  if (ms === undefined || ms < min) throw new UsageError(`Expected \`--${name}\` to be a duration like 30m, 12h or 7d${min > 0 ? '' : ' (0s: none)'}, got \`${String(v)}\``);
  return ms;
}

/**
 * A time a flag takes in `unit` (ms or s): a bare number is in that unit (as before), or a number
 * with its own unit — `1500ms`, `5s`, `2m`, `1h` — so `--timeout 5s` means what it says.
 */
function timeIn(name: string, v: unknown, unit: 'ms' | 's', min: number, max: number): number {
  const s = String(v).trim();
  const per = unit === 'ms' ? 1 : 1000;
  const bare = /^\d+(?:\.\d+)?$/.test(s) ? Number(s) : undefined;
  const ms = bare !== undefined ? bare * per : parseDuration(s);
  const n = ms === undefined ? NaN : unit === 'ms' ? Math.round(ms) : ms / 1000;
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min} ${unit}` : `from ${min} to ${max} ${unit}`;
    throw new UsageError(`Expected \`--${name}\` to be a time like ${unit === 'ms' ? '1500ms, 5s or 2m (a bare number is milliseconds)' : '30s, 2m or 1h (a bare number is seconds)'}, ${range}, got \`${String(v)}\``);
  }
  return n;
}

function orEnv(name: string, env?: string): string {
  return env ? `\`--${name}\` (or ${env})` : `\`--${name}\``;
}

/** One flag's raw value, validated by its kind and range. */
function valueOf(f: Flag, v: unknown): unknown {
  const name = flagName(f);
  const s = String(v);
  switch (f.kind) {
    case 'int': return int(name, v, f.min ?? 0, f.max);
    case 'num': return num(name, v, f.min ?? -Infinity, f.max ?? Infinity);
    case 'choice': return oneOf(name, v, f.choices!);
    case 'text': return s;
    case 'switch': return v === true;
    case 'duration': return duration(name, v, f.min ?? 1);
    case 'ms': return timeIn(name, v, 'ms', f.min ?? 0, f.max ?? Number.MAX_SAFE_INTEGER);
    case 'seconds': return timeIn(name, v, 's', f.min ?? 0, f.max ?? Number.MAX_SAFE_INTEGER);
    case 'name':
      if (!/^[\w.-]{1,100}$/.test(s)) throw new UsageError(`Expected \`--${name}\` to be letters, digits, . _ or -, got \`${s}\``);
      return s;
    case 'redis':
      if (!/^rediss?:\/\/\S+$/.test(s)) throw new UsageError(`Expected ${orEnv(name, f.env)} to be a redis:// or rediss:// URL, got \`${redisShown(s)}\``);
      return s;
    case 'address':
      parseMetricsAddress(s); // HOST:PORT, [IPv6]:PORT, :PORT or PORT; the message names --metrics
      return s;
    case 'url': {
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(s).protocol);
      } catch {
        /* not a URL */
      }
      if (!ok) throw new UsageError(`Expected ${orEnv(name, f.env)} to be an http(s) URL, got \`${s}\``);
      return s;
    }
    default: throw new Error(`flag ${name} is handled in code`);
  }
}

/**
 * Sets every table flag at its field (a.b for nested objects), validated: as given, else from
 * its environment variable, else (`withDefaults`) its default. `special` flags are left to code.
 */
export function applyFlags(flags: readonly Flag[], raw: RawOptions, target: Record<string, unknown>, env: Record<string, string | undefined> = {}, withDefaults = false): void {
  for (const f of flags) {
    if (f.kind === 'special') continue;
    let v = raw[f.key];
    if ((v === undefined || v === false) && f.env && env[f.env]) v = env[f.env];
    if (v === undefined && withDefaults && f.default !== undefined) v = String(f.default);
    if (v === undefined && f.required) throw new UsageError(f.required);
    if (v === undefined || (v === false && f.kind !== 'switch')) continue;
    const path = (f.field ?? f.key).split('.');
    let at = target;
    for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]] = valueOf(f, v);
  }
}

/** A command's options from its table alone, defaults included. */
export function parseFlags<T>(flags: readonly Flag[], raw: RawOptions, env: Record<string, string | undefined> = {}): T {
  const o: Record<string, unknown> = {};
  applyFlags(flags, raw, o, env, true);
  return o as T;
}
