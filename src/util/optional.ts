// The packages of optional features — Redis (ioredis: --redis, coordinator, worker), BullMQ
// (coordinator, worker) and LMDB (--cache, `gempipe cache`) — are optional peer dependencies,
// not installed with gempipe (they were 37 of its 86 MB). Each is loaded where it is used; one
// that is missing is a usage error naming the feature and the command that installs it.

import { createRequire } from 'node:module';
import { UsageError } from '../errors.js';

const require = createRequire(import.meta.url);

/** package.json's optional peers and their ranges: dist/util/ and src/util/ sit two levels below it. */
const RANGES = (require('../../package.json') as { peerDependencies?: Record<string, string> }).peerDependencies ?? {};

export type OptionalPackage = 'ioredis' | 'bullmq' | 'lmdb';

/** What each is needed for, in the words of the flags and commands. */
const FEATURES: Record<OptionalPackage, string> = {
  ioredis: '`--redis`, `gempipe coordinator` and `gempipe worker`',
  bullmq: '`gempipe coordinator` and `gempipe worker`',
  lmdb: '`--cache` and `gempipe cache`',
};

function missing(name: OptionalPackage): UsageError {
  const spec = `${name}@${RANGES[name] ?? 'latest'}`;
  return new UsageError(`${FEATURES[name]} need the package ${name}, which is not installed with gempipe (an optional dependency): \`npm install ${spec}\` beside it (\`npm install -g ${spec}\` for a global gempipe)`);
}

const isNotFound = (e: unknown) => ['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND'].includes((e as NodeJS.ErrnoException).code ?? '');

/** Throws the usage error when `name` cannot be found (resolves only: nothing is loaded). */
export function needPackage(name: OptionalPackage): void {
  try {
    require.resolve(name);
  } catch (e) {
    if (isNotFound(e)) throw missing(name);
  }
}

/** `require(name)`, or the usage error when it is not installed. */
export function requireOptional<T>(name: OptionalPackage): T {
  needPackage(name);
  return require(name) as T;
}

/** `import(name)`, or the usage error when it is not installed. */
export async function importOptional<T>(name: OptionalPackage): Promise<T> {
  needPackage(name);
  return (await import(name)) as T;
}
